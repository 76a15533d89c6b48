"""fct_metric_alerts: threshold rules from the seed, and robust-z anomalies with weekday seasonality.

Fixture (UTC), 2025-03-01 (a Saturday) .. 2025-04-13 (a Sunday):
  big    API requests: 200-204 on weekdays, 40 on Saturdays and Sundays (a weekday-heavy series),
         and 2000 (10x) on Wednesday 2025-04-09.
         Jobs on Wednesday 2025-04-02: 15 succeeded + 5 failed -> success rate 0.75, below both seed rules
         (warning < 0.95, critical < 0.80, each guarded by jobs_total >= 20).
         Jobs on Thursday 2025-04-03: 19 succeeded + 1 failed -> 0.95, not below 0.95.
  small  3 API requests a day, 30 on 2025-04-09 (10x, but below the minimum volume of 20),
         and 1 succeeded + 1 failed job on 2025-04-02 (success rate 0.5 on a volume of 2: no page).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
from test_product_helpers import dbt, fresh_warehouse, insert, rows, ts  # noqa: I001

from extract.warehouse import Target

SPIKE_DAY = date(2025, 4, 9)
THRESHOLD_DAY = date(2025, 4, 2)

API_SQL = """
insert into raw.app_api_requests (id, tenant_id, method, route, status_code, duration_ms, occurred_at,
                                  _batch_id, _extracted_at)
select %(tenant)s || '-' || d::date || '-' || n, %(tenant)s, 'GET', '/v1/items', 200, 50,
       d + interval '12 hours', 'test', now()
from generate_series(timestamptz '2025-03-01 00:00+00', timestamptz '2025-04-13 00:00+00', interval '1 day') d
cross join lateral generate_series(1, case
    when (d at time zone 'UTC')::date = date '2025-04-09' then %(spike)s
    when extract(isodow from (d at time zone 'UTC')) in (6, 7) then %(weekend)s
    else %(weekday)s + (extract(day from (d at time zone 'UTC'))::int %% %(noise)s)
end) n
"""


def jobs(tenant: str, day: date, succeeded: int, failed: int) -> list[dict]:
    out = []
    for n in range(succeeded + failed):
        start = ts(f"{day} 10:00")
        out.append(
            {
                "id": f"{tenant}-{day}-{n}",
                "tenant_id": tenant,
                "created_at": start,
                "started_at": start,
                "status": "succeeded" if n < succeeded else "failed",
                "finished_at": ts(f"{day} 10:01"),
            }
        )
    return out


@pytest.fixture(scope="module")
def alerts(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            insert(conn, "app_tenants", [{"id": t, "created_at": ts("2025-03-01 00:00")} for t in ("big", "small")])
            insert(conn, "app_users", [{"id": "ub", "tenant_id": "big", "created_at": ts("2025-03-01 00:00")}])
            conn.execute(
                "insert into raw.app_events (id, tenant_id, user_id, event_type, occurred_at, _batch_id, _extracted_at)"
                " select 'ev' || d::date, 'big', 'ub', 'login', d + interval '9 hours', 'test', now()"
                " from generate_series(timestamptz '2025-03-01 00:00+00', timestamptz '2025-04-13 00:00+00',"
                " interval '1 day') d"
            )
            conn.execute(API_SQL, {"tenant": "big", "spike": 2000, "weekend": 40, "weekday": 200, "noise": 5})
            conn.execute(API_SQL, {"tenant": "small", "spike": 30, "weekend": 3, "weekday": 3, "noise": 1})
            insert(
                conn,
                "app_jobs",
                jobs("big", THRESHOLD_DAY, 15, 5)
                + jobs("big", date(2025, 4, 3), 19, 1)
                + jobs("small", THRESHOLD_DAY, 1, 1),
            )
        dbt(target, tmp_path_factory.mktemp("dbt_alerts"), "+fct_metric_alerts")
        yield target


def fired(target: Target, **where: object) -> list[dict]:
    clause = " and ".join(f"{key} = %({key})s" for key in where) or "true"
    return rows(target, f"select * from marts.fct_metric_alerts where {clause} order by metric_date, metric", where)


def test_threshold_breach_fires_once_with_the_most_severe_rule(alerts: Target) -> None:
    hits = fired(alerts, rule="threshold", metric="jobs_success_rate")
    # big on 04-02 breaches both rules -> one row, critical; the all-tenants row (15 + 1 succeeded of 22) too.
    by_tenant = {(h["tenant_id"], h["metric_date"]): h for h in hits}
    assert set(by_tenant) == {("big", THRESHOLD_DAY), ("__all__", THRESHOLD_DAY)}
    big = by_tenant[("big", THRESHOLD_DAY)]
    assert big["severity"] == "critical" and big["rule_id"] == "jobs_success_rate_critical"
    assert float(big["metric_value"]) == 0.75
    assert "tenant big" in big["message"] and "0.75" in big["message"]
    # all tenants: 16 / 22 = 0.7273 -> critical as well; small (volume 2) and big on 04-03 (0.95) never fire
    assert by_tenant[("__all__", THRESHOLD_DAY)]["severity"] == "critical"


def test_ten_x_spike_fires_an_anomaly(alerts: Target) -> None:
    hits = fired(alerts, rule="anomaly", tenant_id="big")
    assert [(h["metric_date"], h["metric"]) for h in hits] == [(SPIKE_DAY, "api_requests")]
    spike = hits[0]
    assert float(spike["expected_value"]) == pytest.approx(200, abs=5)
    assert float(spike["z_score"]) > 50 and spike["severity"] == "critical"
    assert "higher" in spike["message"]
    assert [h["metric_date"] for h in fired(alerts, rule="anomaly", tenant_id="__all__")] == [SPIKE_DAY]


def test_weekend_dip_in_a_weekday_heavy_series_does_not_fire(alerts: Target) -> None:
    weekend = [
        r["metric_date"]
        for r in rows(
            alerts, "select metric_date from marts.fct_daily_metrics where tenant_id = 'big' and api_requests = 40"
        )
    ]
    assert len(weekend) == 14  # the 40-request weekend days are in the mart ...
    assert not [h for h in fired(alerts, tenant_id="big") if h["metric_date"] in weekend]  # ... and never fire


def test_a_tiny_tenant_does_not_page(alerts: Target) -> None:
    assert fired(alerts, tenant_id="small") == []
