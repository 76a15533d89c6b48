"""Orchestration fixtures: one database + Dagster home per test module, fed by small hand-written sources."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from orch_helpers import write_app_source, write_stripe_dump  # noqa: E402

from extract.settings import Settings  # noqa: E402
from extract.warehouse import Target, Warehouse, ensure_raw_schema  # noqa: E402
from tests.conftest import throwaway_database  # noqa: E402

FIRST_DAY = date(2025, 11, 1)
LAST_DAY = date(2025, 11, 7)


@dataclass
class OrchEnv:
    warehouse: Warehouse
    target: Target
    root: Path
    app_dir: Path
    stripe_dir: Path
    env: dict[str, str]
    settings: Settings  # what an entry point builds from `env`


@contextmanager
def _orch_env(target: Target, root: Path) -> Iterator[OrchEnv]:
    """The environment of a module's tests: `target` as the warehouse, sources and DAGSTER_HOME under `root`."""
    app_dir = write_app_source(root / "app", FIRST_DAY, LAST_DAY)
    stripe_dir = write_stripe_dump(root / "stripe", FIRST_DAY)
    env = {
        "WAREHOUSE_URL": target.url.replace("+psycopg", ""),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "OUTPUT_DIR": str(root / "out"),
        "APP_SOURCE_DIR": str(app_dir),
        "STRIPE_DUMP_DIR": str(stripe_dir),
        "PARTITIONS_START_DATE": FIRST_DAY.isoformat(),
        "COMPANY_FOUNDED_DATE": "2025-09-01",
        "REPORTING_TIMEZONE": "UTC",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("STRIPE_API_KEY", raising=False)
        mp.delenv("APP_DATABASE_URL", raising=False)
        mp.delenv("DAGSTER_PG_URL", raising=False)
        settings = Settings()
        warehouse = Warehouse(settings)
        with warehouse.connect() as conn:
            ensure_raw_schema(conn)
        yield OrchEnv(warehouse, target, root, app_dir, stripe_dir, env, settings)


@pytest.fixture(scope="module")
def orch_env(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrchEnv]:
    """A fresh database for the module (its tests run the pipeline and change what is in it)."""
    with (
        throwaway_database(pg_server, "o_" + uuid.uuid4().hex[:12]) as target,
        _orch_env(target, tmp_path_factory.mktemp("orch")) as env,
    ):
        yield env


@pytest.fixture(scope="session")
def _definitions_database(pg_server: Target) -> Iterator[Target]:
    with throwaway_database(pg_server, "o_" + uuid.uuid4().hex[:12]) as target:
        yield target


@pytest.fixture(scope="module")
def definitions_env(_definitions_database: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrchEnv]:
    """`orch_env` for modules that only load the definitions and the dbt manifest and write nothing: they share one
    database, so the manifest (one per database) is parsed once for all of them."""
    with _orch_env(_definitions_database, tmp_path_factory.mktemp("definitions")) as env:
        yield env


@pytest.fixture(scope="session")
def dagster_ui(pg_server: Target, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):  # noqa: ANN201
    """dagster-webserver + dagster-daemon running as processes on a free loopback port (shared with tests/browser)."""
    from ui_harness import shared_ui

    return shared_ui(pg_server, tmp_path_factory, request)
