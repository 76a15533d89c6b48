"""Run the pipeline in-process through the Dagster definitions (the same assets the UI and the schedules run).

`run_pipeline(settings, start, end)` runs the daily job once over the whole partition range start..end (one run: the
extract assets and the daily dbt models take the window at once, BackfillPolicy.single_run()), then the monthly job
once over the months touching that range. Both runs are recorded in DAGSTER_HOME, so the UI shows them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast

from extract.settings import Settings
from orchestration.partitions import day_keys, month_keys

Progress = Callable[[str], None]
# Called as a run starts with (job, first partition, last partition); returns a listener for that run's events.
RunWatcher = Callable[[str, str, str], Callable[[Any], None]]


class PipelineError(RuntimeError):
    """A run of the pipeline failed (a step error or a failed blocking check); the message says which and why."""

    def __init__(self, message: str, run_id: str | None = None, failures: list[str] | None = None):
        super().__init__(message)
        self.run_id = run_id
        self.failures = failures or []


@dataclass
class CheckOutcome:
    passed: bool
    severity: str
    description: str | None
    metadata: dict[str, Any]


@dataclass
class RunSummary:
    job: str
    run_id: str
    partitions: tuple[str, str]
    duration_s: float
    success: bool


@dataclass
class PipelineResult:
    start: date
    end: date
    runs: list[RunSummary] = field(default_factory=list)
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)  # "raw/app_events" → metadata of its result
    checks: dict[str, CheckOutcome] = field(default_factory=dict)  # "raw/app_events:ge_errors" → outcome
    duration_s: float = 0.0

    @property
    def row_counts(self) -> dict[str, int]:
        counts = {}
        for key, metadata in self.assets.items():
            value = metadata.get("dagster/row_count", metadata.get("rows_loaded"))
            if isinstance(value, int):
                counts[key] = value
        return counts

    @property
    def failed_checks(self) -> dict[str, CheckOutcome]:
        return {key: outcome for key, outcome in self.checks.items() if not outcome.passed}

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs]


def _plain(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def _run_config(
    job_def: Any, full_refresh: bool, log_level: str | None = None, deliver_historical: bool = False
) -> dict[str, Any]:
    from orchestration.assets.delivery import DELIVERY_KEY

    config: dict[str, Any] = {}
    if log_level is not None:
        config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    ops = {}
    for node in job_def.graph.node_defs:
        if full_refresh and node.name in ("extract_app", "extract_stripe", "dbt_daily", "dbt_monthly"):
            ops[node.name] = {"config": {"full_refresh": True}}
        if deliver_historical and node.name == DELIVERY_KEY.to_python_identifier():
            ops[node.name] = {"config": {"deliver_historical": True}}
    return {**config, "ops": ops} if ops else config


def root_message(error: Any) -> str:
    """The innermost cause's message, without its class path (Dagster wraps a step's exception in its own)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    text = " ".join((error.message or "").split())
    name = getattr(error, "cls_name", None)
    if name and f"{name}: " in text[: len(name) + 200]:
        text = text[text.index(f"{name}: ") + len(name) + 2 :]
    return text or "(no error message)"


def _describe_failures(result: Any) -> list[str]:
    from dagster import DagsterEventType

    failures = []
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            data: Any = event.event_specific_data
            message = root_message(data.error) if data.error else "(no error message)"
            failures.append(f"step {event.step_key} failed: {message}")
    return failures


