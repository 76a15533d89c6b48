"""Jobs: `daily_job` (extracts, their GE checks, the dbt models and tests tagged daily) and `monthly_job` (the dbt
models tagged monthly: cohorts, monthly revenue). Freshness checks are not part of the jobs: a sensor evaluates them."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from orchestration.assets import dbt_keys
from orchestration.assets.dbt import DAILY, MONTHLY
from orchestration.assets.extract import RAW_KEYS

DAILY_JOB = "daily_job"
MONTHLY_JOB = "monthly_job"
PIPELINE_TAG = "execmetrics/pipeline"  # dagster.yaml limits runs with this tag to one at a time


def _without_freshness(selection: AssetSelection) -> AssetSelection:
    from orchestration.checks import freshness_check_keys

    keys = freshness_check_keys()
    return selection - AssetSelection.checks(*keys) if keys else selection


def daily_job_selection() -> AssetSelection:
    """The extracts and every dbt asset tagged daily (the grain tag set per folder in dbt_project.yml)."""
    return _without_freshness(AssetSelection.assets(*RAW_KEYS) | AssetSelection.tag(DAILY, ""))


def monthly_job_selection() -> AssetSelection:
    """Every dbt asset tagged monthly."""
    return _without_freshness(AssetSelection.tag(MONTHLY, ""))


def build_jobs() -> list:
    jobs = [
        define_asset_job(
            DAILY_JOB,
            selection=daily_job_selection(),
            description="Extract app + Stripe for the day(s), GE checks on the raw rows, then the daily dbt models.",
            tags={PIPELINE_TAG: "daily"},
        )
    ]
    if dbt_keys("dbt_monthly"):
        jobs.append(
            define_asset_job(
                MONTHLY_JOB,
                selection=monthly_job_selection(),
                description="The monthly dbt models (cohorts, monthly revenue) for the month(s).",
                tags={PIPELINE_TAG: "monthly"},
            )
        )
    return jobs


def jobs_definitions() -> Definitions:
    return Definitions(jobs=build_jobs())
