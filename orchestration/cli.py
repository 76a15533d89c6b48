"""`execmetrics`: the project's one command line. Every command has --help."""

from __future__ import annotations

import json
import logging
import shlex
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dashboards.delivery.cli import alerts_app
from dashboards.metabase.cli import dashboards_app
from extract import audit
from extract.access import PARTS, AccessError, grant, role_name, roles_configured
from extract.settings import load_settings
from extract.warehouse import Warehouse, WarehouseError, ensure_raw_schema, start_warehouse
from orchestration.terminal import CliGroup, CommandError, configure_logging, shown_path

app = typer.Typer(
    help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, cls=CliGroup
)
warehouse_app = typer.Typer(help="The warehouse (embedded Postgres unless WAREHOUSE_URL is set).", no_args_is_help=True)
extract_app_cli = typer.Typer(help="Extract sources into the warehouse's raw tables.", no_args_is_help=True)
load_app = typer.Typer(help="Load files into the warehouse's raw tables.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(extract_app_cli, name="extract")
app.add_typer(load_app, name="load")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(alerts_app, name="alerts")

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def _fail(message: str) -> CommandError:
    """The failure to raise: the top-level group prints it as one `error:` line and exits 1."""
    return CommandError(message)


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show everything: DEBUG logs, Dagster's and dbt's, tracebacks.")
    ] = False,
) -> None:
    configure_logging(verbose)


def _note(text: str) -> None:
    console.print(f"note: {text}", highlight=False)


def _say(text: str) -> None:
    console.print(text, highlight=False)


def _start_embedded(wh: Warehouse) -> None:
    """For commands that only read: start the embedded warehouse if it is not running (an external one is used
    as it is)."""
    if wh.embedded is not None:
        start_warehouse(wh, _note)


# ------------------------------------------------------------------------------------------------ warehouse


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Start the embedded warehouse (does nothing when WAREHOUSE_URL is set).

    The first start also creates the warehouse roles (`execmetrics warehouse grant`) with generated passwords."""
    wh = Warehouse(load_settings())
    if wh.is_external:
        out.print(f"WAREHOUSE_URL is set: using {wh.target.redacted_url()}; nothing to start.")
        return
    assert wh.embedded is not None
    started = not wh.embedded.is_running()
    start_warehouse(wh, _note)
    with wh.as_role("loader").connect() as conn:
        ensure_raw_schema(conn)
    what = "started" if started else "already running"
    out.print(f"Embedded warehouse {what}: {wh.target.redacted_url()} (data in {wh.embedded.pgdata})")


@warehouse_app.command("grant")
def warehouse_grant(
    rotate: Annotated[
        bool, typer.Option(help="Generate new passwords for the roles whose password is not set in the settings.")
    ] = False,
) -> None:
    """Create or update the warehouse roles, their grants and the marts' row-level security (idempotent).

    Roles: loader (extractors: raw), transformer (dbt), reader (marts only: exporter, summary, Metabase) and tenant
    (one tenant's rows, by the connection's execmetrics.tenant_id). Passwords come from WAREHOUSE_LOADER_PASSWORD,
    WAREHOUSE_TRANSFORMER_PASSWORD, WAREHOUSE_READER_PASSWORD and WAREHOUSE_TENANT_PASSWORD; on the embedded
    warehouse an unset one is generated and kept in WAREHOUSE_DIR. Run as the warehouse's owner (WAREHOUSE_URL).
    """
    wh = Warehouse(load_settings())
    try:
        wh.ensure_running()
        report = grant(wh, rotate=rotate)
    except (WarehouseError, AccessError, audit.AuditError) as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a database refusal: one line, the traceback with -v
        logging.getLogger(__name__).debug("grant failed", exc_info=True)
        raise _fail(f"the grant failed: {exc}") from None
    for line in report.lines():
        out.print(line, highlight=False)
    if rotate:
        out.print("Passwords renewed: run `execmetrics dashboards apply --update-password` so Metabase follows.")


@warehouse_app.command("stop")
def warehouse_stop() -> None:
    """Stop the embedded warehouse (does nothing when WAREHOUSE_URL is set)."""
    wh = Warehouse(load_settings())
    if wh.is_external:
        out.print(f"WAREHOUSE_URL is set: {wh.target.redacted_url()} is not ours to stop.")
        return
    assert wh.embedded is not None
    out.print("Embedded warehouse stopped." if wh.embedded.stop() else "Embedded warehouse was not running.")


@warehouse_app.command("status")
def warehouse_status() -> None:
    """Say where the warehouse is and whether it answers."""
    wh = Warehouse(load_settings())
    kind = "external (WAREHOUSE_URL)" if wh.embedded is None else f"embedded (data in {wh.embedded.pgdata})"
    try:
        with wh.connect(connect_timeout=5) as conn:
            version = conn.execute("show server_version").fetchone()[0]  # type: ignore[index]
        out.print(f"{kind}: {wh.target.redacted_url()} is up (Postgres {version})")
    except Exception as exc:  # noqa: BLE001 - any failure to connect is "down"
        out.print(f"{kind}: {wh.target.redacted_url()} is not reachable ({type(exc).__name__})")
        raise typer.Exit(code=3) from None
    if roles_configured(wh.settings):
        names = ", ".join(f"{part} {role_name(wh.settings, part)}" for part in PARTS)
        out.print(f"roles: {names}")
    else:
        out.print(
            f"roles: not set up, every part connects as {wh.target.user} (see `execmetrics warehouse grant --help`)"
        )


RoleOption = Annotated[
    str | None, typer.Option("--role", help=f"As one role: {', '.join(PARTS)} (default: the admin connection).")
]


def _as_role(wh: Warehouse, role: str | None) -> Warehouse:
    if role is None:
        return wh
    if role not in PARTS:
        raise _fail(f"--role must be one of {', '.join(PARTS)}, not {role!r}")
    try:
        part = wh.as_role(role)
    except AccessError as exc:
        raise _fail(str(exc)) from None
    if part is wh:
        raise _fail(f"the {role} role has no password yet: run `execmetrics warehouse grant` (see its --help)")
    return part


@warehouse_app.command("url")
def warehouse_url(
    role: RoleOption = None,
    show_password: Annotated[bool, typer.Option(help="Print the password too.")] = False,
) -> None:
    """Print the warehouse's connection URL (password hidden unless asked)."""
    target = _as_role(Warehouse(load_settings()), role).target
    out.print(target.url.replace("+psycopg", "") if show_password else target.redacted_url())


