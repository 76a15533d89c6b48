"""Dagster resources: the warehouse (from the one settings object), dbt, and the per-partition locks."""

from __future__ import annotations

import fcntl
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from pathlib import Path

import psycopg
from dagster import ConfigurableResource, RetryRequested
from dagster_dbt import DbtCliResource
from packaging.version import Version

from extract.settings import get_settings
from extract.warehouse import Warehouse

# Transient failures (a dropped connection, a server restart) are retried a bounded number of times.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (psycopg.OperationalError, psycopg.InterfaceError)
MAX_RETRIES = 3
RETRY_WAIT_SECONDS = 2.0


class WarehouseResource(ConfigurableResource):  # type: ignore[misc]
    """The warehouse the settings describe (WAREHOUSE_URL or the embedded server, started on demand)."""

    def get(self) -> Warehouse:
        warehouse = Warehouse(get_settings())
        warehouse.ensure_running()
        return warehouse


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


class ExecmetricsDbtCliResource(DbtCliResource):  # type: ignore[misc]
    """DbtCliResource that reads dbt-core's version in-process instead of spawning `dbt --version` every run."""

    @cached_property
    def _cli_version(self) -> Version:
        from dbt.version import __version__

        return Version(__version__)


def dbt_resource() -> DbtCliResource:
    from orchestration.assets.dbt import dbt_project

    project = dbt_project()
    return ExecmetricsDbtCliResource(
        project_dir=str(project.project_dir), profiles_dir=str(project.profiles_dir), dbt_executable=dbt_executable()
    )


def default_resources() -> dict[str, object]:
    return {"warehouse": WarehouseResource(), "dbt": dbt_resource()}


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


def resources_definitions():  # -> Definitions
    from dagster import Definitions

    return Definitions(resources=default_resources())
