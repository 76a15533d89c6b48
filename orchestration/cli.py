"""`execmetrics`: the project's one command line. Every command has --help."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dashboards.metabase.cli import dashboards_app
from extract.settings import PROJECT_ROOT, get_settings, reset_settings
from extract.warehouse import DEMO_APP_DB, RAW_SCHEMAS, Warehouse, WarehouseError, ensure_raw_schema

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)
warehouse_app = typer.Typer(help="The warehouse (embedded Postgres unless WAREHOUSE_URL is set).", no_args_is_help=True)
extract_app_cli = typer.Typer(help="Extract sources into the warehouse's raw tables.", no_args_is_help=True)
load_app = typer.Typer(help="Load files into the warehouse's raw tables.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(extract_app_cli, name="extract")
app.add_typer(load_app, name="load")
app.add_typer(dashboards_app, name="dashboards")

console = Console(stderr=True)
out = Console()


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, dtime.min, tzinfo=UTC)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False) -> None:
    level = logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Libraries (Dagster among them) set their own loggers to DEBUG; the handler decides what reaches the terminal.
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)


# ------------------------------------------------------------------------------------------------ warehouse


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Start the embedded warehouse (does nothing when WAREHOUSE_URL is set)."""
    wh = Warehouse()
    if wh.is_external:
        out.print(f"WAREHOUSE_URL is set: using {wh.target.redacted_url()}; nothing to start.")
        return
    assert wh.embedded is not None
    started = wh.embedded.start()
    wh.ensure_database(wh.target.dbname)
    with wh.connect() as conn:
        ensure_raw_schema(conn)
    state = "started" if started else "already running"
    out.print(f"Embedded warehouse {state}: {wh.target.redacted_url()} (data in {wh.embedded.pgdata})")


@warehouse_app.command("stop")
def warehouse_stop() -> None:
    """Stop the embedded warehouse (does nothing when WAREHOUSE_URL is set)."""
    wh = Warehouse()
    if wh.is_external:
        out.print(f"WAREHOUSE_URL is set: {wh.target.redacted_url()} is not ours to stop.")
        return
    assert wh.embedded is not None
    out.print("Embedded warehouse stopped." if wh.embedded.stop() else "Embedded warehouse was not running.")


@warehouse_app.command("status")
def warehouse_status() -> None:
    """Say where the warehouse is and whether it answers."""
    wh = Warehouse()
    kind = "external (WAREHOUSE_URL)" if wh.is_external else f"embedded (data in {wh.settings.warehouse_dir})"
    try:
        with wh.connect(connect_timeout=5) as conn:
            version = conn.execute("show server_version").fetchone()[0]  # type: ignore[index]
        out.print(f"{kind}: {wh.target.redacted_url()} is up (Postgres {version})")
    except Exception as exc:  # noqa: BLE001 - any failure to connect is "down"
        out.print(f"{kind}: {wh.target.redacted_url()} is not reachable ({type(exc).__name__})")
        raise typer.Exit(code=3) from None


@warehouse_app.command("url")
def warehouse_url(
    show_password: Annotated[bool, typer.Option(help="Print the password too.")] = False,
) -> None:
    """Print the warehouse's connection URL (password hidden unless asked)."""
    wh = Warehouse()
    out.print(wh.target.url.replace("+psycopg", "") if show_password else wh.target.redacted_url())


# ------------------------------------------------------------------------------------------------ extract / load


@extract_app_cli.command("app")
def extract_app_command(
    source: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL or folder of <table>.jsonl|csv (default: APP_DATABASE_URL).")
    ] = None,
    start: Annotated[datetime | None, typer.Option(help="Window start (UTC if no offset); default: watermark.")] = None,
    end: Annotated[datetime | None, typer.Option(help="Window end, exclusive.")] = None,
    table: Annotated[list[str] | None, typer.Option(help="Only these tables (repeatable).")] = None,
    full_refresh: Annotated[bool, typer.Option(help="Ignore the stored watermarks.")] = False,
) -> None:
    """Extract the app's tables (tenants, users, events, jobs, api_requests) into raw.app_*."""
    from extract.app.extractor import extract_app
    from extract.app.sources import SourceError, open_source

    settings = get_settings()
    spec = source or settings.app_database_url or (str(settings.app_source_dir) if settings.app_source_dir else None)
    if not spec:
        raise _fail("no app source: pass --source, or set APP_DATABASE_URL or APP_SOURCE_DIR")
    wh = Warehouse()
    wh.ensure_running()
    as_utc = [None if value is None else value if value.tzinfo else value.replace(tzinfo=UTC) for value in (start, end)]
    try:
        result = extract_app(
            wh,
            open_source(spec),
            start=as_utc[0],
            end=as_utc[1],
            tables=table,
            full_refresh=full_refresh,
            progress=lambda name, rows: (
                console.print(f"  {name}: {rows:,} rows read", highlight=False)
                if rows % 500_000 == 0 and rows
                else None
            ),
        )
    except (SourceError, ValueError, WarehouseError) as exc:
        raise _fail(str(exc)) from None
    grid = Table(
        "table", "loaded", "unchanged", "rejected", "outside window", "window", title=f"app extract {result.batch_id}"
    )
    for name, item in result.tables.items():
        if item.error:
            grid.add_row(name, "failed", "", "", "", "")
            continue
        window = f"{item.window[0] or '…'} → {item.window[1] or '…'}"
        grid.add_row(
            name,
            f"{item.loaded:,}",
            f"{item.unchanged:,}",
            f"{item.rejected:,}",
            f"{item.skipped_outside_window:,}",
            window,
        )
    out.print(grid)
    if result.rejected:
        out.print(f"[yellow]{result.rejected:,} rows rejected[/]: see raw._rejects (batch {result.batch_id})")
    if result.failed:
        failed = "; ".join(f"{name}: {message}" for name, message in result.failed.items())
        raise _fail(f"not loaded (the other tables were): {failed}")


