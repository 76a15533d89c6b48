"""Benchmark: every Metabase card's SQL on reporting tables sized for 10,000 tenants over 3 years.

    .venv/bin/python bench/cards.py [--tenants 10000] [--years 3] [--repeat 20] [--keep] [--cards NAME ...]

Creates the database `bench_cards` on the warehouse server (dropped first), builds the dbt project on empty raw
tables (so every reporting table exists with its columns and the indexes its dbt config declares), then fills the
reporting tables with synthetic rows in SQL: one row per tenant (plus 'All tenants') and period where the real table
has one (rpt_kpi_periods: every day, week and month; rpt_subscription_status_daily: every day; rpt_revenue_monthly:
every month), sparser rows for alerts, failed payments, invoices and movements. Values vary but mean nothing; only the
shape and the size matter here. Then runs every card of dashboards/specs as Metabase runs it (dashboards.card_sql.fill),
once with the defaults (all tenants) and once filtered to one tenant, `--repeat` times each, and prints each card's
p95 (goal <= 100 ms) with the reporting tables' sizes and indexes. `--cards` runs only the cards named (a card's
name, or `dashboard/name`) and fills only the reporting tables their SQL reads.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH_DB = "bench_cards"
END = date(2026, 10, 31)

# Row drivers: each yields the columns t (tenant number, 0 = 'All tenants'), d (a date) and, where a table needs
# them, g (grain / cohort or period type) and n (period number). {tenants} and {start} / {end} are filled in.
TENANTS = "generate_series(0, {tenants}) t"
DAYS = "generate_series(date '{start}', date '{end}', interval '1 day') d"
MONTHS = "generate_series(date_trunc('month', date '{start}'), date '{end}', interval '1 month') d"
DAY_NUMBER = "(d::date - date '2000-01-01')"
MONTH_NUMBER = "extract(month from d)::integer"
DRIVERS = {
    "rpt_tenants": f"select t, date '{{start}}' as d from {TENANTS}",
    "rpt_kpi_periods": f"""
        select t, p.d, p.g from {TENANTS} cross join (
            select d::date as d, 'day' as g from {DAYS}
            union all select d::date, 'week' from generate_series(
                date_trunc('week', date '{{start}}'), date '{{end}}', interval '7 days') d
            union all select d::date, 'month' from {MONTHS}) p""",
    "rpt_revenue_monthly": f"select t, d::date as d from {TENANTS} cross join {MONTHS}",
    "rpt_subscription_status_daily": f"select t, d::date as d from {TENANTS} cross join {DAYS}",
    "rpt_alerts": f"select t, d::date as d from {TENANTS} cross join {DAYS} where (t * 7 + {DAY_NUMBER}) % 25 = 0",
    "rpt_failed_payments": (
        f"select t, d::date as d from {TENANTS} cross join {DAYS} where t > 0 and (t * 3 + {DAY_NUMBER}) % 60 = 0"
    ),
    "rpt_customers": f"select t, date '{{start}}' as d from {TENANTS} where t > 0",
    "rpt_mrr_movements": (
        f"select t, d::date as d from {TENANTS} cross join {MONTHS} where t > 0 and (t + {MONTH_NUMBER}) % 3 = 0"
    ),
    "rpt_invoice_dunning": (
        f"select t, d::date + 4 as d from {TENANTS} cross join {MONTHS} where t > 0 and (t + {MONTH_NUMBER}) % 10 = 0"
    ),
    "rpt_outstanding_invoices": f"select t, date '{{end}}' - (t % 90) as d from {TENANTS} where t > 0 and t % 5 = 0",
    "rpt_cohort_retention": """
        select 0 as t, m.d::date as d, k.g, c.cohort, n
        from generate_series(date_trunc('month', date '{start}'), date '{end}', interval '1 month') m(d)
        cross join (values ('users'), ('tenants')) c(cohort)
        cross join (values ('week', 26), ('month', 12)) k(g, most) cross join lateral generate_series(0, k.most) n""",
    "rpt_conversion_funnel": f"select 0 as t, d::date as d, n from {MONTHS} cross join generate_series(1, 5) n",
    "metricflow_time_spine": f"select 0 as t, d::date as d from {DAYS}",
}
# tables whose dbt model writes its rows in an order (`order by` in its SQL): filled in the same order, so that
# their pages hold what the real table's hold
WRITE_ORDER = {"rpt_mrr_movements": "d, t"}
TEXT_VALUES = {
    "segment": "(array['enterprise', 'mid-market', 'self-serve', 'non-paying'])[1 + t % 4]",
    "plan": "(array['free', 'team', 'business'])[1 + t % 3]",
    "severity": "(array['critical', 'warning', 'info'])[1 + t % 3]",
    "customer_id": "'cus_' || t",
    "customer_name": "'Customer ' || t",
    "currency": "'usd'",
}


def column_expression(table: str, name: str, data_type: str) -> str:
    if name == "tenant_id":
        return "case t when 0 then '__all__' else 't' || t end"
    if name == "tenant_name":
        return "case t when 0 then 'All tenants' else 'Tenant ' || t end"
    if name == "is_all_tenants":
        return "t = 0"
    if name in ("grain", "period_type"):
        return "g"
    if name == "cohort_type":
        return "cohort"
    if name in ("period_number", "step_number"):
        return "n"
    if name in TEXT_VALUES:
        return TEXT_VALUES[name]
    if data_type == "date":
        return "d"
    if data_type.startswith("timestamp"):
        return "d::timestamptz"
    # cheap varied values (no random(): filling millions of wide rows is the slow part of this bench)
    if data_type == "boolean":
        return "true" if name in ("is_observable", "is_complete") else "(t + d::date - date '2000-01-01') % 2 = 0"
    if data_type in ("integer", "bigint", "smallint"):
        return f"(t * {len(name)} + (d::date - date '2000-01-01')) % 1000"
    if data_type in ("numeric", "double precision", "real"):
        return f"((t * {len(name)} + (d::date - date '2000-01-01')) % 100000) / 100.0"
    return "'v' || (t % 97)::text || '_' || d::text"


def fill(conn: Any, tenants: int, start: date, end: date, tables: Sequence[str] = ()) -> None:
    for table, driver in DRIVERS.items():
        if tables and table not in tables:
            continue
        columns = conn.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'reporting' and table_name = %s order by ordinal_position",
            (table,),
        ).fetchall()
        if not columns:
            raise SystemExit(f"error: reporting.{table} does not exist (did the dbt build fail?)")
        names = ", ".join(f'"{name}"' for name, _ in columns)
        values = ", ".join(column_expression(table, name, kind) for name, kind in columns)
        sql = driver.format(tenants=tenants, start=start.isoformat(), end=end.isoformat())
        t0 = time.perf_counter()
        conn.execute(f"truncate reporting.{table}")
        order = f" order by {WRITE_ORDER[table]}" if table in WRITE_ORDER else ""
        conn.execute(f"insert into reporting.{table} ({names}) select {values} from ({sql}) driver{order}")
        conn.execute(f"analyze reporting.{table}")
        conn.commit()
        rows, size = conn.execute(
            f"select count(*), pg_size_pretty(pg_total_relation_size('reporting.{table}')) from reporting.{table}"
        ).fetchone()
        indexes = [
            row[0]
            for row in conn.execute(
                "select regexp_replace(indexdef, '.* USING btree ', '') from pg_indexes"
                " where schemaname = 'reporting' and tablename = %s",
                (table,),
            )
        ]
        print(
            f"  {table:<32} {rows:>12,} rows {size:>9}  ({time.perf_counter() - t0:5.1f}s)"
            f"  indexes: {', '.join(indexes) or '-'}",
            flush=True,
        )


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database")
    parser.add_argument("--reuse", action="store_true", help=f"run the cards on an existing {BENCH_DB}")
    parser.add_argument("--refill", nargs="*", default=[], help="with --reuse: fill these reporting tables again")
    parser.add_argument("--cards", nargs="*", default=[], help="only these cards (name or dashboard/name)")
    args = parser.parse_args()

    import psycopg

    from dashboards.card_sql import fill as fill_card
    from dashboards.spec import load_specs
    from extract.settings import Settings
    from extract.warehouse import Warehouse, ensure_raw_schema
    from orchestration.dbt_cli import run_dbt

    specs = load_specs()
    chosen = {
        (spec.key, card.name)
        for spec in specs
        for card in spec.cards
        if not args.cards or card.name in args.cards or f"{spec.key}/{card.name}" in args.cards
    }
    if not chosen:
        raise SystemExit(f"error: no card named {', '.join(args.cards)}")
    # the tables the chosen cards read (all of them when every card runs)
    read = (
        set()
        if not args.cards
        else {
            table
            for spec in specs
            for card in spec.cards
            if (spec.key, card.name) in chosen
            for table in re.findall(r"reporting\.(\w+)", card.sql)
        }
    )

    base = Warehouse(Settings())
    base.ensure_running()
    target = base.target.with_db(BENCH_DB)
    start = END - timedelta(days=365 * args.years - 1)
    if not args.reuse:
        base.drop_database(BENCH_DB)
        base.ensure_database(BENCH_DB)
        with psycopg.connect(target.conninfo) as conn:
            ensure_raw_schema(conn)
        t0 = time.perf_counter()
        work = Path(base.settings.warehouse_dir).parent / "target" / "bench_cards"
        run_dbt(["seed", "--quiet"], target, target_path=work)
        run_dbt(["run", "--quiet", "--select", "+reporting"], target, target_path=work)
        print(f"dbt build on empty raw tables: {time.perf_counter() - t0:.0f}s (creates the tables and their indexes)")
        print(f"filling the reporting tables: {args.tenants:,} tenants, {start}..{END}")
        with psycopg.connect(target.conninfo) as conn:
            fill(conn, args.tenants, start, END, sorted(read))

    elif args.refill:
        with psycopg.connect(target.conninfo) as conn:
            fill(conn, args.tenants, start, END, args.refill)

    worst = 0.0
    slow = []
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        tenant = conn.execute(
            "select tenant_name from reporting.rpt_tenants where not is_all_tenants order by tenant_id limit 1"
        ).fetchone()[0]  # type: ignore[index]
        print(f"\n{'card':<64} {'all tenants p95':>16} {'one tenant p95':>15}   (ms, {args.repeat} runs each)")
        for spec in specs:
            for card in spec.cards:
                if (spec.key, card.name) not in chosen:
                    continue
                figures: list[float | None] = []
                for given in ({}, {"tenant": tenant}):
                    if given and "tenant" not in card.tags:
                        figures.append(None)
                        continue
                    sql = fill_card(card, spec, {k: v for k, v in given.items() if k in card.tags})
                    conn.execute(sql).fetchall()  # warm the cache, as a dashboard's second view is
                    times = []
                    for _ in range(args.repeat):
                        t0 = time.perf_counter()
                        conn.execute(sql).fetchall()
                        times.append((time.perf_counter() - t0) * 1000)
                    figures.append(p95(times))
                shown = [f"{f:.1f}" if f is not None else "-" for f in figures]
                label = f"{spec.key}/{card.name}"[:64]
                print(f"{label:<64} {shown[0]:>16} {shown[1]:>15}", flush=True)
                for value in figures:
                    if value is not None:
                        worst = max(worst, value)
                        if value > 100:
                            slow.append(label)
    over = ", ".join(slow) or "none"
    print(f"\n{len(chosen)} cards; worst p95 {worst:.1f} ms (goal <= 100 ms); over the goal: {over}")
    if not args.keep and not args.reuse:
        base.drop_database(BENCH_DB)
    return 0 if worst <= 100 else 1


if __name__ == "__main__":
    raise SystemExit(main())
