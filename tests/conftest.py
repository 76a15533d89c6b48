"""Shared fixtures: one embedded Postgres per test session, a fresh database per test that asks for one."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from extract.access import require_passwords
from extract.settings import ENV_FILE_VARIABLE, PROJECT_ROOT, Settings
from extract.warehouse import EmbeddedServer, Target, Warehouse, database_options, ensure_raw_schema

SHARED_DIR = PROJECT_ROOT.parent / "shared"

# The tests read their settings from the environment they set, never from a developer's .env (a demo writes one);
# subprocesses inherit this. A test that needs a settings file points EXECMETRICS_ENV_FILE at its own.
os.environ[ENV_FILE_VARIABLE] = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A Postgres server for the whole session: WAREHOUSE_TEST_URL if set, else an embedded one."""
    url = os.environ.get("WAREHOUSE_TEST_URL")
    if url:
        yield Target.from_url(url)
        return
    base = tmp_path_factory.mktemp("warehouse")
    server = EmbeddedServer(base, free_port())
    server.start()
    target = Target("127.0.0.1", server.port, "postgres", "", "postgres")
    require_passwords(target.conninfo, target.user)  # as the CLI's embedded warehouse: roles need a password
    try:
        yield target
    finally:
        server.stop()
        remove_warehouse(server)


def remove_warehouse(server: EmbeddedServer) -> None:
    """Delete a stopped test warehouse's data, also where it lives outside its WAREHOUSE_DIR (run as root)."""
    data = server.pgdata
    if data != server.base_dir / "pgdata":
        shutil.rmtree(data.parent, ignore_errors=True)
    shutil.rmtree(server.base_dir, ignore_errors=True)


@contextmanager
def throwaway_database(server: Target, name: str, options: str = database_options()) -> Iterator[Target]:
    """Database `name` on `server`, created afresh (with `options`: by default as the warehouse creates its database;
    an encoding, an owner) and dropped afterwards."""
    with psycopg.connect(server.with_db("postgres").conninfo, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}"')
        conn.execute(f'create database "{name}" {options}')
    try:
        yield server.with_db(name)
    finally:
        with psycopg.connect(server.with_db("postgres").conninfo, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def pg_target(pg_server: Target) -> Iterator[Target]:
    """A fresh, empty database on the session server (dropped afterwards)."""
    with throwaway_database(pg_server, "t_" + uuid.uuid4().hex[:12]) as target:
        yield target


@pytest.fixture
def pg_database(pg_target: Target) -> str:
    """psycopg conninfo of a fresh, empty database."""
    return pg_target.conninfo


@pytest.fixture
def warehouse(pg_target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """A Warehouse whose settings point at a fresh database with the raw schema in place."""
    monkeypatch.setenv("WAREHOUSE_URL", pg_target.url.replace("+psycopg", ""))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("OUTPUT_DIR", str(tmp_path / "out"))
    wh = Warehouse(Settings())
    with wh.connect() as conn:
        ensure_raw_schema(conn)
    yield wh


@pytest.fixture
def raw_conn(warehouse: Warehouse) -> Iterator[psycopg.Connection]:
    with warehouse.connect(autocommit=True) as conn:
        yield conn


@pytest.fixture
def granted_warehouse(warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """`warehouse` with its roles granted (a per-test role prefix: roles belong to the server, not the database)."""
    from extract.access import PARTS, grant, password_variable

    prefix = "t" + uuid.uuid4().hex[:8]
    monkeypatch.setenv("WAREHOUSE_ROLE_PREFIX", prefix)
    monkeypatch.setenv("WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    for part in PARTS:
        monkeypatch.setenv(password_variable(part), uuid.uuid4().hex)
    admin = Warehouse(Settings())
    grant(admin)
    try:
        yield admin
    finally:
        with psycopg.connect(admin.target.with_db("postgres").conninfo, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{admin.target.dbname}" with (force)')
            for part in PARTS:
                conn.execute(f'drop role if exists "{prefix}_{part}"')


@pytest.fixture(scope="session")
def demo_warehouse(pg_server: Target, tmp_path_factory: pytest.TempPathFactory):
    """The demo company (small config) extracted, loaded and built with dbt, once per session: the warehouse the
    card, export, summary and semantic-layer tests read (tests/reporting/demo_warehouse.py)."""
    import sys

    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here / "reporting"), str(here / "dbt")]
    from demo_warehouse import build_demo_warehouse
    from test_product_helpers import fresh_warehouse

    with fresh_warehouse(pg_server) as target:
        yield build_demo_warehouse(target, tmp_path_factory.mktemp("demo_warehouse"))
