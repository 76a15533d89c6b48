"""Dagster resources: the warehouse, the app and Stripe sources, the raw-data checks, delivery and dbt, each carrying
its configuration as fields (the launchpad and the Resources page show them), and the per-partition locks.

`resources_from(settings)` builds them from the code location's one Settings object: a field whose value comes from
the environment is an `EnvVar` (the UI shows the variable's name, a run reads its value), any other value (a settings
file's, a default, what the demo hands over) is given as it is. A resource rebuilds the Settings its library code
takes from its own fields only (`settings_from`), never from the environment.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import psycopg
from dagster import ConfigurableResource, EnvVar, RetryRequested
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version
from pydantic import SecretStr

from extract.settings import Settings, settings_from
from extract.warehouse import Warehouse

# Transient failures (a dropped connection, a server restart) are retried a bounded number of times.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (psycopg.OperationalError, psycopg.InterfaceError)
MAX_RETRIES = 3
RETRY_WAIT_SECONDS = 2.0


class SettingsResource(ConfigurableResource):  # type: ignore[misc]
    """A resource whose fields are Settings fields of the same names."""

    def values(self) -> dict[str, Any]:
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        return {name: value for name, value in fields.items() if value is not None}

    def settings(self) -> Settings:
        return settings_from(self.values())

    @classmethod
    def from_settings(cls, settings: Settings) -> Any:
        return cls(**{name: _field_value(name, getattr(settings, name)) for name in cls.model_fields})


def _field_value(name: str, value: Any) -> Any:
    """`EnvVar(NAME)` when the environment gave this text value (so the UI shows its name), else the value."""
    plain = value.get_secret_value() if isinstance(value, SecretStr) else value
    if isinstance(plain, Path):
        plain = str(plain)
    elif isinstance(plain, date):
        plain = plain.isoformat()
    raw = os.environ.get(name.upper())
    if isinstance(plain, str) and raw is not None and (raw == plain or str(Path(raw)) == plain):
        return EnvVar(name.upper())
    return plain


class WarehouseResource(SettingsResource):
    """The warehouse: WAREHOUSE_URL, or the embedded server under WAREHOUSE_DIR (started on demand); the roles; the
    engine dbt builds the models on (DBT_TARGET, SPARK_DIR)."""

    warehouse_url: str | None = None
    warehouse_dir: str
    warehouse_port: int
    warehouse_db: str
    warehouse_role_prefix: str
    warehouse_loader_password: str | None = None
    warehouse_transformer_password: str | None = None
    warehouse_reader_password: str | None = None
    warehouse_tenant_password: str | None = None
    include_personal_data: bool = False
    execmetrics_actor: str | None = None
    dbt_target: str = "warehouse"  # the engine dbt builds on: warehouse (Postgres) or spark
    spark_dir: str | None = None  # with dbt_target spark: where the raw Parquet and Spark's tables live

    def get(self, *others: SettingsResource) -> Warehouse:
        """The warehouse, started when embedded; its settings carry the fields of `others` too (a source's)."""
        values = self.values()
        for other in others:
            values.update(other.values())
        warehouse = Warehouse(settings_from(values))
        warehouse.ensure_running()
        return warehouse


class AppSourceResource(SettingsResource):
    """The app's tables: a SQLAlchemy URL (APP_DATABASE_URL) or a folder of exports (APP_SOURCE_DIR)."""

    app_database_url: str | None = None
    app_source_dir: str | None = None
    app_lookback_hours: int
    app_extract_workers: int
    future_tolerance_minutes: int

    def spec(self) -> str | None:
        return self.app_database_url or self.app_source_dir


class StripeSourceResource(SettingsResource):
    """Stripe: the API (STRIPE_API_KEY, STRIPE_API_BASE) when a key is set, else a JSON dump (STRIPE_DUMP_DIR)."""

    stripe_api_key: str | None = None
    stripe_api_base: str | None = None
    stripe_dump_dir: str | None = None
    stripe_max_requests_per_second: float
    future_tolerance_minutes: int


class RawChecksResource(SettingsResource):
    """The Great Expectations checks: where their project and Data Docs go, the earliest valid timestamp."""

    output_dir: str
    company_founded_date: str | None = None
    partitions_start_date: str | None = None


class DeliveryResource(SettingsResource):
    """Alert and board pack delivery: the channels file (ALERTS_CONFIG), the reporting timezone and currency the
    messages and the board pack use, where the board pack is written, and the Dagster UI's port (for links)."""

    alerts_config: str
    reporting_timezone: str
    reporting_currency: str
    output_dir: str
    ui_port: int

    def channels(self) -> Any:  # -> dashboards.delivery.config.AlertsConfig
        from dashboards.delivery.config import load_config

        return load_config(Path(self.alerts_config))


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


class ExecmetricsDbtCliResource(DbtCliResource):  # type: ignore[misc]
    """DbtCliResource that reads dbt-core's version in-process instead of spawning `dbt --version` every run, and
    builds no dbt adapter in the run's process before starting dbt.

    dagster-dbt builds that adapter (loading dbt's profile, project and adapter plugin: about 2 s of a new run
    worker's CPU, before dbt's own process starts) only for its `fetch_row_counts()` and column metadata, which these
    assets do not use: their row counts come from `with_row_counts` (orchestration/assets/dbt.py) over the
    warehouse's own connection."""

    @cached_property
    def _cli_version(self) -> Version:
        from dbt.version import __version__

        return Version(__version__)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None


def dbt_resource(project: DbtProject) -> DbtCliResource:
    return ExecmetricsDbtCliResource(
        project_dir=str(project.project_dir), profiles_dir=str(project.profiles_dir), dbt_executable=dbt_executable()
    )


def resources_from(settings: Settings, project: DbtProject) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource.from_settings(settings),
        "app_source": AppSourceResource.from_settings(settings),
        "stripe_source": StripeSourceResource.from_settings(settings),
        "raw_checks": RawChecksResource.from_settings(settings),
        "delivery": DeliveryResource.from_settings(settings),
        "dbt": dbt_resource(project),
    }


@contextmanager
def retry_transient(context: object) -> Iterator[None]:
    """Turn a transient warehouse error into a bounded Dagster retry (RetryRequested)."""
    try:
        yield
    except TRANSIENT_ERRORS as exc:
        log = getattr(context, "log", None)
        if log is not None:
            log.warning(f"transient warehouse error, retrying (at most {MAX_RETRIES} times): {exc}")
        raise RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=RETRY_WAIT_SECONDS) from exc


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on a file, for processes sharing this checkout (webserver, daemon, run workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def partition_locks(warehouse: Warehouse, scope: str, keys: Iterable[str]) -> Iterator[None]:
    """Hold a Postgres advisory lock per (scope, partition key) for the duration of the block.

    Two runs touching the same partition of the same assets therefore never work at once: the second waits.
    Keys are locked in sorted order, so overlapping ranges cannot deadlock.
    """
    names = sorted({f"execmetrics:{scope}:{key}" for key in keys})
    with warehouse.connect(autocommit=True) as conn:
        for name in names:
            conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", (name,))
        try:
            yield
        finally:
            with suppress(psycopg.Error):  # the session ends with the connection anyway
                conn.execute("select pg_advisory_unlock_all()")


def resources_definitions(settings: Settings, project: DbtProject):  # -> Definitions
    from dagster import Definitions

    return Definitions(resources=resources_from(settings, project))
