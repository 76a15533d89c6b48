"""Jobs: `daily_job` (extracts, their GE checks, the dbt models and tests tagged daily, then the alert delivery, also
tagged daily), `monthly_job` (the dbt models tagged monthly: cohorts, monthly revenue), `alert_delivery_job` (the
delivery alone: held messages after quiet hours, or a re-send after a failure) and `board_pack_job` (the weekly board
pack by email). Freshness checks are not part of the jobs: a sensor evaluates them.

Every run executes its steps one after another in the run's own process (`in_process_executor`), whoever launches it
(the daemon's schedules and backfills, the UI, the CLI). Dagster's default would start a process per step, and each
such process loads the code location again (the dbt manifest, the definitions: about 4 s here) before its step
runs: about 15 s of a daily run's 40 s went to that. The run is still isolated from the daemon and the webserver in
its own run worker process."""

from datetime import date
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetSelection,
    Config,
    Definitions,
    Failure,
    OpExecutionContext,
    define_asset_job,
    in_process_executor,
    job,
    op,
)

from orchestration.assets.dbt import DAILY, MONTHLY
from orchestration.assets.delivery import DELIVERY_KEY
from orchestration.assets.extract import RAW_KEYS
from orchestration.resources import DeliveryResource, WarehouseResource

DAILY_JOB = "daily_job"
MONTHLY_JOB = "monthly_job"
DELIVERY_JOB = "alert_delivery_job"
BOARD_PACK_JOB = "board_pack_job"
PIPELINE_TAG = "execmetrics/pipeline"  # dagster.yaml limits runs with this tag to one at a time


def _without(selection: AssetSelection, freshness: list[AssetCheckKey]) -> AssetSelection:
    return selection - AssetSelection.checks(*freshness) if freshness else selection


def daily_job_selection(freshness: list[AssetCheckKey]) -> AssetSelection:
    """The extracts and every asset tagged daily: the dbt models (the grain tag set per folder in dbt_project.yml)
    and the alert delivery; without the freshness checks (a sensor evaluates those)."""
    return _without(AssetSelection.assets(*RAW_KEYS) | AssetSelection.tag(DAILY, ""), freshness)


def monthly_job_selection(freshness: list[AssetCheckKey]) -> AssetSelection:
    """Every dbt asset tagged monthly."""
    return _without(AssetSelection.tag(MONTHLY, ""), freshness)


def build_jobs(freshness: list[AssetCheckKey], has_monthly: bool) -> list:
    jobs: list[Any] = [
        define_asset_job(
            DAILY_JOB,
            selection=daily_job_selection(freshness),
            description="Extract app + Stripe for the day(s), GE checks on the raw rows, then the daily dbt models.",
            tags={PIPELINE_TAG: "daily"},
        )
    ]
    if has_monthly:
        jobs.append(
            define_asset_job(
                MONTHLY_JOB,
                selection=monthly_job_selection(freshness),
                description="The monthly dbt models (cohorts, monthly revenue) for the month(s).",
                tags={PIPELINE_TAG: "monthly"},
            )
        )
    jobs.append(delivery_job())
    jobs.append(board_pack_job)
    return jobs


def delivery_job():  # -> UnresolvedAssetJobDefinition
    """The delivery alone: held messages once quiet hours end (held_alerts_sensor), a re-send after a failure."""
    return define_asset_job(
        DELIVERY_JOB,
        selection=AssetSelection.assets(DELIVERY_KEY),
        description="Send the alerts of the day(s) not sent yet (held in quiet hours, or failed before).",
    )


class BoardPackConfig(Config):  # type: ignore[misc]
    week_ending: str | None = None  # YYYY-MM-DD, a Sunday; default: the last complete week


@op(tags={"execmetrics/stage": "delivery"})
def send_weekly_board_pack(
    context: OpExecutionContext, config: BoardPackConfig, warehouse: WarehouseResource, delivery: DeliveryResource
) -> None:
    """Export the board pack for the week as `execmetrics export` does (the reporting layer, as the reader role,
    audited; the PDF when Chromium is there, else the HTML) and email it to the channels file's board_pack list."""
    from datetime import UTC, datetime

    from dashboards.delivery.board_pack import email_board_pack, last_full_week
    from dashboards.export import run_export

    channels_file = delivery.channels()
    if channels_file.board_pack is None:
        raise Failure(description=f"no board_pack recipients in {delivery.alerts_config}: nothing to send")
    week_end = date.fromisoformat(config.week_ending) if config.week_ending else None
    week_end = week_end or last_full_week(datetime.now(UTC), delivery.reporting_timezone)[1]
    wh = warehouse.get(delivery)  # its settings: the warehouse's and delivery's fields (currency, timezone, output)
    settings = wh.settings
    out_dir = settings.output_dir / "board_pack" / week_end.isoformat()
    export = run_export(settings, None, week_end, channels_file.board_pack.tenant, out_dir, None)
    if export.pdf_skipped:
        context.log.warning(f"PDF {export.pdf_skipped}")
    sent = email_board_pack(
        wh.as_role("reader"),
        channels_file,
        export,
        week_end=week_end,
        run_id=context.run.run_id,
        log=context.log.info,
    )
    if not sent.outcome.ok:
        raise Failure(
            description=f"board pack for the week ending {week_end} not sent: {sent.outcome.detail}",
            metadata={"attempts": sent.outcome.attempts, "attachment": str(sent.attachment)},
        )
    if sent.outcome.audit_error:
        raise Failure(description=f"board pack sent, but not in the audit log: {sent.outcome.audit_error}")
    sent_to = f"{len(sent.recipients)} recipient(s)"
    context.log.info(f"board pack {sent.week_start}..{sent.week_end} sent to {sent_to} as {sent.attachment.name}")


@job(name=BOARD_PACK_JOB, description="Render the board pack for the last complete week and email it.")
def board_pack_job() -> None:
    send_weekly_board_pack()


def jobs_definitions(freshness: list[AssetCheckKey], has_monthly: bool) -> Definitions:
    """The jobs, and the executor of every run of the code location (these jobs, and an asset materialized from the
    UI): in process."""
    return Definitions(jobs=build_jobs(freshness, has_monthly), executor=in_process_executor)
