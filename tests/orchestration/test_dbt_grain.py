"""Grain is dbt config: every model carries exactly one grain tag, set per folder in dbt_project.yml, and the daily
and monthly jobs select by that tag, never by a model's name or path."""

from __future__ import annotations

from typing import Any

import pytest
from dagster import AssetKey

from orchestration.assets.dbt import (
    BUILDABLE,
    DAILY,
    MONTHLY,
    DbtGrainError,
    check_grains,
    dbt_project,
    grain_of,
    load_manifest,
    translator,
)

# The monthly models today; a model moves between schedules only by moving between <layer>/.../daily and /monthly
# (marts/<domain>/, reporting/).
MONTHLY_MODELS = {
    "rpt_cohort_retention",
    "rpt_customers",
    "rpt_failed_payments",
    "rpt_invoice_dunning",
    "rpt_mrr_movements",
    "rpt_outstanding_invoices",
    "rpt_revenue_monthly",
    "dim_revenue_customers",
    "fct_cohort_retention",
    "fct_cohort_revenue_retention",
    "fct_failed_payments",
    "fct_finance_monthly",
    "fct_invoice_dunning",
    "fct_mrr_movements",
    "fct_outstanding_invoices",
    "fct_payments_monthly",
    "fct_revenue_monthly",
}


def test_every_model_has_exactly_one_grain_tag(definitions_env) -> None:  # noqa: ANN001
    manifest = load_manifest(definitions_env.settings, dbt_project(definitions_env.settings))
    buildable = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] in BUILDABLE}
    assert len(buildable) > 40
    for uid, node in buildable.items():
        assert len(grain_of(node)) == 1, (uid, node["tags"])
    monthly = {node["name"] for node in buildable.values() if grain_of(node) == {MONTHLY}}
    assert monthly == MONTHLY_MODELS
    daily_names = {node["name"] for node in buildable.values() if grain_of(node) == {DAILY}}
    assert {"fct_daily_metrics", "fct_mrr_daily", "int_daily_spine", "stg_app__events", "fx_rates"} <= daily_names
    # the alerts and what they read: built by every daily partition
    alerting = {"alert_metrics", "alert_thresholds", "int_daily_revenue_changes", "fct_metric_anomaly_scores"}
    assert alerting | {"fct_metric_alerts"} <= daily_names
    # the fresh KPIs are daily: built by every daily partition, as of its last day
    assert {"rpt_kpi_periods", "rpt_tenants", "rpt_alerts", "rpt_subscription_status_daily"} <= daily_names
    check_grains(manifest)  # and no daily model reads a monthly one


def test_daily_and_monthly_jobs_select_by_tag(definitions_env) -> None:  # noqa: ANN001
    from orchestration.assets.delivery import DELIVERY_KEY
    from orchestration.assets.extract import RAW_KEYS
    from orchestration.checks import freshness_check_keys, freshness_checks
    from orchestration.definitions import build_definitions
    from orchestration.jobs import daily_job_selection, monthly_job_selection

    definitions = build_definitions(definitions_env.settings)
    manifest = load_manifest(definitions_env.settings, dbt_project(definitions_env.settings))
    by_tag: dict[str, set[AssetKey]] = {DAILY: set(), MONTHLY: set()}
    for node in manifest["nodes"].values():
        if node["resource_type"] in BUILDABLE:
            (grain,) = grain_of(node)
            by_tag[grain].add(translator().get_asset_key(node))

    assets = {
        name: definitions.resolve_assets_def(AssetKey(["marts", model]))
        for name, model in (("dbt_daily", "fct_daily_metrics"), ("dbt_monthly", "fct_revenue_monthly"))
    }
    assert assets["dbt_daily"].op.tags["dagster_dbt/select"] == "tag:daily"
    assert (
        assets["dbt_daily"].op.tags["dagster_dbt/exclude"]
        == "tag:monthly tag:enforced_at_load tag:checked_in_batch tag:full_build_only"
    )
    assert assets["dbt_monthly"].op.tags["dagster_dbt/select"] == "tag:monthly"
    assert (
        assets["dbt_monthly"].op.tags["dagster_dbt/exclude"]
        == "tag:enforced_at_load tag:checked_in_batch tag:full_build_only"
    )
    assert set(assets["dbt_daily"].keys) == by_tag[DAILY]
    assert set(assets["dbt_monthly"].keys) == by_tag[MONTHLY]

    graph = definitions.get_repository_def().asset_graph
    freshness = freshness_check_keys(freshness_checks("UTC", 4, assets))
    # the alert delivery is tagged daily too: it runs after the daily models, in the same job
    assert daily_job_selection(freshness).resolve(graph) == {*RAW_KEYS, *by_tag[DAILY], DELIVERY_KEY}
    assert DELIVERY_KEY in {key for key in graph.get_all_asset_keys() if DAILY in graph.get(key).tags}
    assert monthly_job_selection(freshness).resolve(graph) == by_tag[MONTHLY]
    # the test that reads a daily and a monthly model is a check of the monthly build, not of the daily one
    monthly_checks = {key.name for key in assets["dbt_monthly"].check_keys}
    assert any(name.startswith("relationships_fct_mrr_daily_customer_id") for name in monthly_checks)
    assert not any(
        name.startswith("relationships_fct_mrr_daily_customer_id")
        for name in (key.name for key in assets["dbt_daily"].check_keys)
    )


def node(name: str, tags: list[str], parents: tuple[str, ...] = (), kind: str = "model") -> tuple[str, dict[str, Any]]:
    uid = f"{kind}.execmetrics.{name}"
    return uid, {"resource_type": kind, "name": name, "tags": tags, "depends_on": {"nodes": list(parents)}}


def manifest_of(*nodes: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"nodes": dict(nodes)}


def test_grain_comes_from_the_tag_not_the_name() -> None:
    # a monthly-sounding name under marts/revenue is daily when its folder says so, and the reverse
    check_grains(
        manifest_of(
            node("fct_revenue_monthly_preview", ["daily"]),
            node("fct_usage_daily_rollup", ["monthly"], ("model.execmetrics.fct_revenue_monthly_preview",)),
        )
    )


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ((node("fct_new", []),), "has grain tags []"),
        ((node("fct_both", ["daily", "monthly"]),), "has grain tags ['daily', 'monthly']"),
        ((node("seed_without", [], kind="seed"),), "seed.execmetrics.seed_without has grain tags []"),
        (
            (node("fct_month", ["monthly"]), node("fct_day", ["daily"], ("model.execmetrics.fct_month",))),
            "fct_day is daily but reads a monthly model",
        ),
        (
            (
                node("fct_month", ["monthly"]),
                node("fct_day", ["daily"]),
                node("rel_day_month", [], ("model.execmetrics.fct_day", "model.execmetrics.fct_month"), kind="test"),
            ),
            "rel_day_month reads a daily and a monthly node: tag it monthly",
        ),
    ],
)
def test_inconsistent_grain_is_refused_with_what_to_fix(nodes: tuple[Any, ...], message: str) -> None:
    with pytest.raises(DbtGrainError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_grains(manifest_of(*nodes))
    # the same test tagged monthly is accepted
    if nodes[-1][1]["resource_type"] == "test":
        uid, test = nodes[-1]
        check_grains(manifest_of(*nodes[:-1], (uid, {**test, "tags": ["monthly"]})))
