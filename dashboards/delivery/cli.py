"""`execmetrics alerts ...`: the channels file, test messages, and which alerts reached whom."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dashboards.delivery.config import AlertsConfig, ConfigError, config_path, load_config
from orchestration.terminal import CommandError

alerts_app = typer.Typer(help=__doc__, no_args_is_help=True)

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def _fail(message: str) -> CommandError:
    """The failure to raise: `execmetrics` prints it as one `error:` line and exits 1."""
    return CommandError(message)


def _config() -> AlertsConfig:
    path = config_path()
    if not path.exists():
        raise _fail(f"no channels file at {path}: set ALERTS_CONFIG, or write alerts.yml (docs/OPERATIONS.md)")
    try:
        return load_config(path)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


@alerts_app.command("validate")
def validate_cmd() -> None:
    """Load and check the channels file (ALERTS_CONFIG, default alerts.yml)."""
    config = _config()
    names = ", ".join(f"{name} ({channel.type})" for name, channel in config.channels.items()) or "none"
    out.print(f"{config_path()} is valid: channels {names}", highlight=False)
    if config.board_pack:
        out.print(f"board pack: {len(config.board_pack.to)} recipient(s)")
    if config.pipeline_health:
        out.print(f"pipeline health: channel {config.pipeline_health.channel}")


@alerts_app.command("test")
def test_cmd(
    channel: Annotated[str, typer.Option("--channel", help="The channel's name in the channels file.")],
) -> None:
    """Send a test message to one channel (with the channel's retries); each try goes to the audit log."""
    from dashboards.delivery.deliver import channel_test_notice, notify
    from extract.settings import get_settings
    from extract.warehouse import Warehouse

    config = _config()
    try:
        config.channel(channel)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    warehouse = Warehouse(get_settings())
    if warehouse.embedded is not None:
        warehouse.ensure_running()
    outcome = notify(
        warehouse.as_role("reader"),  # the audit log's writer, as `execmetrics dashboards apply` records
        config,
        channel,
        channel_test_notice(channel, config.links.dashboard),
        subject=f"test message to {channel}",
        log=lambda message: console.print(escape(message), highlight=False),
    )
    if not outcome.ok:
        raise _fail(f"{channel}: not delivered after {outcome.attempts} tries: {outcome.detail}")
    if outcome.audit_error:
        raise _fail(f"{channel}: the test message was delivered, but {outcome.audit_error}")
    out.print(f"{channel}: test message delivered ({outcome.detail})", highlight=False)


LIST_SQL = """
with alerts as (
    select metric_date, tenant_id, tenant_name, metric, rule, severity, metric_value, expected_value
    from reporting.rpt_alerts
    where metric_date >= %(since)s
),
deliveries as (
    select metric_date, tenant_id, metric, rule,
           string_agg(channel || ': ' || case when kind = 'resolved' then 'resolved ' else '' end || status
                      || case when attempts > 1 then ' (' || attempts || ' tries)' else '' end,
                      ', ' order by channel, kind) as delivered
    from {deliveries}
    where metric_date >= %(since)s
    group by 1, 2, 3, 4
)
select coalesce(a.metric_date, d.metric_date), coalesce(a.tenant_name, d.tenant_id), coalesce(a.metric, d.metric),
       coalesce(a.rule, d.rule), a.severity, a.metric_value, a.expected_value,
       coalesce(d.delivered, '') || case when a.metric is null then ' (no longer fires)' else '' end
from alerts a
full join deliveries d using (metric_date, tenant_id, metric, rule)
order by 1 desc, 2, 3, 4
"""

NO_DELIVERIES = (
    "(select null::date as metric_date, null::text as tenant_id, null::text as metric, null::text as rule,"
    " null::text as channel, null::text as kind, null::text as status, null::integer as attempts where false)"
)


def list_rows(conn: psycopg.Connection, since: date) -> list[tuple[Any, ...]]:
    """The alerts of reporting.rpt_alerts since `since` with their deliveries (audit.alert_deliveries, when any
    delivery ran), newest first; a delivery whose alert no longer fires is listed too."""
    from dashboards.delivery import store

    if conn.execute("select to_regclass('reporting.rpt_alerts') is null").fetchone() == (True,):
        raise ConfigError(
            "reporting.rpt_alerts does not exist yet: build the marts first (execmetrics backfill --start D --end D)"
        )
    deliveries = "audit.alert_deliveries" if store.exists(conn) else NO_DELIVERIES
    return list(conn.execute(LIST_SQL.format(deliveries=deliveries), {"since": since}).fetchall())  # type: ignore[arg-type]


@alerts_app.command("list")
def list_cmd(
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (default: 7 days before today).")
    ] = None,
) -> None:
    """The alerts since a day and, per channel, whether each was sent, held, suppressed or failed (as the reader)."""
    from dashboards.delivery.messages import fmt_number
    from extract.settings import get_settings
    from extract.warehouse import Warehouse

    first = since.date() if since else date.today() - timedelta(days=7)
    warehouse = Warehouse(get_settings())
    if warehouse.embedded is not None:
        warehouse.ensure_running()
    try:
        with warehouse.as_role("reader").connect() as conn:
            found = list_rows(conn, first)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    table = Table("day", "tenant", "metric", "rule", "severity", "value", "threshold / expected", "deliveries")
    for day, tenant, metric, rule, severity, value, expected, delivered in found:
        table.add_row(
            str(day), tenant, metric, rule, severity or "", fmt_number(value), fmt_number(expected),
            delivered.strip() or "not delivered",
        )  # fmt: skip
    table.title = f"{len(found)} alert(s) since {first}"
    out.print(table)
