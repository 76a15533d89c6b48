"""Day boundaries follow REPORTING_TIMEZONE across both 2025 DST changes (America/New_York).

Spring forward: 2025-03-09 02:00 EST -> 03:00 EDT, so local 03-09 runs 05:00Z .. 04:00Z next day (23 hours).
Fall back:      2025-11-02 02:00 EDT -> 01:00 EST, so local 11-02 runs 04:00Z .. 05:00Z next day (25 hours).
Each event below is placed just inside or outside those local boundaries; in UTC several would land elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from test_product_helpers import dbt, fresh_warehouse, insert, rows, ts  # noqa: I001

from extract.warehouse import Target

EVENTS = [
    # user, UTC instant, local (New York) day
    ("u3", "2025-03-09 04:30", "2025-03-08"),  # 23:30 EST on 03-08
    ("u4", "2025-03-09 05:30", "2025-03-09"),  # 00:30 EST on 03-09
    ("u1", "2025-03-10 03:30", "2025-03-09"),  # 23:30 EDT on 03-09 (UTC day: 03-10)
    ("u2", "2025-03-10 04:30", "2025-03-10"),  # 00:30 EDT on 03-10
    ("u3", "2025-11-02 03:30", "2025-11-01"),  # 23:30 EDT on 11-01 (UTC day: 11-02)
    ("u4", "2025-11-02 04:30", "2025-11-02"),  # 00:30 EDT on 11-02
    ("u5", "2025-11-02 05:30", "2025-11-02"),  # 01:30 EDT, the first 01:30
    ("u5", "2025-11-02 06:30", "2025-11-02"),  # 01:30 EST, the repeated hour: same user, same day
    ("u1", "2025-11-03 04:30", "2025-11-02"),  # 23:30 EST on 11-02 (UTC day: 11-03)
    ("u2", "2025-11-03 05:30", "2025-11-03"),  # 00:30 EST on 11-03
]
EXPECTED_DAU = {"2025-03-08": 1, "2025-03-09": 2, "2025-03-10": 1, "2025-11-01": 1, "2025-11-02": 3, "2025-11-03": 1}


@pytest.fixture(scope="module")
def built(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            insert(conn, "app_tenants", [{"id": "t1", "created_at": ts("2025-03-01 12:00")}])
            insert(
                conn,
                "app_users",
                [{"id": f"u{n}", "tenant_id": "t1", "created_at": ts("2025-03-01 12:00")} for n in range(1, 6)],
            )
            insert(
                conn,
                "app_events",
                [
                    {"id": f"e{i}", "user_id": u, "tenant_id": "t1", "occurred_at": ts(at), "event_type": "login"}
                    for i, (u, at, _) in enumerate(EVENTS)
                ],
            )
            insert(
                conn,
                "app_api_requests",
                [
                    {"id": f"r{i}", "tenant_id": "t1", "duration_ms": 10.0, "occurred_at": ts(at)}
                    for i, (_, at, _) in enumerate(EVENTS)
                ],
            )
        dbt(
            target,
            Path(tmp_path_factory.mktemp("dbt_dst")),
            "+fct_daily_metrics",
            env={"REPORTING_TIMEZONE": "America/New_York"},
        )
        yield target


def test_events_land_on_local_days(built: Target) -> None:
    found = {
        r["day"]: r
        for r in rows(
            built,
            "select metric_date::text as day, dau, events_total, api_requests, reporting_timezone "
            "from marts.fct_daily_metrics where tenant_id = '__all__' and dau > 0",
        )
    }
    assert {day: r["dau"] for day, r in found.items()} == EXPECTED_DAU
    per_day: dict[str, int] = {}
    for _, _, day in EVENTS:
        per_day[day] = per_day.get(day, 0) + 1
    assert {day: r["events_total"] for day, r in found.items()} == per_day
    assert {day: r["api_requests"] for day, r in found.items()} == per_day
    assert {r["reporting_timezone"] for r in found.values()} == {"America/New_York"}


def test_the_spine_has_every_local_day_once(built: Target) -> None:
    span = rows(
        built,
        "select min(metric_date)::text lo, max(metric_date)::text hi, count(*) n "
        "from marts.fct_daily_metrics where tenant_id = '__all__'",
    )[0]
    # tenant created 2025-03-01 07:00 local; last event 11-03 00:30 local: 2025-03-01 .. 2025-11-03 = 248 days
    assert span == {"lo": "2025-03-01", "hi": "2025-11-03", "n": 248}
