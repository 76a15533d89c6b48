"""`execmetrics alerts ...`: the channels file, test messages, and which alerts reached whom."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dashboards.delivery.config import load_channels
from extract.settings import load_settings
from orchestration.terminal import CommandError

alerts_app = typer.Typer(help=__doc__, no_args_is_help=True)

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def _fail(message: str) -> CommandError:
    """The failure to raise: `execmetrics` prints it as one `error:` line and exits 1."""
    return CommandError(message)


@alerts_app.command("validate")
def validate_cmd() -> None:
    """Load and check the channels file (ALERTS_CONFIG, default alerts.yml)."""
    path = load_settings().alerts_config
    config = load_channels(path)
    names = ", ".join(f"{name} ({channel.type})" for name, channel in config.channels.items()) or "none"
    out.print(f"{path} is valid: channels {names}", highlight=False)
    if config.board_pack:
        out.print(f"board pack: {len(config.board_pack.to)} recipient(s)")
    if config.pipeline_health:
        out.print(f"pipeline health: channel {config.pipeline_health.channel}")


@alerts_app.command("test")
def test_cmd(
    channel: Annotated[str, typer.Option("--channel", help="The channel's name in the channels file.")],
) -> None:
    """Send a test message to one channel (with the channel's retries); each try goes to the audit log."""
    from dashboards.delivery.deliver import send_test_message

    outcome = send_test_message(
        load_settings(), channel, lambda message: console.print(escape(message), highlight=False)
    )
    if not outcome.ok:
        raise _fail(f"{channel}: not delivered after {outcome.attempts} tries: {outcome.detail}")
    if outcome.audit_error:
        raise _fail(f"{channel}: the test message was delivered, but {outcome.audit_error}")
    out.print(f"{channel}: test message delivered ({outcome.detail})", highlight=False)


@alerts_app.command("list")
def list_cmd(
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (default: 7 days before today).")
    ] = None,
) -> None:
    """The alerts since a day and, per channel, whether each was sent, held, suppressed or failed (as the reader)."""
    from dashboards.delivery.deliver import list_alerts
    from dashboards.delivery.messages import fmt_number

    first = since.date() if since else date.today() - timedelta(days=7)
    found = list_alerts(load_settings(), first)
    table = Table("day", "tenant", "metric", "rule", "severity", "value", "threshold / expected", "deliveries")
    for day, tenant, metric, rule, severity, value, expected, delivered in found:
        table.add_row(
            str(day), tenant, metric, rule, severity or "", fmt_number(value), fmt_number(expected),
            delivered.strip() or "not delivered",
        )  # fmt: skip
    table.title = f"{len(found)} alert(s) since {first}"
    out.print(table)
