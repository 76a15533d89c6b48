"""Shared fixtures: one embedded Postgres per test session, a fresh database per test that asks for one."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from extract.settings import PROJECT_ROOT, Settings, reset_settings
from extract.warehouse import EmbeddedServer, Target, Warehouse, ensure_raw_schema

SHARED_DIR = PROJECT_ROOT.parent / "shared"


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
    os.chmod(base, 0o777)
    server = EmbeddedServer(base, free_port())
    server.start()
    try:
        yield Target("127.0.0.1", server.port, "postgres", "", "postgres")
    finally:
        server.stop()


@pytest.fixture
def pg_target(pg_server: Target) -> Iterator[Target]:
    """A fresh, empty database on the session server (dropped afterwards)."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server.with_db("postgres").conninfo, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield pg_server.with_db(name)
    finally:
        with psycopg.connect(pg_server.with_db("postgres").conninfo, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


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
    reset_settings()
    wh = Warehouse(Settings())
    with wh.connect() as conn:
        ensure_raw_schema(conn)
    yield wh
    reset_settings()


@pytest.fixture
def raw_conn(warehouse: Warehouse) -> Iterator[psycopg.Connection]:
    with warehouse.connect(autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def demo_warehouse(pg_server: Target, tmp_path_factory: pytest.TempPathFactory):
    """The demo company (small config) extracted, loaded and built with dbt, once per session: the warehouse the
    card, export, summary and semantic-layer tests read (tests/reporting/demo_warehouse.py)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent / "reporting"))
    from demo_warehouse import build_demo_warehouse

    name = "demo_" + uuid.uuid4().hex[:8]
    admin = pg_server.with_db("postgres").conninfo
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    target = pg_server.with_db(name)
    try:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            ensure_raw_schema(conn)
        yield build_demo_warehouse(target, tmp_path_factory.mktemp("demo_warehouse"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