def execute_range(
    defs: Any,
    job_name: str,
    first: str,
    last: str,
    *,
    full_refresh: bool = False,
    instance: Any,
    result: PipelineResult | None = None,
    tags: Mapping[str, str] | None = None,
    asset_selection: list[Any] | None = None,
    log_level: str | None = None,
    watch: RunWatcher | None = None,
    deliver_historical: bool = False,
) -> Any:
    """One in-process run of `job_name` of the definitions `defs` over the partition range first..last on `instance`;
    returns Dagster's result."""
    from dagster import DagsterEventType
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
    from dagster._core.utils import make_new_run_id

    from orchestration.ui import plan_ranges_in_one_event

    job_def = defs.resolve_job_def(job_name)
    plan_ranges_in_one_event()  # also for an instance handed in (the demo's in-memory one)
    run_tags = {"execmetrics/launched_by": "pipeline", **(tags or {})}
    partition_key = None
    if first == last:
        partition_key = first
    else:
        run_tags.update({ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last})
    run_id = make_new_run_id()
    if watch is not None:
        instance.add_event_listener(run_id, watch(job_name, first, last))
    began = time.monotonic()
    outcome = job_def.execute_in_process(
        run_config=_run_config(job_def, full_refresh, log_level, deliver_historical),
        instance=instance,
        partition_key=partition_key,
        tags=run_tags,
        raise_on_error=False,
        asset_selection=asset_selection,
        run_id=run_id,
    )
    if result is not None:
        result.runs.append(
            RunSummary(job_name, outcome.run_id, (first, last), round(time.monotonic() - began, 3), outcome.success)
        )
        for event in outcome.all_events:
            if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                materialization = cast(Any, event.event_specific_data).materialization
                result.assets[materialization.asset_key.to_user_string()] = _plain(materialization.metadata)
            elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation: Any = event.event_specific_data
                key = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                result.checks[key] = CheckOutcome(
                    passed=bool(evaluation.passed),
                    severity=str(getattr(evaluation.severity, "value", evaluation.severity)),
                    description=evaluation.description,
                    metadata=_plain(evaluation.metadata),
                )
    return outcome


def check_failure_line(key: str, description: str | None, metadata: Mapping[str, Any]) -> str:
    """How a failed check is told: `check raw/app_tenants:ge_errors failed: <description> <the failing rows>`."""
    return " ".join(f"check {key} failed: {description or ''} {metadata.get('failures', '')}".split())


def failed_blocking_checks(instance: Any, run_id: str) -> list[str]:
    """The lines of the run's failed blocking (ERROR) checks, from the instance's event log."""
    from dagster import DagsterEventType

    lines = []
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation: Any = entry.dagster_event.event_specific_data
        if evaluation.passed or str(getattr(evaluation.severity, "value", evaluation.severity)) != "ERROR":
            continue
        key = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        lines.append(check_failure_line(key, evaluation.description, _plain(evaluation.metadata)))
    return lines


def _raise_for(outcome: Any, job_name: str, first: str, last: str, result: PipelineResult) -> None:
    failures = _describe_failures(outcome)
    blocking = [
        check_failure_line(key, check.description, check.metadata)
        for key, check in result.failed_checks.items()
        if check.severity == "ERROR"
    ]
    if outcome.success and not blocking:
        return
    lines = failures + blocking
    raise PipelineError(
        f"{job_name} over {first}..{last} failed (run {outcome.run_id}): " + "; ".join(lines or ["unknown error"]),
        run_id=outcome.run_id,
        failures=lines,
    )


def run_pipeline(
    settings: Settings,
    start: date,
    end: date,
    *,
    full_refresh: bool = False,
    progress: Progress | None = None,
    instance: Any = None,
    include_monthly: bool = True,
    log_level: str | None = None,
    watch: RunWatcher | None = None,
    deliver_historical: bool = False,
) -> PipelineResult:
    """Extract app + Stripe, check them, build the daily dbt models over start..end and deliver their alerts (one
    run; alerts of old days only with deliver_historical), then the monthly models over the months touching it (one
    run; skipped with include_monthly=False), with the definitions built from `settings` (its sources, warehouse,
    channels file and partitions). Runs are recorded in the settings' DAGSTER_HOME unless an `instance` is handed in.
    Raises PipelineError with the reason on any failure."""
    from orchestration.definitions import build_definitions
    from orchestration.jobs import DAILY_JOB, MONTHLY_JOB
    from orchestration.partitions import daily_partitions
    from orchestration.ui import get_instance

    say = progress or (lambda message: None)
    began = time.monotonic()
    defs = build_definitions(settings)
    instance = instance or get_instance(settings)
    days = day_keys(start, end)
    available = daily_partitions(settings)
    first_available = available.get_first_partition_key()
    if first_available is None or days[0] < first_available:
        raise PipelineError(
            f"{days[0]} is before the first daily partition {first_available}; set PARTITIONS_START_DATE earlier"
        )
    last_available = available.get_last_partition_key()
    if last_available is None or days[-1] > last_available:
        raise PipelineError(f"{days[-1]} is after the last daily partition {last_available} (today)")
    result = PipelineResult(start, end)

    runs = [(DAILY_JOB, days, f"daily job: {len(days)} partition(s) {days[0]}..{days[-1]} in one run")]
    if include_monthly and any(job.name == MONTHLY_JOB for job in defs.resolve_all_job_defs()):
        months = month_keys(start, end)
        span = f"{months[0][:7]}..{months[-1][:7]}"
        runs.append((MONTHLY_JOB, months, f"monthly job: {len(months)} partition(s) {span} in one run"))
    for job, keys, announcement in runs:  # the monthly run only once the daily one succeeded
        say(announcement)
        outcome = execute_range(
            defs,
            job,
            keys[0],
            keys[-1],
            full_refresh=full_refresh,
            instance=instance,
            result=result,
            log_level=log_level,
            watch=watch,
            deliver_historical=deliver_historical,
        )
        _raise_for(outcome, job, keys[0], keys[-1], result)
    result.duration_s = round(time.monotonic() - began, 3)
    say(f"pipeline done in {result.duration_s:.1f}s ({len(result.runs)} runs)")
    return result


