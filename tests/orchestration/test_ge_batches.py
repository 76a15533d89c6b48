"""The GE checks compute on the warehouse: a window's rows are counted and checked there, never sent to the process.

GX reads the column names of a query batch by running the batch's query; on a client-side cursor that brought every
row of the window into the check step (1.25 GB for the 30-day setup of the large company at scale 0.02). The batches
are temporary tables on the server instead (`create_temp_table`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from extract.warehouse import Warehouse
from orchestration.checks.ge import validate_raw

DAY = datetime(2025, 11, 3, tzinfo=UTC)
ROWS = 3000


@pytest.fixture
def largest_result() -> Iterator[list[int]]:
    """The row count of every result set GX's engine returned while the test ran."""
    counts: list[int] = []

    def after(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if cursor.description is not None:
            counts.append(cursor.rowcount)

    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield counts
    finally:
        event.remove(Engine, "after_cursor_execute", after)


def _events(conn, day: datetime, rows: int) -> None:  # noqa: ANN001
    conn.execute(
        "insert into raw.app_events (id, tenant_id, event_type, occurred_at, _batch_id)"
        " select %s || g, 't1', 'login', %s + g * interval '1 second', 'b' from generate_series(1, %s) g",
        (f"e{day:%d%H}_", day, rows),
    )


def test_a_window_is_checked_without_its_rows_leaving_the_warehouse(
    warehouse: Warehouse, tmp_path: Path, largest_result: list[int]
) -> None:
    with warehouse.connect() as conn:
        for back in range(1, 8):  # the trailing week the row-count band compares with
            _events(conn, DAY - timedelta(days=back), ROWS)
        _events(conn, DAY, ROWS)
        conn.commit()

    outcomes = validate_raw(
        warehouse, ["app_events"], DAY, DAY + timedelta(days=1), output_dir=tmp_path, founded_day=date(2025, 1, 1)
    )

    assert {(o.level, o.success, o.row_count) for o in outcomes} == {("error", True, ROWS), ("warning", True, ROWS)}
    assert largest_result, "GX ran no query through its engine"
    assert max(largest_result) < 100, f"a result of {max(largest_result)} rows came back to the process"


def test_a_failure_in_a_temporary_batch_is_still_found(warehouse: Warehouse, tmp_path: Path) -> None:
    with warehouse.connect() as conn:
        _events(conn, DAY, ROWS)
        _events(conn, DAY + timedelta(hours=20), 5)  # after "now" below: in the future
        _events(conn, DAY + timedelta(days=1, hours=20), 7)  # after the window: not in the batch
        conn.commit()

    outcomes = {
        o.level: o
        for o in validate_raw(
            warehouse,
            ["app_events"],
            DAY,
            DAY + timedelta(days=1),
            now=DAY + timedelta(hours=18),
            output_dir=tmp_path,
            founded_day=date(2025, 1, 1),
        )
    }

    assert not outcomes["error"].success
    assert outcomes["error"].row_count == ROWS + 5
    assert any(f.startswith("occurred_at is between") and ": 5 unexpected" in f for f in outcomes["error"].failures), (
        outcomes["error"].failures
    )


def _check(warehouse: Warehouse, tmp_path: Path, start: datetime, end: datetime) -> list:
    return validate_raw(warehouse, ["app_events"], start, end, output_dir=tmp_path, founded_day=date(2025, 1, 1))


def _a_week_then_a_quiet_day(warehouse: Warehouse) -> None:
    with warehouse.connect() as conn:
        for back in range(1, 8):
            _events(conn, DAY - timedelta(days=back), ROWS)
        _events(conn, DAY, 5)
        conn.commit()


def _band_of_the_quiet_day(warehouse: Warehouse, tmp_path: Path) -> Any:
    """The day's row-count band, once the rows of the days before the last left raw: only their recorded counts can
    still say how many there were."""
    with warehouse.connect() as conn:
        conn.execute("delete from raw.app_events where occurred_at < %s", (DAY - timedelta(days=1),))
        conn.commit()
    [warning] = [o for o in _check(warehouse, tmp_path, DAY, DAY + timedelta(days=1)) if o.level == "warning"]
    assert not warning.success  # 5 rows are below 0.2 of any of these trailing weeks
    return warning


def test_the_trailing_days_count_as_their_own_checks_recorded_them(warehouse: Warehouse, tmp_path: Path) -> None:
    """The row-count band compares a window with the trailing week. A day its own check validated counts as that
    check recorded it; a day never checked alone is counted in raw."""
    _a_week_then_a_quiet_day(warehouse)
    for back in range(2, 8):  # six of the seven days checked alone, as daily runs check them
        day = DAY - timedelta(days=back)
        _check(warehouse, tmp_path, day, day + timedelta(days=1))

    warning = _band_of_the_quiet_day(warehouse, tmp_path)

    # 6 days as recorded + the last day counted in raw: 7 x ROWS over 7 days
    assert any(f.startswith("row count within") and f"({ROWS}/day)" in f for f in warning.failures), warning.failures


def test_a_day_inside_a_checked_window_counts_as_its_average_day(warehouse: Warehouse, tmp_path: Path) -> None:
    """A backfill checks its range as one window. Each day of it counts as that window's average day, unless the day
    was checked on its own later; the first daily run after a backfill counts nothing in raw for those days."""
    _a_week_then_a_quiet_day(warehouse)
    # the six days before the last, checked as one window: ROWS a day on average
    _check(warehouse, tmp_path, DAY - timedelta(days=7), DAY - timedelta(days=1))
    # one of them gets more rows and is checked alone: its own count, 2 x ROWS, wins over the window's average
    again = DAY - timedelta(days=3)
    with warehouse.connect() as conn:
        _events(conn, again + timedelta(hours=2), ROWS)
        conn.commit()
    _check(warehouse, tmp_path, again, again + timedelta(days=1))

    warning = _band_of_the_quiet_day(warehouse, tmp_path)

    # 5 days at the window's average (ROWS) + 2 x ROWS checked alone + ROWS counted in raw for the last day
    assert any(f.startswith("row count within") and f"({8 * ROWS / 7:.0f}/day)" in f for f in warning.failures), (
        warning.failures
    )


def test_a_stripe_object_that_returns_to_an_earlier_state_passes_its_checks(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """A Stripe object that changes and changes back (a cancellation at period end, then undone) stores its earlier
    payload again as a new version: the same id and payload hash twice is history, not a duplicate."""
    from extract.stripe.loader import load_objects

    created = int(DAY.timestamp()) + 3600
    customer = {"id": "cus_1", "object": "customer", "created": created, "currency": "usd", "metadata": {}}
    with warehouse.connect() as conn:
        for version in (customer, {**customer, "metadata": {"tier": "gold"}}, customer):
            load_objects(conn, [version], batch_id="b")
        conn.commit()
        versions = conn.execute("select count(*) from raw.stripe_customers where id = 'cus_1'").fetchone()
    assert versions == (3,)

    outcomes = validate_raw(
        warehouse, ["stripe_customers"], DAY, DAY + timedelta(days=1), output_dir=tmp_path, founded_day=date(2025, 1, 1)
    )

    assert [(o.level, o.success, o.row_count, o.failures) for o in outcomes if o.level == "error"] == [
        ("error", True, 3, [])
    ]
