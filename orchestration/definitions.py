"""The Dagster code location: merges the parts defined in assets/, checks/, jobs.py, schedules.py, sensors.py and
resources.py.

`build_definitions(settings)` builds every part from one Settings object, handed down: the partitions (first day,
timezone), the dbt project and its manifest (`dbt parse` when missing or stale), the resources' fields. The code
location (`@definitions`, loaded lazily by `dagster-webserver -m orchestration.definitions` / `execmetrics ui`)
builds it from the environment and settings files; `orchestration.pipeline` builds it from the settings its caller
hands over (the demo's sources, a test's warehouse).
"""

from __future__ import annotations

import warnings

from dagster import Definitions, PreviewWarning, SupersessionWarning, definitions

from extract.settings import Settings, load_settings


def build_definitions(settings: Settings) -> Definitions:
    from orchestration.assets import assets_definitions, dbt_keys
    from orchestration.assets.dbt import DAILY, MONTHLY, build_dbt_assets, dbt_project, load_manifest
    from orchestration.assets.delivery import build_delivery_asset
    from orchestration.assets.extract import build_extract_assets
    from orchestration.checks import checks_definitions, freshness_check_keys, freshness_checks
    from orchestration.jobs import jobs_definitions
    from orchestration.partitions import (
        backfill_policy,
        daily_partitions,
        monthly_partitions,
        reporting_timezone,
    )
    from orchestration.resources import resources_definitions
    from orchestration.schedules import schedules_definitions
    from orchestration.sensors import sensors_definitions
    from orchestration.sqlite_storage import quick_sqlite_commits

    quick_sqlite_commits(settings.dagster_home)  # a run worker's instance (DAGSTER_HOME) is opened after this

    timezone = reporting_timezone(settings)
    daily, monthly = daily_partitions(settings), monthly_partitions(settings)
    backfill = backfill_policy(settings.backfill_max_partitions_per_run)
    project = dbt_project(settings)
    manifest = load_manifest(settings, project)
    extract = build_extract_assets(daily, backfill)
    delivery = build_delivery_asset(daily, backfill)
    dbt = {d.op.name: d for d in build_dbt_assets(project, manifest, {DAILY: daily, MONTHLY: monthly}, backfill)}
    has_monthly = bool(dbt_keys(dbt, "dbt_monthly"))
    with warnings.catch_warnings():
        # Partitioned asset checks are "preview"; time-partition freshness checks are "superseded" by
        # FreshnessPolicy (not yet able to express a per-partition deadline): both are used on purpose.
        warnings.simplefilter("ignore", PreviewWarning)
        warnings.simplefilter("ignore", SupersessionWarning)
        freshness = freshness_checks(timezone, settings.marts_due_by, dbt)
        return Definitions.merge(
            assets_definitions(extract, dbt, delivery),
            checks_definitions(freshness, daily),
            jobs_definitions(freshness_check_keys(freshness), has_monthly),
            schedules_definitions(settings, has_monthly),
            sensors_definitions(settings),
            resources_definitions(settings, project),
        )


@definitions
def defs() -> Definitions:
    return build_definitions(load_settings())
