"""`execmetrics`: the project's one command line. Every command has --help."""

from __future__ import annotations

import json
import logging
import shlex
import signal
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from dashboards.delivery.cli import alerts_app
from dashboards.metabase.cli import dashboards_app
from extract import audit
from extract.access import PARTS, AccessError, grant, role_name, roles_configured
from extract.settings import Settings, get_settings, save_settings, use_settings
from extract.warehouse import DEMO_APP_DB, RAW_SCHEMAS, Warehouse, WarehouseError, ensure_raw_schema
from orchestration.terminal import CliGroup, CommandError, configure_logging, quiet_command, state

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


def _start_warehouse(wh: Warehouse, say: Any = None) -> None:
    """Start the embedded warehouse if needed (or reach WAREHOUSE_URL's), saying what its start decided."""
    wh.ensure_running()
    for note in wh.embedded.notes if wh.embedded is not None else []:
        (say or (lambda text: console.print(f"note: {text}", highlight=False)))(note)


def _start_embedded(wh: Warehouse) -> None:
    """For commands that only read: start the embedded warehouse if it is not running (an external one is used
    as it is)."""
    if wh.embedded is not None:
        _start_warehouse(wh)


# ------------------------------------------------------------------------------------------------ warehouse


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Start the embedded warehouse (does nothing when WAREHOUSE_URL is set).

    The first start also creates the warehouse roles (`execmetrics warehouse grant`) with generated passwords."""
    wh = Warehouse()
    if wh.is_external:
        out.print(f"WAREHOUSE_URL is set: using {wh.target.redacted_url()}; nothing to start.")
        return
    assert wh.embedded is not None
    started = not wh.embedded.is_running()
    _start_warehouse(wh)
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
    wh = Warehouse()
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
    target = _as_role(Warehouse(), role).target
    out.print(target.url.replace("+psycopg", "") if show_password else target.redacted_url())


@warehouse_app.command("env")
def warehouse_env(role: RoleOption = "transformer") -> None:
    """Print `export` lines for dbt's profile (profiles.yml) to connect as a role: eval "$(execmetrics warehouse env)".

    Analysts running `dbt build` by hand use the transformer role (the default), so what they build stays the
    pipeline's to replace."""
    part = _as_role(Warehouse(), role)
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
    from extract.app.extractor import extract_app
    from extract.app.sources import SourceError, open_source

    settings = get_settings()
    spec = source or settings.app_database_url or (str(settings.app_source_dir) if settings.app_source_dir else None)
    if not spec:
        raise _fail("no app source: pass --source, or set APP_DATABASE_URL or APP_SOURCE_DIR")
    wh = Warehouse(settings)
    _start_warehouse(wh)
    loader = wh.as_role("loader")
    as_utc = [None if value is None else value if value.tzinfo else value.replace(tzinfo=UTC) for value in (start, end)]
    try:
        result = extract_app(
            loader,
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
    from extract.stripe.api import StripeApiError, extract_stripe

    settings = get_settings()
    if settings.stripe_api_key is None:
        raise _fail("STRIPE_API_KEY is not set (a restricted, read-only key is enough: see docs/STRIPE.md)")
    wh = Warehouse(settings)
    _start_warehouse(wh)
    try:
        result = extract_stripe(wh.as_role("loader"), full_refresh=full_refresh)
    except StripeApiError as exc:
        where = settings.stripe_api_base or "https://api.stripe.com"
        raise _fail(
            f"the Stripe API at {where} failed: {exc}; check the network, STRIPE_API_BASE and the key"
        ) from None
    out.print(result)
    if result.failed:
        raise _fail(f"not loaded (the other object types were): {', '.join(result.failed)}; the next run retries them")


@load_app.command("stripe-dump")
def load_stripe_dump(directory: Annotated[Path, typer.Argument(help="Folder of <type>.jsonl|json files.")]) -> None:
    """Load a Stripe JSON dump into raw.stripe_* through the same loader as the API path."""
    from extract.stripe.dump import DumpError, load_dump

    wh = Warehouse()
    _start_warehouse(wh)
    try:
        with wh.as_role("loader").connect() as conn:
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


def collect_summary(start: date, end: date, tenant: str | None, settings: Settings | None = None) -> dict[str, Any]:
    from psycopg.errors import UndefinedTable

    from orchestration.summary import UnknownTenant, summary

    wh = Warehouse(settings or get_settings())
    with wh.as_role("reader").connect() as conn:
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
    settings = get_settings()
    _start_embedded(Warehouse(settings))
    data = collect_summary(start.date(), end.date(), tenant, settings)
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


# ------------------------------------------------------------------------------------------------ export


def _shown(path: Path) -> str:
    """A path as the user would type it from the checkout."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def pdf_missing_note() -> str | None:
    """None when a Chromium is there to print the PDF; else why the PDF is skipped and how to get it."""
    import os

    from dashboards.export.pdf import find_chromium

    if find_chromium() is not None:
        return None
    chosen = os.environ.get("CHROMIUM_PATH")
    why = f"CHROMIUM_PATH={chosen} does not exist" if chosen else "no Chromium on PATH"
    return (
        f"skipped ({why}): install the Debian package `chromium` (as root: `make system-deps`) or set"
        " CHROMIUM_PATH, then run `execmetrics export`"
    )


def run_export(
    settings: Settings, start: date | None, end: date | None, tenant: str | None, target: Path, pdf: bool | None
) -> Any:
    """Export as the reader role: CSV + HTML, and the PDF when asked (pdf=True: required) or possible (pdf=None: else
    `pdf_skipped` says why); written to the audit log (what, where, rows per mart, how it ended)."""
    from dashboards.export import export_all

    note = pdf_missing_note() if pdf is None else None
    reader = Warehouse(settings).as_role("reader")
    parameters = {
        "start": start,
        "end": end,
        "tenant": tenant,
        "pdf": bool(pdf or note is None),
        "personal_data": reader.settings.include_personal_data,
    }
    with audit.recorded(reader, audit.EXPORT, target=str(target), parameters=parameters) as event:
        with reader.connect() as conn:
            result = export_all(conn, target, start=start, end=end, tenant=tenant, pdf=bool(pdf or note is None))
        event.row_counts = dict(result.csv_rows)
        event.parameters.update(window=f"{result.window.start}..{result.window.end}", files=len(result.paths))
        if result.csv_errors:
            event.parameters["csv_errors"] = result.csv_errors
    result.pdf_skipped = note
    return result


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
    from dashboards.export.pdf import PdfError

    settings = get_settings()
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


def _reset_warehouse(wh: Warehouse) -> None:
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


def _dagster_log_level() -> str:
    return "DEBUG" if state.verbose else "INFO"


def _grant_for_demo(wh: Warehouse, step: Any) -> None:
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
    from extract.demo.generator import DemoCompany, DemoConfig
    from orchestration.definitions import reset_definitions
    from orchestration.pipeline import run_pipeline

    if tenants < 1 or months < 1:
        raise _fail("--tenants and --months must be at least 1")
    settings = get_settings()
    wh = Warehouse(settings)
    if wh.is_external and not yes:
        raise _fail(f"WAREHOUSE_URL is set ({wh.target.redacted_url()}): the demo replaces its contents; pass --yes")
    with quiet_command("demo", settings.log_dir) as display:
        where = "" if wh.embedded is None else f" (embedded, data in {_shown(wh.embedded.pgdata)})"
        display.step("warehouse: starting" + where)
        _start_warehouse(wh, display.step)
        _reset_warehouse(wh)
        _grant_for_demo(wh, display.step)

        company = DemoCompany(DemoConfig(tenants=tenants, months=months, seed=seed))
        display.step(f"demo company: {tenants} tenants, {company.start} → {company.end}, seed {seed}")
        wh.drop_database(DEMO_APP_DB)
        wh.ensure_database(DEMO_APP_DB)
        counts = company.write_app_database(wh.target.with_db(DEMO_APP_DB).conninfo)
        display.step("app database written: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
        dump_dir = settings.demo_dir / "stripe"
        dump_dir.mkdir(parents=True, exist_ok=True)
        for old in dump_dir.glob("*.json*"):
            old.unlink()
        stripe_counts = company.write_stripe_dump(dump_dir)
        display.step(f"Stripe dump written to {_shown(dump_dir)}: {sum(stripe_counts.values()):,} objects")

        # The runs read the demo's sources from the settings this command built (a scheduled run reads the same
        # keys from the environment or .env, where they are saved next).
        first_partition = settings.partitions_start_date
        if first_partition is None or first_partition > company.start:
            first_partition = company.start
        sources = {
            "APP_DATABASE_URL": wh.target.with_db(DEMO_APP_DB).url,
            "STRIPE_DUMP_DIR": str(dump_dir.resolve()),
            "PARTITIONS_START_DATE": first_partition.isoformat(),
        }
        saved_in, saved, kept = save_settings(sources, "execmetrics demo")
        use_settings(
            settings.model_copy(
                update={
                    "app_database_url": sources["APP_DATABASE_URL"],
                    "app_source_dir": None,
                    "stripe_dump_dir": dump_dir.resolve(),
                    "stripe_api_key": None,
                    "partitions_start_date": first_partition,
                }
            )
        )
        reset_definitions()
        from dagster import DagsterInstance

        instance = None if record_runs else DagsterInstance.ephemeral()
        days = (company.end - company.start).days + 1
        display.step(f"pipeline: Dagster runs over {days} daily partitions, then the monthly ones")
        display.bar("days", "daily partitions", days)
        run_pipeline(
            company.start,
            company.end,
            full_refresh=True,
            progress=display.step,
            instance=instance,
            log_level=_dagster_log_level(),
            watch=display.run_watcher,
        )
        display.advance("days", days)
        display.done("days")

        out_dir = settings.output_dir
        exported = run_export(get_settings(), company.start, company.end, None, out_dir, None)
        display.step(
            f"exports written to {_shown(out_dir)}: CSV of {len(exported.csv_files)} reporting tables, the HTML"
            " board pack" + ("" if exported.pdf_skipped else " and its PDF")
        )
        if exported.pdf_skipped:
            display.step(f"PDF {exported.pdf_skipped}")
        summary_data = collect_summary(company.start, company.end, None, get_settings())

    out.print(render_summary(summary_data))
    elapsed = time.monotonic() - display.began
    board = _shown(exported.html) + ("" if exported.pdf_skipped else f" and {_shown(out_dir / 'board_pack.pdf')}")
    lines = [
        f"\nDemo finished in {elapsed:,.0f}s. Where to look next:",
        f"  • board pack:  {board}; CSV in {_shown(out_dir / 'csv')}",
    ]
    if saved_in is None:
        lines.append(f"  • settings:    not saved (EXECMETRICS_ENV_FILE is empty): set {', '.join(sources)} yourself")
    elif saved:
        lines.append(
            f"  • settings:    the demo's sources are saved in {_shown(saved_in)} ({', '.join(saved)}), so the"
            " commands below use them"
        )
    if kept:
        lines.append(f"  • kept yours:  {', '.join(kept)} (set by you: the commands below read yours, not the demo's)")
    if settings.stripe_api_key is not None:
        lines.append("  • note:        STRIPE_API_KEY is set: later runs read the Stripe API, not the demo's dump")
    lines += [
        f"  • Dagster UI:  .venv/bin/execmetrics ui   (then open http://127.0.0.1:{settings.ui_port})",
        f"  • backfill:    .venv/bin/execmetrics backfill --start {company.end} --end {company.end}",
        f"  • summary:     .venv/bin/execmetrics summary --start {company.start} --end {company.end}",
        f"  • export:      .venv/bin/execmetrics export --start {company.start} --end {company.end}",
        "  • dbt:         source .venv/bin/activate && dbt build   (profiles.yml at the repo root reaches this"
        " warehouse)",
        f"  • marts:       psql \"{wh.target.redacted_url()}\" -c 'select * from marts.fct_daily_metrics limit 5'",
    ]
    if display.log_file is not None:
        lines.append(f"  • logs:        {_shown(display.log_file)} (Dagster's and dbt's)")
    out.print("\n".join(lines), highlight=False)


# ------------------------------------------------------------------------------------------------ orchestration


class _Stop(Exception):
    """SIGTERM or SIGHUP: stop like Ctrl-C."""


def _stop_on_signal(signum: int, frame: Any) -> None:
    raise _Stop(signal.Signals(signum).name)


@app.command("ui")
def ui_command(
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: UI_PORT or 3000).")] = None,
) -> None:
    """Start the Dagster UI (dagster-webserver) and the daemon (schedules, backfills) on 127.0.0.1."""
    from orchestration.ui import daemon_healthy, start_ui

    settings = get_settings()
    _start_warehouse(Warehouse(settings))
    # A supervisor (or `kill`) stops it as Ctrl-C does: the webserver and the daemon stop with it.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)
    procs = None
    try:
        procs = start_ui(port=port, settings=settings)
        storage = "Postgres (DAGSTER_PG_URL)" if settings.dagster_pg_url else "SQLite"
        logs = procs.home / "logs"
        out.print(f"Dagster UI: {procs.url}   (DAGSTER_HOME={procs.home}, {storage} storage; logs in {logs})")
        out.print("Ctrl-C (or SIGTERM) stops the webserver and the daemon.")
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
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # stopping is not interrupted by a second signal
        if procs is not None:
            procs.stop()
            out.print("Stopped the Dagster webserver and daemon.")


def check_sources(settings: Settings) -> None:
    """Fail before any run when the pipeline has no app or Stripe source, or a source cannot be read."""
    from extract.stripe.dump import dump_files

    hint = "(in the environment or .env; `make demo` sets up the demo's)"
    if not (settings.app_database_url or settings.app_source_dir):
        raise _fail(f"no app source configured: set APP_DATABASE_URL (a SQLAlchemy URL) or APP_SOURCE_DIR {hint}")
    if not settings.app_database_url and settings.app_source_dir and not settings.app_source_dir.is_dir():
        raise _fail(f"APP_SOURCE_DIR {settings.app_source_dir} is not a folder")
    if settings.stripe_api_key is None:
        if settings.stripe_dump_dir is None:
            raise _fail(f"no Stripe source configured: set STRIPE_API_KEY (live API) or STRIPE_DUMP_DIR {hint}")
        dump_files(settings.stripe_dump_dir)  # DumpError: missing folder, unknown or no files


@app.command("backfill")
def backfill_command(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day (inclusive).")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day (inclusive).")],
    chunk_days: Annotated[int, typer.Option("--chunk-days", help="Days per run (0: the whole range in one run).")] = 0,
    full_refresh: Annotated[bool, typer.Option(help="Rebuild incremental models and reload Stripe fully.")] = False,
    deliver_historical: Annotated[
        bool,
        typer.Option(
            "--deliver-historical", help="Also send the alerts of days older than max_age_days (channels file)."
        ),
    ] = False,
) -> None:
    """Backfill the daily partitions start..end (and their months) through Dagster, in one run or chunks.

    Alerts of old days are recorded but not sent unless --deliver-historical; recent ones are sent once."""
    from orchestration.partitions import chunk_days as split
    from orchestration.partitions import partitions_start, reporting_timezone
    from orchestration.pipeline import run_pipeline

    first, last = start.date(), end.date()
    if last < first:
        raise _fail("--end is before --start")
    if chunk_days < 0:
        raise _fail("--chunk-days must be 0 (one run) or more")
    settings = get_settings()
    if first < partitions_start():
        raise _fail(
            f"{first} is before the first daily partition {partitions_start()}: set PARTITIONS_START_DATE earlier"
        )
    today = datetime.now(ZoneInfo(reporting_timezone())).date()
    if last > today:
        raise _fail(f"{last} is in the future: the last daily partition is today, {today}")
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
        _start_warehouse(wh, display.step)
        chunks = split(first, last, chunk_days)
        display.step(f"backfill {first}..{last}: {len(chunks)} run(s) of the daily job (+ the monthly job)")
        display.bar("days", "daily partitions", (last - first).days + 1)
        with audit.recorded(wh, audit.BACKFILL, target="daily_job+monthly_job", parameters=parameters) as event:
            rows: dict[str, int] = {}
            event.row_counts = rows
            for chunk_first, chunk_last in chunks:
                result = run_pipeline(
                    chunk_first,
                    chunk_last,
                    full_refresh=full_refresh,
                    progress=display.step,
                    log_level=_dagster_log_level(),
                    watch=display.run_watcher,
                    deliver_historical=deliver_historical,
                )
                event.parameters["runs"] += result.run_ids
                for asset, count in result.row_counts.items():
                    rows[asset] = rows.get(asset, 0) + count
                display.advance("days", (chunk_last - chunk_first).days + 1)
                display.step(f"{chunk_first}..{chunk_last} done: runs {', '.join(result.run_ids)}")
    finished = f"Backfill {first}..{last} finished in {time.monotonic() - display.began:,.0f}s"
    log = f"; Dagster's and dbt's logs: {_shown(display.log_file)}" if display.log_file else ""
    out.print(finished + log, highlight=False)


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
    wh = Warehouse()
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
