"""`execmetrics dashboards ...`: Metabase dashboards kept as code (specs in dashboards/specs/)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dashboards.metabase.apply import ApplyReport, apply_specs
from dashboards.metabase.client import MetabaseClient, MetabaseError
from dashboards.metabase.config import MetabaseSettings
from dashboards.metabase.permissions import AccessSpecError, load_access
from dashboards.spec import SPECS_DIR, SpecError, for_tenant, load_specs
from orchestration.terminal import CommandError

dashboards_app = typer.Typer(help=__doc__, no_args_is_help=True)

console = Console(stderr=True)
out = Console()


def _fail(message: str) -> CommandError:
    """The failure to raise: `execmetrics` prints it as one `error:` line and exits 1."""
    return CommandError(message)


@dashboards_app.command("validate")
def validate_cmd() -> None:
    """Load every spec and check it (card names, filters wired to every card using them, clicks, SQL reads only the
    reporting schema)."""
    try:
        specs = load_specs()
    except SpecError as exc:
        raise _fail(str(exc)) from None
    cards = sum(len(s.cards) for s in specs)
    out.print(f"{len(specs)} dashboards, {cards} cards: all specs in {SPECS_DIR} are valid.")


@dashboards_app.command("list")
def list_cmd() -> None:
    """List the dashboards and their cards."""
    try:
        specs = load_specs()
    except SpecError as exc:
        raise _fail(str(exc)) from None
    table = Table("dashboard", "card", "display", "filters", "grid (row, col, w x h)")
    for spec in specs:
        for i, card in enumerate(spec.cards):
            lay = card.layout
            table.add_row(
                f"{spec.name} ({spec.key})" if i == 0 else "",
                card.name,
                card.display,
                ", ".join(card.tags),
                f"{lay.row}, {lay.col}, {lay.size_x} x {lay.size_y}",
            )
    out.print(table)


@dashboards_app.command("apply")
def apply_cmd(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; send no write.")] = False,
    only: Annotated[list[str] | None, typer.Option("--only", help="Apply only this dashboard (key or name).")] = None,
    update_password: Annotated[
        bool,
        typer.Option(
            help="Send the warehouse password again (after rotating it: Metabase masks it, so it cannot be compared)."
        ),
    ] = False,
    tenant: Annotated[
        str | None,
        typer.Option(
            help="One tenant's dashboards, for embedding: their own connection as the tenant role (row-level"
            " security), their own collection, only the cards on marts with a tenant_id, static embedding on."
        ),
    ] = None,
) -> None:
    """Create or update the collection, the warehouse connection (as the reader role), the cards, the dashboards,
    and the groups and permissions of dashboards/access.yml in Metabase. Recorded in the audit log.

    Needs METABASE_URL and METABASE_API_KEY (or METABASE_USER + METABASE_PASSWORD). Without METABASE_URL,
    --dry-run plans offline (everything would be created). Re-running changes nothing that is already right.
    """
    from extract import audit
    from extract.access import role_name
    from extract.settings import load_settings
    from extract.warehouse import Warehouse

    warehouse_settings = load_settings()
    settings = MetabaseSettings()
    collection = settings.collection
    try:
        all_specs = load_specs()
        specs = load_specs(only=only) if only else all_specs
        access = load_access()
        if tenant is not None:
            tenant_specs = [for_tenant(spec, tenant) for spec in specs]
            specs = [spec for spec in tenant_specs if spec is not None]
            all_specs = [t for t in (for_tenant(spec, tenant) for spec in all_specs) if t is not None]
            access = access.admins_only()
            collection = f"{settings.collection} (tenant {tenant})"
        connection = settings.warehouse_connection(warehouse_settings, tenant=tenant)
    except (SpecError, AccessSpecError, ValueError) as exc:
        raise _fail(str(exc)) from None
    reader = role_name(warehouse_settings, "reader")
    if tenant is None and connection.user != reader:
        console.print(
            f"[bold yellow]warning:[/] Metabase connects as {connection.user}, not the read-only role {reader}:"
            " its SQL questions can read whatever that user can (see docs/OPERATIONS.md, Access control)."
        )

    def run(client: MetabaseClient | None, dry: bool) -> ApplyReport:
        return apply_specs(
            client,
            specs,
            connection,
            collection_name=collection,
            dry_run=dry,
            access=access,
            update_password=update_password,
            embed=tenant is not None,
            all_specs=all_specs,
        )

    if not settings.configured:
        if not dry_run:
            raise _fail("set METABASE_URL and METABASE_API_KEY (or METABASE_USER and METABASE_PASSWORD)")
        console.print("METABASE_URL is not set: offline plan (everything would be created).")
        report = run(None, True)
    elif dry_run:
        try:
            with settings.client() as client:
                report = run(client, True)
        except (MetabaseError, AccessSpecError) as exc:
            raise _fail(str(exc)) from None
    else:
        parameters = {
            "only": only or [],
            "tenant": tenant,
            "collection": collection,
            "database": connection.redacted(),
            "update_password": update_password,
        }
        recorder = Warehouse(warehouse_settings).as_role("reader")
        try:
            with (
                audit.recorded(recorder, audit.DASHBOARDS_APPLY, target=settings.url, parameters=parameters) as event,
                settings.client() as client,
            ):
                report = run(client, False)
                event.row_counts = report.counts()
        except (MetabaseError, AccessSpecError, audit.AuditError) as exc:
            raise _fail(str(exc)) from None
    for line in report.lines():
        out.print(line, highlight=False, soft_wrap=True)
