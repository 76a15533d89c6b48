"""A warehouse with the roles granted and the whole pipeline run through them (extracts as the loader, dbt as the
transformer), on the session's real Postgres. Role names get a per-module prefix: roles belong to the server, not
to one database, so modules never share (or fight over) them."""

from __future__ import annotations

import secrets
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ORCHESTRATION_TESTS = Path(__file__).resolve().parent.parent / "orchestration"
sys.path.insert(0, str(ORCHESTRATION_TESTS))

from access_helpers import FIRST_DAY, LAST_DAY, TENANTS, Granted  # noqa: E402
from orch_helpers import write_app_source, write_stripe_dump  # noqa: E402

from extract.access import PARTS, password_variable  # noqa: E402
from extract.settings import Settings  # noqa: E402
from extract.warehouse import Target, Warehouse  # noqa: E402
from tests.conftest import throwaway_database  # noqa: E402


def _drop_roles(admin: Target, prefix: str) -> None:
    with psycopg.connect(admin.with_db("postgres").conninfo, autocommit=True) as conn:
        for part in PARTS:
            conn.execute(f'drop role if exists "{prefix}_{part}"')


@pytest.fixture(scope="module")
def granted_env(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Granted]:
    """A fresh database, its roles granted (passwords from the settings, as an external warehouse needs)."""
    name = "a_" + uuid.uuid4().hex[:12]
    prefix = "t" + uuid.uuid4().hex[:8]
    root = tmp_path_factory.mktemp("access")
    env = {
        "WAREHOUSE_URL": pg_server.with_db(name).url.replace("+psycopg", ""),
        "WAREHOUSE_DIR": str(root / "warehouse"),
        "WAREHOUSE_ROLE_PREFIX": prefix,
        "DAGSTER_HOME": str(root / "dagster_home"),
        "OUTPUT_DIR": str(root / "out"),
        "APP_SOURCE_DIR": str(write_app_source(root / "app", FIRST_DAY, LAST_DAY, tenants=TENANTS)),
        "STRIPE_DUMP_DIR": str(write_stripe_dump(root / "stripe", FIRST_DAY, tenants=TENANTS)),
        "PARTITIONS_START_DATE": FIRST_DAY.isoformat(),
        "COMPANY_FOUNDED_DATE": "2025-09-01",
        "REPORTING_TIMEZONE": "UTC",
        "EXECMETRICS_ACTOR": "access-tests",
        **{password_variable(part): secrets.token_urlsafe(12) for part in PARTS},
    }
    try:
        with throwaway_database(pg_server, name) as target, pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            for key in ("STRIPE_API_KEY", "APP_DATABASE_URL", "DAGSTER_PG_URL", "INCLUDE_PERSONAL_DATA"):
                mp.delenv(key, raising=False)
            yield Granted(Warehouse(Settings()), target, root, env, prefix)
    finally:
        _drop_roles(pg_server, prefix)  # after the database is dropped: the roles hold privileges in it


@pytest.fixture(scope="module")
def built(granted_env: Granted) -> Granted:
    """`execmetrics warehouse grant`, then `execmetrics backfill` over a week of both sources: the Dagster pipeline,
    each part as its role (extracts and checks as the loader, dbt as the transformer)."""
    from typer.testing import CliRunner

    from orchestration.cli import app

    runner = CliRunner()
    granted = runner.invoke(app, ["warehouse", "grant"])
    assert granted.exit_code == 0, granted.output
    backfill = runner.invoke(app, ["backfill", "--start", FIRST_DAY.isoformat(), "--end", LAST_DAY.isoformat()])
    assert backfill.exit_code == 0, backfill.output
    return granted_env