@warehouse_app.command("land-parquet")
def warehouse_land_parquet() -> None:
    """Copy the raw schema's tables to Parquet under SPARK_DIR for the dbt models' Spark target (DBT_TARGET=spark).

    Each table's folder is replaced whole; dbt registers them as the raw source tables when it runs on Spark."""
    try:
        import pyarrow  # noqa: F401

        from extract.parquet import ParquetLandingError, land_raw_parquet
    except ImportError as exc:
        raise _fail(f"the Spark target needs the spark extra: pip install -e '.[spark]' ({exc})") from exc
    settings = load_settings()
    wh = Warehouse(settings)
    _start_embedded(wh)
    grid = Table("table", "rows", title=f"raw tables as Parquet in {shown_path(settings.spark_dir / 'raw')}")
    try:
        with wh.connect() as conn:
            counts = land_raw_parquet(conn, settings.spark_dir)
    except ParquetLandingError as exc:
        raise _fail(str(exc)) from exc
    for table, rows in counts.items():
        grid.add_row(f"raw.{table}", f"{rows:,}")
    out.print(grid)


@warehouse_app.command("env")
def warehouse_env(role: RoleOption = "transformer") -> None:
    """Print `export` lines for dbt's profile (profiles.yml) to connect as a role: eval "$(execmetrics warehouse env)".

    Analysts running `dbt build` by hand use the transformer role (the default), so what they build stays the
    pipeline's to replace."""
    part = _as_role(Warehouse(load_settings()), role)
    for name, value in part.dbt_env().items():
        if name.startswith("WAREHOUSE_"):
            print(f"export {name}={shlex.quote(value)}")


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
    from extract.app.extractor import run_app_extract

    try:
        result = run_app_extract(
            load_settings(), _say, source=source, start=start, end=end, tables=table, full_refresh=full_refresh
        )
    except ValueError as exc:  # a bad window or table name, an unreadable source
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
    from extract.stripe.api import run_stripe_extract

    result = run_stripe_extract(load_settings(), _say, full_refresh=full_refresh)
    out.print(result)
    if result.failed:
        raise _fail(f"not loaded (the other object types were): {', '.join(result.failed)}; the next run retries them")