def check_sources(settings: Settings) -> None:
    """Fail before any run when the pipeline has no app or Stripe source, or a source cannot be read."""
    from extract.stripe.dump import dump_files

    hint = "(in the environment or .env; `make demo` sets up the demo's)"
    if not (settings.app_database_url or settings.app_source_dir):
        raise PipelineError(
            f"no app source configured: set APP_DATABASE_URL (a SQLAlchemy URL) or APP_SOURCE_DIR {hint}"
        )
    if not settings.app_database_url and settings.app_source_dir and not settings.app_source_dir.is_dir():
        raise PipelineError(f"APP_SOURCE_DIR {settings.app_source_dir} is not a folder")
    if settings.stripe_api_key is None:
        if settings.stripe_dump_dir is None:
            raise PipelineError(f"no Stripe source configured: set STRIPE_API_KEY (live API) or STRIPE_DUMP_DIR {hint}")
        dump_files(settings.stripe_dump_dir)  # DumpError: missing folder, unknown or no files


def run_backfill(
    settings: Settings,
    first: date,
    last: date,
    *,
    chunk_days: int,
    full_refresh: bool,
    deliver_historical: bool = False,
) -> tuple[float, Path | None]:
    """Backfill the daily partitions first..last (and their months) in runs of `chunk_days` days (0: one run),
    showing steps and progress on the terminal (Dagster's and dbt's logs go to a file); written to the audit log.
    Alerts of old days are sent only with `deliver_historical`. Returns the seconds it took and the log file."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from extract import audit
    from extract.warehouse import Warehouse, start_warehouse
    from orchestration.partitions import chunk_days as split
    from orchestration.partitions import partitions_start, reporting_timezone
    from orchestration.terminal import dagster_log_level, quiet_command

    if first < partitions_start(settings):
        raise PipelineError(
            f"{first} is before the first daily partition {partitions_start(settings)}: set PARTITIONS_START_DATE"
            " earlier"
        )
    today = datetime.now(ZoneInfo(reporting_timezone(settings))).date()
    if last > today:
        raise PipelineError(f"{last} is in the future: the last daily partition is today, {today}")
    check_sources(settings)
    wh = Warehouse(settings)
    parameters: dict[str, Any] = {
        "start": first,
        "end": last,
        "chunk_days": chunk_days,
        "full_refresh": full_refresh,
        "deliver_historical": deliver_historical,
        "runs": [],
    }
    with quiet_command("backfill", settings.log_dir) as display:
        start_warehouse(wh, display.step)
        chunks = split(first, last, chunk_days)
        display.step(f"backfill {first}..{last}: {len(chunks)} run(s) of the daily job (+ the monthly job)")
        display.bar("days", "daily partitions", (last - first).days + 1)
        with audit.recorded(wh, audit.BACKFILL, target="daily_job+monthly_job", parameters=parameters) as event:
            rows: dict[str, int] = {}
            event.row_counts = rows
            for chunk_first, chunk_last in chunks:
                result = run_pipeline(
                    settings,
                    chunk_first,
                    chunk_last,
                    full_refresh=full_refresh,
                    progress=display.step,
                    log_level=dagster_log_level(),
                    watch=display.run_watcher,
                    deliver_historical=deliver_historical,
                )
                event.parameters["runs"] += result.run_ids
                for asset, count in result.row_counts.items():
                    rows[asset] = rows.get(asset, 0) + count
                display.advance("days", (chunk_last - chunk_first).days + 1)
                display.step(f"{chunk_first}..{chunk_last} done: runs {', '.join(result.run_ids)}")
    return time.monotonic() - display.began, display.log_file
