"""`execmetrics dashboards ...`: Metabase dashboards kept as code (specs in dashboards/specs/)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dashboards.metabase.apply import apply_specs
from dashboards.metabase.client import MetabaseError
from dashboards.metabase.config import MetabaseSettings
from dashboards.spec import SPECS_DIR, SpecError, load_specs

dashboards_app = typer.Typer(help=__doc__, no_args_is_help=True)

console = Console(stderr=True)
out = Console()


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


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
) -> None:
    """Create or update the collection, the warehouse connection, the cards and the dashboards in Metabase.

    Needs METABASE_URL and METABASE_API_KEY (or METABASE_USER + METABASE_PASSWORD). Without METABASE_URL,
    --dry-run plans offline (everything would be created). Re-running changes nothing that is already right.
    """
    try:
        all_specs = load_specs()
        specs = load_specs(only=only) if only else all_specs
    except SpecError as exc:
        raise _fail(str(exc)) from None
    settings = MetabaseSettings()
    connection = settings.warehouse_connection()
    if not settings.configured:
        if not dry_run:
            raise _fail("set METABASE_URL and METABASE_API_KEY (or METABASE_USER and METABASE_PASSWORD)")
        console.print("METABASE_URL is not set: offline plan (everything would be created).")
        report = apply_specs(
            None, specs, connection, collection_name=settings.collection, dry_run=True, all_specs=all_specs
        )
    else:
        try:
            with settings.client() as client:
                report = apply_specs(
                    client,
                    specs,
                    connection,
                    collection_name=settings.collection,
                    dry_run=dry_run,
                    all_specs=all_specs,
                )
        except MetabaseError as exc:
            raise _fail(str(exc)) from None
    for line in report.lines():
        out.print(line, highlight=False, soft_wrap=True)