@load_app.command("stripe-dump")
def load_stripe_dump(
    directory: Annotated[Path, typer.Argument(help="Folder of <type>.jsonl|json files.")],
    full_refresh: Annotated[
        bool, typer.Option(help="Read every file, also those unchanged since a load that took all their objects.")
    ] = False,
) -> None:
    """Load a Stripe JSON dump into raw.stripe_* through the same loader as the API path."""
    from extract.stripe.dump import load_dump_into

    result = load_dump_into(Warehouse(load_settings()), directory, _note, full_refresh=full_refresh)
    grid = Table("table", "new versions", "unchanged", title=f"Stripe dump {directory}")
    for name in sorted(set(result.loaded) | set(result.unchanged)):
        grid.add_row(f"raw.stripe_{name}", f"{result.loaded.get(name, 0):,}", f"{result.unchanged.get(name, 0):,}")
    out.print(grid)
    if result.skipped:
        out.print(
            f"not read (unchanged since a load that took every object in them; --full-refresh reads them):"
            f" {', '.join(result.skipped)}"
        )
    if result.rejected:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in result.reject_reasons.items())
        out.print(f"[yellow]{result.rejected:,} objects rejected[/] ({reasons}): see raw._rejects")
    if result.failed:
        failed = "; ".join(f"{kind}: {message}" for kind, message in result.failed.items())
        raise _fail(f"not loaded (the other object types were): {failed}")


# ------------------------------------------------------------------------------------------------ summary


