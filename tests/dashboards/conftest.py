"""Fixtures for the dashboards-as-code tests: specs, the in-memory Metabase and the OpenAPI contract."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_metabase import WAREHOUSE_PASSWORD, FakeMetabase, reporting_columns  # noqa: E402
from metabase_contract import CONTRACT_DIR, MetabaseContract  # noqa: E402

from dashboards.metabase.apply import WarehouseConnection  # noqa: E402
from dashboards.metabase.client import MetabaseClient  # noqa: E402
from dashboards.metabase.permissions import AccessSpec, load_access  # noqa: E402
from dashboards.spec import DashboardSpec, load_specs  # noqa: E402


@pytest.fixture(scope="session")
def contract() -> MetabaseContract:
    if not (CONTRACT_DIR / "openapi.json").is_file():
        pytest.skip(f"Metabase OpenAPI contract not found at {CONTRACT_DIR} (../shared/contracts/metabase)")
    return MetabaseContract(CONTRACT_DIR)


@pytest.fixture
def specs() -> list[DashboardSpec]:
    return load_specs()


@pytest.fixture
def fake() -> FakeMetabase:
    return FakeMetabase(warehouse=reporting_columns(load_specs()))


@pytest.fixture
def client(fake: FakeMetabase) -> MetabaseClient:
    with MetabaseClient("http://metabase.test", api_key=fake.api_key, transport=fake.transport) as c:
        yield c


@pytest.fixture
def connection() -> WarehouseConnection:
    return WarehouseConnection(
        name="execmetrics warehouse",
        host="postgres",
        port=5432,
        dbname="execmetrics",
        user="metabase_ro",
        password=WAREHOUSE_PASSWORD,
    )


@pytest.fixture
def access() -> AccessSpec:
    return load_access()
