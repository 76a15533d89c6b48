"""Revenue alert rules, unknown metrics, and changed thresholds re-evaluating past days (fct_metric_alerts).

Fixture: the daily revenue fixture of test_daily_metrics_revenue (its docstring has every number), built to
2025-03-31. On 2025-03-10 cus_a2 (tenant tA, 200 USD) stops paying: tA's MRR falls from 300 to 100 and the
all-tenants MRR from 557.68 (a1 100 + a2 200 + b1 107.68 at the March rate + b2 50 + u 100) to 357.68,
-35.86 %: the seed's `mrr_drop_critical` (MRR change <= -5 %, all-tenants row) fires; one paying customer
churns (tA, all tenants).
On 2025-03-15 tB's invoice fails: one failed payment and one past-due subscription, from then on.

The seed's other revenue rules need more than this small company (3 churned customers, 5 failed payments, 10 past
due): the test edits the seed's table, as `dbt seed` would load an edited CSV, and rebuilds only the last day.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from test_daily_metrics_revenue import stripe_objects
from test_product_helpers import dbt, fresh_warehouse, insert, rows, ts  # noqa: I001

from extract.stripe.loader import load_objects
from extract.warehouse import Target
from orchestration.dbt_cli import DbtError

AS_OF = "2025-03-31"
LAST_DAY_ONLY = {"min_date": AS_OF, "max_date": AS_OF}


@pytest.fixture(scope="module")
def built(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, Path]]:
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            insert(
                conn,
                "app_tenants",
                [{"id": t, "created_at": ts("2025-01-01 09:00")} for t in ("tA", "tB", "tC")]
                + [{"id": "tint", "created_at": ts("2025-01-01 09:00"), "is_internal": True}],
            )
            insert(conn, "app_users", [{"id": "u1", "tenant_id": "tA", "created_at": ts("2025-01-01 10:00")}])
            insert(
                conn,
                "app_events",
                [
                    {
                        "id": "e1",
                        "user_id": "u1",
                        "tenant_id": "tA",
                        "occurred_at": ts(f"{AS_OF} 10:00"),
                        "event_type": "login",
                    }
                ],
            )
        with psycopg.connect(target.conninfo) as conn:
            assert load_objects(conn, stripe_objects(), batch_id="fixture").rejected == 0
            conn.commit()
        path = tmp_path_factory.mktemp("dbt_alerts_revenue")
        dbt(target, path, "+fct_metric_alerts", dbt_vars={"max_date": AS_OF})
        yield target, path


def alerts(target: Target, metric: str) -> list[tuple]:
    return [
        (str(r["metric_date"]), r["tenant_id"], r["rule_id"], r["severity"], r["metric_value"])
        for r in rows(
            target,
            "select * from marts.fct_metric_alerts where metric = %s order by metric_date, tenant_id",
            (metric,),
        )
    ]


def seed_sql(target: Target, sql: str) -> None:
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        conn.execute(sql)


RULE = (
    "insert into seeds.alert_thresholds"
    " (rule_id, metric, tenant_scope, comparator, threshold, severity, valid_from) values "
)


def test_an_mrr_drop_fires_on_the_day_it_happens(built: tuple[Target, Path]) -> None:
    target, _ = built
    assert alerts(target, "mrr_change_pct") == [
        ("2025-03-10", "__all__", "mrr_drop_critical", "critical", Decimal("-0.358629"))
    ]
    [row] = rows(target, "select message from marts.fct_metric_alerts where metric = 'mrr_change_pct'")
    assert "MRR fell 5% or more" in row["message"] and "-0.358629" in row["message"]
    # below the seed's bars in this small company: 1 churned customer (>= 3), 1 failed payment (>= 5)
    assert alerts(target, "paying_customers_churned") == [] and alerts(target, "failed_payments") == []


def test_changed_rules_re_evaluate_every_day_they_apply_to(built: tuple[Target, Path]) -> None:
    target, path = built
    seed_sql(
        target,
        RULE + "('churn_any', 'paying_customers_churned', 'all', '>=', 1, 'warning', null),"
        " ('failed_any', 'failed_payments', 'all', '>=', 1, 'critical', null),"
        " ('past_due_any', 'past_due_subscriptions', 'all', '>', 0, 'warning', '2025-03-30')",
    )
    seed_sql(target, "update seeds.alert_thresholds set threshold = -0.5 where rule_id = 'mrr_drop_critical'")
    dbt(target, path, "fct_metric_alerts", command="run", dbt_vars=LAST_DAY_ONLY)

    # a run over 03-31 only re-evaluated the rules on 03-10 and 03-15 as well
    assert alerts(target, "paying_customers_churned") == [
        ("2025-03-10", "__all__", "churn_any", "warning", Decimal("1")),
        ("2025-03-10", "tA", "churn_any", "warning", Decimal("1")),
    ]
    assert alerts(target, "failed_payments") == [
        ("2025-03-15", "__all__", "failed_any", "critical", Decimal("1")),
        ("2025-03-15", "tB", "failed_any", "critical", Decimal("1")),
    ]
    # -36 % is no longer critical (<= -50 %): the warning rule (<= -2 %) is what fires now
    assert [a[2] for a in alerts(target, "mrr_change_pct")] == ["mrr_drop_warning"]
    # valid_from 03-30: past due from 03-15, but the rule applies to 03-30 and 03-31 only
    assert [(a[0], a[1]) for a in alerts(target, "past_due_subscriptions")] == [
        ("2025-03-30", "__all__"), ("2025-03-30", "tB"), ("2025-03-31", "__all__"), ("2025-03-31", "tB")
    ]  # fmt: skip

    # a rule removed: its alerts go, on every day
    seed_sql(target, "delete from seeds.alert_thresholds where rule_id in ('churn_any', 'failed_any', 'past_due_any')")
    dbt(target, path, "fct_metric_alerts", command="run", dbt_vars=LAST_DAY_ONLY)
    assert alerts(target, "paying_customers_churned") == [] and alerts(target, "failed_payments") == []
    # anomalies outside the window were left alone, and nothing is duplicated
    [dupes] = rows(
        target,
        "select count(*) - count(distinct (metric_date, tenant_id, metric, rule)) as n from marts.fct_metric_alerts",
    )
    assert dupes["n"] == 0


def test_an_unknown_metric_fails_the_build_and_says_which(built: tuple[Target, Path]) -> None:
    target, path = built
    seed_sql(target, RULE + "('mrr_typo', 'mrr_dorp', 'all', '<', 0, 'warning', null)")
    try:
        with pytest.raises(DbtError) as failed:
            dbt(target, path, "fct_metric_alerts", command="run", dbt_vars=LAST_DAY_ONLY)
        message = " ".join(str(failed.value).split())
        assert "rule 'mrr_typo' watches unknown metric 'mrr_dorp'" in message
        assert "Known metrics (seeds/alert_metrics.csv): " in message and "mrr_change_pct" in message
    finally:
        seed_sql(target, "delete from seeds.alert_thresholds where rule_id = 'mrr_typo'")
    with pytest.raises(DbtError) as anomaly:
        dbt(
            target,
            path,
            "fct_metric_alerts",
            command="run",
            dbt_vars={**LAST_DAY_ONLY, "anomaly_metrics": ["dau", "daus"]},
        )
    assert "var anomaly_metrics names unknown metric 'daus'" in " ".join(str(anomaly.value).split())


def test_the_seed_rules_name_known_metrics_only() -> None:
    """The shipped seed is checked the same way (the build would fail); the channels file reads the same list."""
    import csv

    from dashboards.delivery.metrics import ALERT_METRICS_SEED, known_metrics

    seed = ALERT_METRICS_SEED.parent / "alert_thresholds.csv"
    with seed.open(encoding="utf-8", newline="") as handle:
        named = {row["metric"] for row in csv.DictReader(handle)}
    assert named <= known_metrics()
    assert {"mrr_change_pct", "paying_customers_churned", "failed_payments", "past_due_subscriptions"} <= named