@app.command("summary")
def summary_command(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day (inclusive).")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day (inclusive).")],
    tenant: Annotated[str | None, typer.Option(help="One tenant, by name or id (default: all tenants).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The headline numbers for a window, read from the reporting layer (the dashboards' tables)."""
    from orchestration.summary import collect_summary, render_summary

    if end < start:
        raise _fail("--end is before --start")
    settings = load_settings()
    _start_embedded(Warehouse(settings))
    data = collect_summary(settings, start.date(), end.date(), tenant)
    if as_json:
        out.print_json(json.dumps(data, default=str))
        return
    out.print(render_summary(data))


# ------------------------------------------------------------------------------------------------ export


@app.command("export")
def export_command(
    start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day.")] = None,
    end: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day.")] = None,
    tenant: Annotated[str | None, typer.Option(help="One tenant id.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder (default: OUTPUT_DIR or ./out).")] = None,
    pdf: Annotated[
        bool | None,
        typer.Option(
            "--pdf/--no-pdf",
            help="Print the board pack to PDF (headless Chromium). Default: when a Chromium is found; --pdf"
            " fails without one.",
        ),
    ] = None,
) -> None:
    """Export the marts as the reader role: CSV per mart, the HTML board pack and (when Chromium is there) its PDF.

    Written to the audit log. Personal data (an email column) is left out unless INCLUDE_PERSONAL_DATA is true."""
    from dashboards.export import run_export
    from dashboards.export.pdf import PdfError

    settings = load_settings()
    target = out_dir or settings.output_dir
    if start and end and end < start:
        raise _fail("--end is before --start")
    _start_embedded(Warehouse(settings))
    try:
        result = run_export(settings, start.date() if start else None, end.date() if end else None, tenant, target, pdf)
    except PdfError as exc:
        raise _fail(f"{exc} (CSV and HTML were written to {target})") from None
    out.print(result)
    if result.csv_errors:
        raise typer.Exit(code=2)


# ------------------------------------------------------------------------------------------------ demo


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

    It replaces the warehouse's raw, staging, intermediate and marts schemas with the demo's data, and saves the
    demo's sources in .env (never over a value you set) so the next commands use them. The Dagster runs use an
    in-memory instance unless --record-runs is given.
    """
    from orchestration.demo import run_demo
    from orchestration.summary import render_summary

    if tenants < 1 or months < 1:
        raise _fail("--tenants and --months must be at least 1")
    settings = load_settings()
    outcome = run_demo(
        settings, tenants=tenants, months=months, seed=seed, replace_external=yes, record_runs=record_runs
    )
    out.print(render_summary(outcome.summary))
    out.print(outcome.next_steps(stripe_key_set=settings.stripe_api_key is not None), highlight=False)


# ------------------------------------------------------------------------------------------------ orchestration


@app.command("ui")
def ui_command(
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: UI_PORT or 3000).")] = None,
) -> None:
    """Start the Dagster UI (dagster-webserver) and the daemon (schedules, backfills) on 127.0.0.1."""
    from orchestration.ui import serve_ui

    serve_ui(load_settings(), port, out.print, console.print)


@app.command("backfill")
def backfill_command(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day (inclusive).")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day (inclusive).")],
    chunk_days: Annotated[int, typer.Option("--chunk-days", help="Days per run (0: the whole range in one run).")] = 0,
    full_refresh: Annotated[
        bool, typer.Option(help="Rebuild incremental models, reload every seed and reload Stripe fully.")
    ] = False,
    deliver_historical: Annotated[
        bool,
        typer.Option(
            "--deliver-historical", help="Also send the alerts of days older than max_age_days (channels file)."
        ),
    ] = False,
) -> None:
    """Backfill the daily partitions start..end (and their months) through Dagster, in one run or chunks.

    Alerts of old days are recorded but not sent unless --deliver-historical; recent ones are sent once."""
    from orchestration.pipeline import run_backfill

    first, last = start.date(), end.date()
    if last < first:
        raise _fail("--end is before --start")
    if chunk_days < 0:
        raise _fail("--chunk-days must be 0 (one run) or more")
    elapsed, log_file = run_backfill(
        load_settings(),
        first,
        last,
        chunk_days=chunk_days,
        full_refresh=full_refresh,
        deliver_historical=deliver_historical,
    )
    log = f"; Dagster's and dbt's logs: {shown_path(log_file)}" if log_file else ""
    out.print(f"Backfill {first}..{last} finished in {elapsed:,.0f}s" + log, highlight=False)


# ------------------------------------------------------------------------------------------------ audit


def _brief(value: Any) -> Any:
    """A parameter as the table shows it: lists of rows by their count (--json has them whole)."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return f"{len(value)} rows"
    return value


@app.command("audit")
def audit_command(
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="From this day (local).")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="One action (export, dashboards.apply, ...) or its area (dashboards).")
    ] = None,
    limit: Annotated[int, typer.Option(help="The newest N events (0: all).")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Print the audit log (audit.events): who exported, applied dashboards, granted, backfilled, changed a seed."""
    wh = Warehouse(load_settings())
    try:
        with wh.as_role("reader").connect() as conn:
            found = audit.events(conn, since=since, action=action, limit=limit or None)
    except Exception as exc:  # noqa: BLE001 - unreachable warehouse or no log yet: one line
        logging.getLogger(__name__).debug("audit read failed", exc_info=True)
        raise _fail(f"cannot read the audit log at {wh.target.redacted_url()}: {exc}") from None
    if as_json:
        for event in found:
            print(json.dumps(event.__dict__, default=str, sort_keys=True))
        return
    grid = Table("when", "actor", "action", "target", "outcome", "rows", "parameters", title="audit.events")
    for event in found:
        rows_text = ", ".join(
            f"{key} {value:,}" if isinstance(value, int) else f"{key} {value}"
            for key, value in (event.row_counts or {}).items()
        )
        shown = {key: _brief(value) for key, value in event.parameters.items() if value not in (None, [], {})}
        outcome = event.outcome if not event.detail else f"{event.outcome}: {event.detail}"
        grid.add_row(
            event.occurred_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            f"{event.actor} ({event.db_role})",
            event.action,
            event.target or "",
            outcome,
            rows_text,
            json.dumps(shown, default=str, sort_keys=True),
        )
    out.print(grid)
    if not found:
        out.print("no events" + (f" for action {action}" if action else "") + (f" since {since}" if since else ""))


if __name__ == "__main__":  # pragma: no cover
    app()
