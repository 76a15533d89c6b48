"""Every reader reads the reporting layer and nothing else: the Metabase cards (their SQL), execmetrics summary and
the exporter (run as a role that may read only schema `reporting`), and dbt's exposures name each dashboard and the
board pack with exactly the tables they read."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import psycopg
import pytest

from dashboards.export import export_all
from dashboards.spec import load_specs, reporting_tables, sql_problems
from extract.settings import PROJECT_ROOT
from orchestration.dbt_cli import run_dbt
from orchestration.summary import summary

READERS = [
    PROJECT_ROOT / "orchestration" / "summary.py",
    PROJECT_ROOT / "dashboards" / "reporting.py",
    PROJECT_ROOT / "dashboards" / "card_sql.py",
    *sorted((PROJECT_ROOT / "dashboards" / "export").glob("*.py")),
]
RELATION_RE = re.compile(r"\b(from|join)\s+([a-z_]+)\.([a-z_]+)\b(?!\.|\s+import)", re.IGNORECASE)  # SQL, not imports


def test_every_card_reads_only_reporting_tables() -> None:
    for spec in load_specs():
        for card in spec.cards:
            assert sql_problems(card.sql) == [], (spec.key, card.name)
            assert reporting_tables(card.sql), (spec.key, card.name)


def test_the_summary_and_the_exporter_name_no_other_schema() -> None:
    for path in READERS:
        for _, schema, table in RELATION_RE.findall(path.read_text()):
            # the catalog reads which reporting tables exist from information_schema
            assert schema in ("reporting", "information_schema"), f"{path.name} reads {schema}.{table}"


@pytest.mark.slow
def test_the_summary_and_the_exporter_run_as_a_reporting_only_role(demo_warehouse, tmp_path: Path) -> None:
    role = "reporting_only_" + uuid.uuid4().hex[:8]
    with demo_warehouse.connect() as admin:
        admin.execute(f"create role {role}")
        admin.execute(f"grant usage on schema reporting to {role}")
        admin.execute(f"grant select on all tables in schema reporting to {role}")
    try:
        with psycopg.connect(demo_warehouse.target.conninfo, autocommit=True) as conn:
            conn.execute(f"set role {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select 1 from marts.fct_daily_metrics limit 1")  # the role is what it says
            numbers = summary(conn, demo_warehouse.start, demo_warehouse.end, None)
            result = export_all(conn, tmp_path / "out", pdf=False, currency="USD", timezone="UTC")
        assert numbers["financial"]["mrr"] and numbers["jobs"]["run"]
        assert result.csv_errors == {} and len(result.csv_files) >= 12
        html = result.html.read_text(encoding="utf-8")
        assert "permission denied" not in html and "query failed" not in html
    finally:
        with demo_warehouse.connect() as admin:
            admin.execute(f"drop owned by {role}")
            admin.execute(f"drop role {role}")


@pytest.mark.slow
def test_exposures_name_every_dashboard_and_the_board_pack_with_the_tables_they_read(
    demo_warehouse, tmp_path: Path
) -> None:
    listed = run_dbt(
        ["ls", "--resource-type", "exposure", "--output", "name", "--quiet"],
        demo_warehouse.target,
        target_path=tmp_path / "dbt_target",
    )
    names = set(listed.result)
    specs = load_specs()
    assert names == {s.key for s in specs} | {"board_pack"}
    manifest = json.loads((tmp_path / "dbt_target" / "manifest.json").read_text())
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    for spec in specs:
        read = set().union(*(reporting_tables(c.sql) for c in spec.cards))
        depends = {node.rsplit(".", 1)[1] for node in exposures[spec.key]["depends_on"]["nodes"]}
        assert depends == read, spec.key
    pack = {node.rsplit(".", 1)[1] for node in exposures["board_pack"]["depends_on"]["nodes"]}
    reporting_models = {
        n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "reporting"
    }
    assert pack == reporting_models - {"metricflow_time_spine"}  # the CSV export writes every reporting table