@extract_app_cli.command("stripe")
def extract_stripe_command(
    full_refresh: Annotated[
        bool, typer.Option(help="Re-list every object instead of syncing since the cursor.")
    ] = False,
) -> None:
    """Extract Stripe objects through the API (STRIPE_API_KEY, optional STRIPE_API_BASE) into raw.stripe_*."""
    from extract.stripe.api import extract_stripe

    if get_settings().stripe_api_key is None:
        raise _fail("STRIPE_API_KEY is not set (a restricted, read-only key is enough: see docs/STRIPE.md)")
    from extract.stripe.client import StripeApiError

    wh = Warehouse()
    wh.ensure_running()
    try:
        result = extract_stripe(wh, full_refresh=full_refresh)
    except (StripeApiError, WarehouseError) as exc:
        raise _fail(str(exc)) from None
    out.print(result)
    if result.failed:
        raise _fail(f"not loaded (the other object types were): {', '.join(result.failed)}; the next run retries them")


@load_app.command("stripe-dump")
def load_stripe_dump(directory: Annotated[Path, typer.Argument(help="Folder of <type>.jsonl|json files.")]) -> None:
    """Load a Stripe JSON dump into raw.stripe_* through the same loader as the API path."""
    from extract.stripe.dump import DumpError, load_dump

    wh = Warehouse()
    wh.ensure_running()
    try:
        with wh.connect() as conn:
            result = load_dump(conn, directory)
    except (DumpError, WarehouseError) as exc:
        raise _fail(str(exc)) from None
    grid = Table("table", "new versions", "unchanged", title=f"Stripe dump {directory}")
    for name in sorted(set(result.loaded) | set(result.unchanged)):
        grid.add_row(f"raw.stripe_{name}", f"{result.loaded.get(name, 0):,}", f"{result.unchanged.get(name, 0):,}")
    out.print(grid)
    if result.rejected:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in result.reject_reasons.items())
        out.print(f"[yellow]{result.rejected:,} objects rejected[/] ({reasons}): see raw._rejects")
    if result.failed:
        failed = "; ".join(f"{kind}: {message}" for kind, message in result.failed.items())
        raise _fail(f"not loaded (the other object types were): {failed}")


# ------------------------------------------------------------------------------------------------ summary


def collect_summary(start: date, end: date, tenant: str | None) -> dict[str, Any]:
    from psycopg.errors import UndefinedTable

    from orchestration.summary import UnknownTenant, summary

    wh = Warehouse()
    with wh.connect() as conn:
        try:
            return summary(conn, start, end, tenant)
        except UnknownTenant as exc:
            raise _fail(str(exc)) from None
        except UndefinedTable as exc:
            missing = exc.diag.message_primary or str(exc)
            raise _fail(f"the reporting layer is not built ({missing}): run the pipeline or dbt build first") from None


