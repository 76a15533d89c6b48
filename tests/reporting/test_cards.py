"""Every Metabase card's SQL on the demo-sized warehouse, filled in the way Metabase fills its template tags: with the
defaults, for one tenant, for a narrow window, at each granularity and comparison, with a plan and a segment. Each
run succeeds, returns the columns its visualization and click settings name, and returns rows where the demo has
data."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from dashboards.card_sql import fill, named_columns
from dashboards.spec import CardSpec, DashboardSpec, load_specs, reporting_tables

pytestmark = pytest.mark.slow

SPECS = load_specs()
CARDS = [(spec, card) for spec in SPECS for card in spec.cards]
# tables with a row for every tenant row and period: a card reading only these has rows in every scenario
DENSE = {"rpt_kpi_periods", "rpt_revenue_monthly", "rpt_tenants", "rpt_subscription_status_daily"}


@pytest.fixture(scope="module")
def conn(demo_warehouse) -> Any:
    with demo_warehouse.connect() as c:
        yield c


@pytest.fixture(scope="module")
def scenarios(conn, demo_warehouse) -> dict[str, dict[str, Any]]:
    """Filter values the demo has data for: its top-paying tenant, that tenant's plan and segment, its last month."""
    name, plan, segment = conn.execute(
        "select tenant_name, plan, segment from reporting.rpt_tenants where not is_all_tenants"
        " order by current_mrr desc nulls last limit 1"
    ).fetchone()
    end = demo_warehouse.end
    narrow = {"start_date": end.replace(day=1).isoformat(), "end_date": end.isoformat(), "month": end.replace(day=1)}
    out: dict[str, dict[str, Any]] = {"defaults": {}, "tenant": {"tenant": name}, "narrow window": narrow}
    out["tenant, narrow window"] = {"tenant": name, **narrow}
    out["plan and segment"] = {"plan": plan, "segment": segment}
    for grain in ("day", "week", "month"):
        for compare in ("previous period", "same period last year"):
            out[f"{grain} vs {compare}"] = {"granularity": grain, "compare_to": compare}
    return out


def _run(conn: psycopg.Connection, card: CardSpec, spec: DashboardSpec, given: dict[str, Any]):
    cur = conn.execute(fill(card, spec, {k: v for k, v in given.items() if k in card.tags}))
    return [d.name for d in cur.description or []], cur.fetchall()


def _has_rows(conn: psycopg.Connection, table: str) -> bool:
    return bool(conn.execute(f"select exists (select 1 from reporting.{table})").fetchone()[0])


@pytest.mark.parametrize(("spec", "card"), CARDS, ids=[f"{s.key}/{c.name}" for s, c in CARDS])
def test_card_runs_like_metabase_runs_it(conn, scenarios, spec: DashboardSpec, card: CardSpec) -> None:
    tables = reporting_tables(card.sql)
    has_data = all(_has_rows(conn, t) for t in tables)
    named = named_columns(card)
    for label, given in scenarios.items():
        if label != "defaults" and not set(given) & set(card.tags):
            continue  # the card does not use these filters: same SQL as the defaults
        columns, rows = _run(conn, card, spec, given)
        assert len(columns) == len(set(columns)), (label, columns)
        assert named <= set(columns), (
            f"{label}: the settings name columns the SQL does not return: {named - set(columns)}"
        )
        if label == "defaults" and has_data:
            assert rows, f"{label}: no rows although {', '.join(sorted(tables))} hold data"
        dense = tables <= DENSE and " is not null" not in card.sql
        if dense and label != "plan and segment":
            assert rows, f"{label}: no rows from {', '.join(sorted(tables))}"


def test_a_tenant_narrows_and_all_tenants_is_the_company(conn, scenarios) -> None:
    (spec,) = [s for s in SPECS if s.key == "executive_overview"]
    (mrr,) = [c for c in spec.cards if c.name == "MRR"]
    _, company = _run(conn, mrr, spec, {})
    _, tenant = _run(conn, mrr, spec, scenarios["tenant"])
    _, cleared = _run(conn, mrr, spec, {"tenant": None})
    latest = conn.execute(
        "select sum(mrr) from marts.fct_mrr_daily where day = (select max(day) from marts.fct_mrr_daily)"
    ).fetchone()[0]
    assert company[-1][1] == latest  # the tile's latest value is the ledger's latest day
    assert cleared == company  # an emptied filter shows the company, not every tenant's rows
    assert tenant[-1][1] < company[-1][1]


def test_the_docs_name_exactly_the_reporting_tables_with_a_tenant(conn) -> None:
    """Tenant dashboards keep the cards whose tables have a tenant_id by the models' yml (dashboards.spec.for_tenant):
    the yml must say so of exactly the tables that have one."""
    from dashboards.spec import documented_tables

    built = conn.execute(
        """select table_name, bool_or(column_name = 'tenant_id')
           from information_schema.columns where table_schema = 'reporting' group by table_name"""
    ).fetchall()
    documented = documented_tables()
    assert {name for name, _ in built} <= set(documented)
    assert {name for name, has in built if has} == {
        name for name, columns in documented.items() if "tenant_id" in columns and name in dict(built)
    }
