"""`execmetrics alerts ...`: the channels file, test messages, and which alerts reached whom."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dashboards.delivery.config import ConfigError, config_path, load_config

alerts_app = typer.Typer(help=__doc__, no_args_is_help=True)

console = Console(stderr=True)
out = Console()


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code=1)


def _config() -> Any:
    path = config_path()
    if not path.exists():
        raise _fail(f"no channels file at {path} (set ALERTS_CONFIG, or copy alerts.example.yml to alerts.yml)")
    try:
        return load_config(path)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


@alerts_app.command("validate")
def validate_cmd() -> None:
    """Load and check the channels file (ALERTS_CONFIG, default alerts.yml)."""
    config = _config()
    names = ", ".join(f"{name} ({channel.type})" for name, channel in config.channels.items()) or "none"
    out.print(f"{config_path()} is valid: channels {names}")
    if config.board_pack:
        out.print(f"board pack: {len(config.board_pack.to)} recipient(s)")
    if config.pipeline_health:
        out.print(f"pipeline health: channel {config.pipeline_health.channel}")


@alerts_app.command("test")
def test_cmd(
    channel: Annotated[str, typer.Option("--channel", help="The channel's name in the channels file.")],
) -> None:
    """Send a test message to one channel (with the channel's retries); the try is logged like any delivery."""
    from dashboards.delivery.deliver import channel_test_notice, notify
    from extract.warehouse import Warehouse, WarehouseError

    config = _config()
    try:
        config.channel(channel)
        warehouse = Warehouse()
        warehouse.ensure_running()
        with warehouse.connect() as conn:
            outcome = notify(
                conn,
                config,
                channel,
                channel_test_notice(channel, config.links.dashboard),
                subject=f"test message to {channel}",
                log=lambda message: console.print(escape(message), highlight=False),
            )
    except (ConfigError, WarehouseError, psycopg.OperationalError) as exc:
        raise _fail(str(exc)) from None
    if not outcome.ok:
        raise _fail(f"{channel}: not delivered after {outcome.attempts} tries: {outcome.detail}")
    out.print(f"{channel}: test message delivered ({outcome.detail})")


LIST_SQL = """
with alerts as (
    select metric_date, tenant_id, metric, rule, severity, metric_value, expected_value
    from marts.fct_metric_alerts
    where metric_date >= %(since)s
),
deliveries as (
    select metric_date, tenant_id, metric, rule,
           string_agg(channel || ': ' || case when kind = 'resolved' then 'resolved ' else '' end || status
                      || case when attempts > 1 then ' (' || attempts || ' tries)' else '' end,
                      ', ' order by channel, kind) as delivered
    from audit.alert_deliveries
    where metric_date >= %(since)s
    group by 1, 2, 3, 4
)
select coalesce(a.metric_date, d.metric_date), coalesce(a.tenant_id, d.tenant_id), coalesce(a.metric, d.metric),
       coalesce(a.rule, d.rule), a.severity, a.metric_value, a.expected_value,
       coalesce(d.delivered, '') || case when a.metric is null then ' (no longer fires)' else '' end
from alerts a
full join deliveries d using (metric_date, tenant_id, metric, rule)
order by 1 desc, 2, 3, 4
"""


def list_rows(conn: psycopg.Connection, since: date) -> list[tuple[Any, ...]]:
    from dashboards.delivery import store

    store.ensure_tables(conn)
    if conn.execute("select to_regclass('marts.fct_metric_alerts') is null").fetchone() == (True,):
        raise ConfigError("marts.fct_metric_alerts does not exist yet: build the marts first (execmetrics backfill)")
    return list(conn.execute(LIST_SQL, {"since": since}).fetchall())


@alerts_app.command("list")
def list_cmd(
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (default: 7 days before today).")
    ] = None,
) -> None:
    """The alerts since a day and, per channel, whether each was sent, held, suppressed or failed."""
    from dashboards.delivery.messages import fmt_number
    from extract.warehouse import Warehouse, WarehouseError

    first = since.date() if since else date.today() - timedelta(days=7)
    try:
        warehouse = Warehouse()
        warehouse.ensure_running()
        with warehouse.connect() as conn:
            found = list_rows(conn, first)
    except (ConfigError, WarehouseError, psycopg.OperationalError) as exc:
        raise _fail(str(exc)) from None
    table = Table("day", "tenant", "metric", "rule", "severity", "value", "threshold / expected", "deliveries")
    for day, tenant, metric, rule, severity, value, expected, delivered in found:
        table.add_row(
            str(day), tenant, metric, rule, severity or "", fmt_number(value), fmt_number(expected),
            delivered.strip() or "not delivered",
        )  # fmt: skip
    table.title = f"{len(found)} alert(s) since {first}"
    out.print(table)