@app.command("summary")
def summary_command(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day (inclusive).")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day (inclusive).")],
    tenant: Annotated[str | None, typer.Option(help="One tenant, by name or id (default: all tenants).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The headline numbers for a window, read from the reporting layer (the dashboards' tables)."""
    if end < start:
        raise _fail("--end is before --start")
    data = collect_summary(start.date(), end.date(), tenant)
    if as_json:
        out.print_json(json.dumps(data, default=str))
        return
    out.print(render_summary(data))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_summary(data: dict[str, Any]) -> Table:
    window = data.get("window", {})
    title = f"execmetrics summary {window.get('start')} → {window.get('end')} ({window.get('tenant') or 'all tenants'})"
    grid = Table("section", "metric", "value", title=title)
    for section in ("financial", "customers", "engagement", "jobs"):
        for key, value in (data.get(section) or {}).items():
            grid.add_row(section, key, _fmt(value))
    return grid


# ------------------------------------------------------------------------------------------------ demo


def _reset_warehouse(wh: Warehouse) -> None:
    with wh.connect(autocommit=True) as conn:
        for schema in RAW_SCHEMAS:
            conn.execute(f"drop schema if exists {schema} cascade")
        ensure_raw_schema(conn)


@app.command("demo")
def demo(
    tenants: Annotated[int, typer.Option(help="Tenants in the demo company.")] = 60,
    months: Annotated[int, typer.Option(help="Months of history.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same company).")] = 42,
    yes: Annotated[bool, typer.Option("--yes", help="Allow resetting an external WAREHOUSE_URL.")] = False,
    record_runs: Annotated[
        bool,
        typer.Option(
            help="Record the runs in DAGSTER_HOME so the UI shows them (slower: Dagster stores an event per "
            "asset and day)."
        ),
    ] = False,
) -> None:
    """Generate a demo company, run the whole pipeline through Dagster over every day, export, summarise.

    It replaces the warehouse's raw, staging, intermediate and marts schemas with the demo's data. The Dagster runs
    use an in-memory instance unless --record-runs is given.
    """
    from dashboards.export import export_all
    from extract.demo.generator import DemoCompany, DemoConfig
    from orchestration.pipeline import PipelineError, run_pipeline

    settings = get_settings()
    wh = Warehouse()
    if wh.is_external and not yes:
        raise _fail(f"WAREHOUSE_URL is set ({wh.target.redacted_url()}): the demo replaces its contents; pass --yes")
    began = time.monotonic()

    def step(message: str) -> None:
        console.print(f"[dim]{time.monotonic() - began:6.1f}s[/] {message}", highlight=False)

    step("warehouse: starting" + ("" if wh.is_external else f" (embedded, {wh.settings.warehouse_dir})"))
    try:
        wh.ensure_running()
    except WarehouseError as exc:
        raise _fail(str(exc)) from None
    _reset_warehouse(wh)

    company = DemoCompany(DemoConfig(tenants=tenants, months=months, seed=seed))
    step(f"demo company: {tenants} tenants, {company.start} → {company.end}, seed {seed}")
    wh.drop_database(DEMO_APP_DB)
    wh.ensure_database(DEMO_APP_DB)
    counts = company.write_app_database(wh.target.with_db(DEMO_APP_DB).conninfo)
    step("app database written: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
    dump_dir = settings.demo_dir / "stripe"
    dump_dir.mkdir(parents=True, exist_ok=True)
    for old in dump_dir.glob("*.json*"):
        old.unlink()
    stripe_counts = company.write_stripe_dump(dump_dir)
    step(f"Stripe dump written to {dump_dir}: {sum(stripe_counts.values()):,} objects")

    # The pipeline reads its sources from the settings, exactly as a scheduled run would.
    os.environ["APP_DATABASE_URL"] = wh.target.with_db(DEMO_APP_DB).url
    os.environ["STRIPE_DUMP_DIR"] = str(dump_dir)
    os.environ.setdefault("PARTITIONS_START_DATE", company.start.isoformat())
    reset_settings()
    step(f"pipeline: Dagster run over {(company.end - company.start).days + 1} daily partitions")
    from dagster import DagsterInstance

    instance = None if record_runs else DagsterInstance.ephemeral()
    # dagster-dbt echoes every dbt log line on stdout: they go to a file, the terminal keeps to the steps.
    dbt_output = PROJECT_ROOT / "logs" / "demo-dbt-output.log"
    dbt_output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with dbt_output.open("w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
            run_pipeline(
                company.start, company.end, full_refresh=True, progress=step, instance=instance, log_level="ERROR"
            )
    except PipelineError as exc:
        where = "the run is in the Dagster UI: execmetrics ui" if record_runs else "--record-runs keeps it for the UI"
        raise _fail(f"{exc}\n(dbt's output: {dbt_output}; {where})") from None
    step(f"dbt's output: {dbt_output}")

    out_dir = get_settings().output_dir
    with wh.connect() as conn:
        exported = export_all(conn, out_dir, start=company.start, end=company.end)
    step(f"exports written to {out_dir}")

    summary_data = collect_summary(company.start, company.end, None)
    out.print(render_summary(summary_data))
    elapsed = time.monotonic() - began
    out.print(
        f"\nDemo finished in {elapsed:,.0f}s. Where to look next:\n"
        f"  • board pack:   {getattr(exported, 'html', out_dir / 'board_pack.html')}\n"
        f"  • PDF / CSV:    {out_dir}\n"
        f"  • marts:        psql \"{wh.target.redacted_url()}\" -c 'select * from marts.fct_daily_metrics limit 5'\n"
        f"  • dbt:          .venv/bin/dbt build   (from the repo root; profiles.yml there reaches this warehouse)\n"
        f"  • Dagster UI:   .venv/bin/execmetrics ui   (then open http://127.0.0.1:{settings.ui_port})\n"
        f"  • summary:      .venv/bin/execmetrics summary --start {company.start} --end {company.end}"
    )


@app.command("export")
def export_command(
    start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day.")] = None,
    end: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day.")] = None,
    tenant: Annotated[str | None, typer.Option(help="One tenant id.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder (default: OUTPUT_DIR or ./out).")] = None,
    pdf: Annotated[bool, typer.Option(help="Also print the board pack to PDF (headless Chromium).")] = True,
) -> None:
    """Export the marts: CSV per mart, the HTML board pack and its PDF."""
    from dashboards.export import export_all
    from dashboards.export.pdf import PdfError

    target = out_dir or get_settings().output_dir
    with Warehouse().connect() as conn:
        try:
            result = export_all(
                conn,
                target,
                start=start.date() if start else None,
                end=end.date() if end else None,
                tenant=tenant,
                pdf=pdf,
            )
        except PdfError as exc:
            raise _fail(f"{exc} (CSV and HTML were written to {target}; --no-pdf skips the PDF)") from None
    out.print(result)
    if result.csv_errors:
        raise typer.Exit(code=2)


# ------------------------------------------------------------------------------------------------ orchestration


@app.command("ui")
def ui_command(
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: UI_PORT or 3000).")] = None,
) -> None:
    """Start the Dagster UI (dagster-webserver) and the daemon (schedules, backfills) on 127.0.0.1."""
    from orchestration.ui import daemon_healthy, start_ui

    settings = get_settings()
    Warehouse().ensure_running()
    procs = start_ui(port=port, settings=settings)
    storage = "Postgres (DAGSTER_PG_URL)" if settings.dagster_pg_url else "SQLite"
    out.print(f"Dagster UI: {procs.url}   (DAGSTER_HOME={procs.home}, {storage} storage; logs in {procs.home}/logs)")
    out.print("Ctrl-C stops the webserver and the daemon.")
    try:
        deadline = time.monotonic() + 90
        healthy, detail = False, "no heartbeat yet"
        while time.monotonic() < deadline and procs.alive()["daemon"]:
            try:
                healthy, detail = daemon_healthy(procs.url)
            except OSError as exc:
                detail = f"webserver not answering: {exc}"
            if healthy:
                break
            time.sleep(3)
        if healthy:
            out.print("Dagster daemon: running (schedules and backfills will run).")
        else:
            console.print(
                f"[bold yellow]warning:[/] the Dagster daemon is not healthy ({detail}): schedules and backfills"
                f" will not run; see {procs.logs[1]}"
            )
        while True:
            time.sleep(5)
            alive = procs.alive()
            if not alive["webserver"]:
                raise _fail(f"dagster-webserver stopped; see {procs.logs[0]}")
            if not alive["daemon"]:
                raise _fail(f"the Dagster daemon stopped (schedules and backfills need it); see {procs.logs[1]}")
    except KeyboardInterrupt:
        pass
    finally:
        procs.stop()


@app.command("backfill")
def backfill_command(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day (inclusive).")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day (inclusive).")],
    chunk_days: Annotated[int, typer.Option("--chunk-days", help="Days per run (0: the whole range in one run).")] = 0,
    full_refresh: Annotated[bool, typer.Option(help="Rebuild incremental models and reload Stripe fully.")] = False,
) -> None:
    """Backfill the daily partitions start..end (and their months) through Dagster, in one run or chunks."""
    from orchestration.partitions import chunk_days as split
    from orchestration.pipeline import PipelineError, run_pipeline

    began = time.monotonic()

    def step(message: str) -> None:
        console.print(f"[dim]{time.monotonic() - began:6.1f}s[/] {message}", highlight=False)

    Warehouse().ensure_running()
    chunks = split(start.date(), end.date(), chunk_days)
    step(f"backfill {start.date()}..{end.date()}: {len(chunks)} run(s) of the daily job (+ the monthly job)")
    for first, last in chunks:
        try:
            result = run_pipeline(first, last, full_refresh=full_refresh, progress=step)
        except PipelineError as exc:
            raise _fail(f"{exc}\n(the run is in the Dagster UI: execmetrics ui)") from None
        step(f"{first}..{last} done: runs {', '.join(result.run_ids)}")
    out.print(f"Backfill {start.date()}..{end.date()} finished in {time.monotonic() - began:,.0f}s")


if __name__ == "__main__":  # pragma: no cover
    app()
