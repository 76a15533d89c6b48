"""The Dagster code location: merges the parts defined in assets/, checks/, jobs.py, schedules.py, sensors.py and
resources.py.

Loaded lazily (`@definitions`): building it prepares the dbt manifest (`dbt parse`) when it is missing or stale.
`dagster-webserver -m orchestration.definitions` / `execmetrics ui` load it; `orchestration.pipeline` runs it
in-process.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

from dagster import Definitions, PreviewWarning, SupersessionWarning, definitions

from orchestration.assets import assets_definitions
from orchestration.checks import checks_definitions
from orchestration.jobs import jobs_definitions
from orchestration.resources import resources_definitions
from orchestration.schedules import schedules_definitions
from orchestration.sensors import sensors_definitions


@lru_cache(maxsize=1)
def build_definitions() -> Definitions:
    with warnings.catch_warnings():
        # Partitioned asset checks are "preview"; time-partition freshness checks are "superseded" by
        # FreshnessPolicy (not yet able to express a per-partition deadline): both are used on purpose.
        warnings.simplefilter("ignore", PreviewWarning)
        warnings.simplefilter("ignore", SupersessionWarning)
        return Definitions.merge(
            assets_definitions(),
            checks_definitions(),
            jobs_definitions(),
            schedules_definitions(),
            sensors_definitions(),
            resources_definitions(),
        )


def reset_definitions() -> None:
    """Forget every cached part (tests change the environment the definitions are built from)."""
    from orchestration.assets import reset_assets
    from orchestration.checks import reset_checks
    from orchestration.partitions import reset_partitions

    build_definitions.cache_clear()
    reset_assets()
    reset_checks()
    reset_partitions()


@definitions
def defs() -> Definitions:
    return build_definitions()
