"""fct_metric_anomaly_scores on a hand-checked series (docs/METRICS.md, "Alerts"): the expected value, the scale and
the z-score, with anomaly_history_days = 14 (the same weekday 1 and 2 weeks back; residuals of the 14 days before).

fct_daily_metrics is written by hand (dau only, the one metric scored), days 0..28 from Monday 2025-03-03:

  t1  days 0..13: 20.
      days 14..20: 22, 24, ..., 34. Expected 20 (the median of days i-7 and i-14, both 20): residuals 2, 4, ..., 14.
      day 21: 40. Expected = median(day 14 = 22, day 7 = 20) = 21; residual 19. The 14 days before (7..20) hold the
              residuals of days 14..20 (days 7..13 have one same-weekday point, so no expected value and no residual):
              median(2, 4, ..., 14) = 8, scale = max(1.4826 x 8, 0.1 x 21, 1) = 11.8608, z = 19 / 11.8608 = 1.6019.
      days 22..27: 22, 23, ..., 27. Expected = median(days 15..20 = 24..34, days 8..13 = 20) = 22, ..., 27: residual 0.
      day 28: 40. Expected = median(day 21 = 40, day 14 = 22) = 31; residual 9. Days 14..27 hold 14 residuals:
              0 x 6, 2, 4, 6, 8, 10, 12, 14, 19, median (2 + 4) / 2 = 3, scale = max(4.4478, 3.1, 1) = 4.4478,
              z = 9 / 4.4478 = 2.0235.
  t2  50 every day, 60 on day 28: expected 50, every residual 0: the scale is the relative floor, 0.1 x 50 = 5; z = 2.
  t3  3 every day, 6 on day 28: expected 3, every residual 0: the scale is the floor of 1 (0.3 < 1); z = 3.

A window one day off either way changes a figure: the 14 days before day 21 taken with day 21 itself (median 9) or
without day 20 (median 7); day 28's without day 14 (median 4); day i - 6 or i - 8 for the same weekday.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from test_product_helpers import dbt, fresh_warehouse, one, rows  # noqa: I001

from extract.warehouse import Target
from orchestration.partitions import dbt_window_env

DAY0 = date(2025, 3, 3)
VARS = {"anomaly_metrics": ["dau"], "anomaly_history_days": 14, "anomaly_min_relative_scale": 0.1}


def day(n: int) -> date:
    return DAY0 + timedelta(days=n)


def series() -> dict[str, list[int]]:
    t1 = [20] * 14 + [22, 24, 26, 28, 30, 32, 34] + [40] + [22, 23, 24, 25, 26, 27] + [40]
    return {"t1": t1, "t2": [50] * 28 + [60], "t3": [3] * 28 + [6]}


@pytest.fixture(scope="module")
def scores(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, Path]]:
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            conn.execute("create schema if not exists marts")
            conn.execute("create table marts.fct_daily_metrics (metric_date date, tenant_id text, dau integer)")
            for tenant, values in series().items():
                with conn.cursor() as cur:
                    cur.executemany(
                        "insert into marts.fct_daily_metrics values (%s, %s, %s)",
                        [(day(n), tenant, value) for n, value in enumerate(values)],
                    )
        tmp = tmp_path_factory.mktemp("dbt_anomaly")
        dbt(target, tmp, "alert_metrics", command="seed")
        dbt(target, tmp, "fct_metric_anomaly_scores", command="run", dbt_vars=VARS)
        yield target, tmp


def score(target: Target, tenant: str, n: int) -> dict:
    return one(
        target,
        "select expected_value, weekday_points, history_points, round(z_score, 4) as z"
        " from marts.fct_metric_anomaly_scores where tenant_id = %s and metric_date = %s and metric = 'dau'",
        [tenant, day(n)],
    )


def test_the_expected_value_is_the_median_of_the_same_weekday_before(scores: tuple[Target, Path]) -> None:
    target, _ = scores
    assert [score(target, "t1", n)["weekday_points"] for n in (0, 6, 7, 13, 14, 28)] == [0, 0, 1, 1, 2, 2]
    assert score(target, "t1", 13)["expected_value"] is None and score(target, "t1", 13)["z"] is None
    assert [score(target, "t1", n)["expected_value"] for n in (14, 21, 22, 27, 28)] == [20, 21, 22, 27, 31]


def test_the_scale_is_the_median_absolute_residual_of_the_days_before(scores: tuple[Target, Path]) -> None:
    target, _ = scores
    assert score(target, "t1", 21) == {
        "expected_value": 21,
        "weekday_points": 2,
        "history_points": 7,
        "z": Decimal("1.6019"),
    }
    assert score(target, "t1", 28) == {
        "expected_value": 31,
        "weekday_points": 2,
        "history_points": 14,
        "z": Decimal("2.0235"),
    }


def test_the_scale_has_a_relative_floor_and_a_floor_of_one(scores: tuple[Target, Path]) -> None:
    target, _ = scores
    assert score(target, "t2", 28)["z"] == 2
    assert score(target, "t3", 28)["z"] == 3
    assert score(target, "t2", 27)["z"] == 0


def test_a_one_day_window_scores_its_day_from_the_history_before_it(scores: tuple[Target, Path]) -> None:
    """An incremental run of day 28 alone reads the 2 x 14 days before it and scores the day as the full build did."""
    target, tmp = scores
    built = rows(target, "select * from marts.fct_metric_anomaly_scores order by tenant_id, metric_date")
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        conn.execute("update marts.fct_metric_anomaly_scores set z_score = -99 where metric_date = %s", [day(28)])
    window = dbt_window_env(day(28), day(29))  # [day 28, day 29): day 28 alone, as its partition run passes it
    dbt(target, tmp, "fct_metric_anomaly_scores", command="run", dbt_vars=VARS, env=window)
    assert rows(target, "select * from marts.fct_metric_anomaly_scores order by tenant_id, metric_date") == built
