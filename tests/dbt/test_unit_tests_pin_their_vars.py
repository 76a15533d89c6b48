"""Every dbt unit test pins the vars it depends on: run with every var of dbt_project.yml set to another valid value
(another preset with every policy overridden, another timezone and currency, other activation, cohort, funnel and
anomaly settings, a far partition window), the unit tests still pass. A unit test that inherits a var from the caller
would fail here, as the chartmogul and profitwell presets used to fail `dbt build`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml  # type: ignore[import-untyped]

from extract.settings import PROJECT_ROOT
from extract.warehouse import Target, ensure_raw_schema
from orchestration.dbt_cli import run_dbt
from tests.conftest import throwaway_database

CALLER_VARS: dict[str, Any] = {
    "reporting_timezone": "Pacific/Chatham",
    "reporting_currency": "EUR",
    "min_date": "2031-01-01",
    "max_date": "2031-01-02",
    "lookback_days": 9,
    "revenue_policy": "chartmogul",
    "policy_churn_recognition": "cancellation",
    "policy_past_due_grace_days": 3,
    "policy_trials": "include",
    "policy_discounts": "none",
    "policy_full_discount_as_free": False,
    "policy_pauses": "keep",
    "policy_refunds": "full_refund_zero",
    "policy_reactivation_window_months": 2,
    "policy_same_month_new_churn": "count_both",
    "activation_events": ["login"],
    "activation_window_days": 2,
    "activation_min_count": 3,
    "reactivation_dormant_days": 5,
    "cohort_max_weeks": 3,
    "cohort_max_months": 2,
    "funnel_window_days": 3,
    "anomaly_metrics": ["dau"],
    "anomaly_history_days": 10,
    "anomaly_min_history_days": 5,
    "anomaly_z_threshold": 1.5,
    "anomaly_min_volume": 2,
    "anomaly_min_relative_scale": 0.5,
    "segment_mid_market_min_mrr": 40,
    "segment_enterprise_min_mrr": 900,
    "include_personal_data": "true",
}


def test_the_caller_vars_cover_every_project_var() -> None:
    project_vars = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]
    assert set(project_vars) == set(CALLER_VARS), "a var was added or removed: give it another value here"
    for name, value in CALLER_VARS.items():
        assert value != project_vars[name], f"{name} keeps its default: the test would not see it inherited"


@pytest.fixture(scope="module")
def empty_marts(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, Path]]:
    """A warehouse whose relations exist, built on empty raw tables: unit tests read their parents' columns."""
    work = tmp_path_factory.mktemp("unit_vars")
    with throwaway_database(pg_server, "ut_" + uuid.uuid4().hex[:12]) as target:
        with psycopg.connect(target.conninfo) as conn:
            ensure_raw_schema(conn)
        run_dbt(["seed"], target, target_path=work / "dbt_target")
        run_dbt(["run"], target, target_path=work / "dbt_target")
        yield target, work


def test_unit_tests_pass_whatever_the_caller_vars(empty_marts: tuple[Target, Path]) -> None:
    target, work = empty_marts
    result = run_dbt(["test", "--select", "test_type:unit"], target, dbt_vars=CALLER_VARS, target_path=work / "t")
    ran = [node.node.name for node in result.result.results]
    assert len(ran) >= 15, ran  # every one of them passed: run_dbt raises on a failed test


def test_unit_tests_ignore_a_window_in_the_environment(empty_marts: tuple[Target, Path]) -> None:
    """Dagster passes a run's window in the environment; a unit test's window is still the one it pins."""
    target, work = empty_marts
    window = {"EXECMETRICS_MIN_DATE": "2031-01-01", "EXECMETRICS_MAX_DATE": "2031-01-02"}
    result = run_dbt(["test", "--select", "test_type:unit"], target, env=window, target_path=work / "env")
    assert len(result.result.results) >= 15
