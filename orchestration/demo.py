"""`execmetrics demo`: a demo company generated, run through the whole pipeline, exported and summarised.

`run_demo` replaces the warehouse's data schemas with the demo's (the audit log is kept), writes the demo company's
app database and Stripe dump, saves those sources in the settings file (never over a value the user set) and hands
them to the pipeline in the settings it builds from the caller's: nothing goes through the process environment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from extract import audit
from extract.access import AccessError, grant
from extract.settings import Settings, save_settings
from extract.warehouse import DEMO_APP_DB, RAW_SCHEMAS, Warehouse, ensure_raw_schema, start_warehouse
from orchestration.terminal import dagster_log_level, quiet_command, shown_path


class DemoError(RuntimeError):
    """The demo refused to start (it would replace an external warehouse without --yes)."""


@dataclass
class DemoOutcome:
    settings: Settings  # the caller's settings with the demo's sources
    warehouse: Warehouse
    start: date
    end: date
    exported: Any
    summary: dict[str, Any]
    sources: dict[str, str]
    saved_in: Path | None
    saved: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    began: float = 0.0  # time.monotonic() at the start
    log_file: Path | None = None  # Dagster's and dbt's logs

    def next_steps(self, stripe_key_set: bool) -> str:
        """What the demo built and where to look next."""
        elapsed, log_file = time.monotonic() - self.began, self.log_file
        out_dir = self.settings.output_dir
        exported = self.exported
        board = shown_path(exported.html) + (
            "" if exported.pdf_skipped else f" and {shown_path(out_dir / 'board_pack.pdf')}"
        )
        lines = [
            f"\nDemo finished in {elapsed:,.0f}s. Where to look next:",
            f"  • board pack:  {board}; CSV in {shown_path(out_dir / 'csv')}",
        ]
        if self.saved_in is None:
            lines.append(
                f"  • settings:    not saved (EXECMETRICS_ENV_FILE is empty): set {', '.join(self.sources)} yourself"
            )
        elif self.saved:
            saved = ", ".join(self.saved)
            lines.append(
                f"  • settings:    the demo's sources are saved in {shown_path(self.saved_in)} ({saved}), so the"
                " commands below use them"
            )
        if self.kept:
            lines.append(
                f"  • kept yours:  {', '.join(self.kept)} (set by you: the commands below read yours, not the demo's)"
            )
        if stripe_key_set:
            lines.append("  • note:        STRIPE_API_KEY is set: later runs read the Stripe API, not the demo's dump")
        lines += [
            f"  • Dagster UI:  .venv/bin/execmetrics ui   (then open http://127.0.0.1:{self.settings.ui_port})",
            f"  • backfill:    .venv/bin/execmetrics backfill --start {self.end} --end {self.end}",
            f"  • summary:     .venv/bin/execmetrics summary --start {self.start} --end {self.end}",
            f"  • export:      .venv/bin/execmetrics export --start {self.start} --end {self.end}",
            "  • dbt:         source .venv/bin/activate && dbt build   (profiles.yml at the repo root reaches this"
            " warehouse)",
            f'  • marts:       psql "{self.warehouse.target.redacted_url()}" -c \'select * from marts.fct_daily_metrics'
            " limit 5'",
        ]
        if log_file is not None:
            lines.append(f"  • logs:        {shown_path(log_file)} (Dagster's and dbt's)")
        return "\n".join(lines)


def reset_warehouse(wh: Warehouse) -> None:
    """Empty the data schemas; the audit log (schema audit) is kept, and the reset is written to it."""
    parameters = {"by": "demo"}
    with (
        audit.recorded(wh, audit.WAREHOUSE_RESET, target=wh.target.dbname, parameters=parameters),
        wh.connect(autocommit=True) as conn,
    ):
        for schema in RAW_SCHEMAS:
            if schema != audit.AUDIT_SCHEMA:
                conn.execute(f"drop schema if exists {schema} cascade")
        ensure_raw_schema(conn)


def grant_for_demo(wh: Warehouse, step: Any) -> None:
    """The demo sets up the roles like an operator would; an external warehouse without role passwords keeps its
    one-user setup (said in one line)."""
    try:
        report = grant(wh)
    except AccessError as exc:
        if not wh.is_external:
            raise
        step(f"roles not set up ({exc}); every part connects as {wh.target.user}")
        return
    step(f"roles: {', '.join(report.roles.values())} (dbt secures each mart as it builds it)")


def run_demo(
    settings: Settings, *, tenants: int, months: int, seed: int, replace_external: bool, record_runs: bool
) -> DemoOutcome:
    """Generate the demo company, run the pipeline over every day and month, export, summarise: steps on the
    terminal, Dagster's and dbt's logs in a file (named in the outcome)."""
    from dagster import DagsterInstance

    from dashboards.export import run_export
    from extract.demo.generator import DemoCompany, DemoConfig
    from orchestration.pipeline import run_pipeline
    from orchestration.summary import collect_summary

    wh = Warehouse(settings)
    if wh.is_external and not replace_external:
        raise DemoError(
            f"WAREHOUSE_URL is set ({wh.target.redacted_url()}): the demo replaces its contents; pass --yes"
        )
    with quiet_command("demo", settings.log_dir) as display:
        where = "" if wh.embedded is None else f" (embedded, data in {shown_path(wh.embedded.pgdata)})"
        display.step("warehouse: starting" + where)
        start_warehouse(wh, display.step)
        reset_warehouse(wh)
        grant_for_demo(wh, display.step)

        company = DemoCompany(DemoConfig(tenants=tenants, months=months, seed=seed))
        display.step(f"demo company: {tenants} tenants, {company.start} → {company.end}, seed {seed}")
        wh.drop_database(DEMO_APP_DB)
        wh.ensure_database(DEMO_APP_DB, collation=None)  # the app's database: its own defaults
        counts = company.write_app_database(wh.target.with_db(DEMO_APP_DB).conninfo)
        display.step("app database written: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
        dump_dir = settings.demo_dir / "stripe"
        dump_dir.mkdir(parents=True, exist_ok=True)
        for old in dump_dir.glob("*.json*"):
            old.unlink()
        stripe_counts = company.write_stripe_dump(dump_dir)
        display.step(f"Stripe dump written to {shown_path(dump_dir)}: {sum(stripe_counts.values()):,} objects")

        # The runs get the demo's sources in the settings built here (a scheduled run reads the same keys from the
        # environment or .env, where they are saved next).
        first_partition = settings.partitions_start_date
        if first_partition is None or first_partition > company.start:
            first_partition = company.start
        sources = {
            "APP_DATABASE_URL": wh.target.with_db(DEMO_APP_DB).url,
            "STRIPE_DUMP_DIR": str(dump_dir.resolve()),
            "PARTITIONS_START_DATE": first_partition.isoformat(),
        }
        saved_in, saved, kept = save_settings(sources, "execmetrics demo")
        demo_settings = settings.model_copy(
            update={
                "app_database_url": sources["APP_DATABASE_URL"],
                "app_source_dir": None,
                "stripe_dump_dir": dump_dir.resolve(),
                "stripe_api_key": None,
                "partitions_start_date": first_partition,
            }
        )
        instance = None if record_runs else DagsterInstance.ephemeral()
        days = (company.end - company.start).days + 1
        display.step(f"pipeline: Dagster runs over {days} daily partitions, then the monthly ones")
        display.bar("days", "daily partitions", days)
        run_pipeline(
            demo_settings,
            company.start,
            company.end,
            full_refresh=True,
            progress=display.step,
            instance=instance,
            log_level=dagster_log_level(),
            watch=display.run_watcher,
        )
        display.advance("days", days)
        display.done("days")

        out_dir = settings.output_dir
        exported = run_export(demo_settings, company.start, company.end, None, out_dir, None)
        display.step(
            f"exports written to {shown_path(out_dir)}: CSV of {len(exported.csv_files)} reporting tables, the HTML"
            " board pack" + ("" if exported.pdf_skipped else " and its PDF")
        )
        if exported.pdf_skipped:
            display.step(f"PDF {exported.pdf_skipped}")
        summary = collect_summary(demo_settings, company.start, company.end, None)
        return DemoOutcome(
            demo_settings,
            wh,
            company.start,
            company.end,
            exported,
            summary,
            sources,
            saved_in,
            saved,
            kept,
            display.began,
            display.log_file,
        )
