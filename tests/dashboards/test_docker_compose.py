"""docker-compose.yml cannot run here (no Docker); check it is well-formed and wired the way the docs say."""

from __future__ import annotations

import yaml

from extract.settings import PROJECT_ROOT


def test_compose_file_wires_metabase_to_postgres():
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"warehouse", "metabase-db", "metabase"}
    metabase = services["metabase"]
    env = metabase["environment"]
    assert env["MB_DB_TYPE"] == "postgres" and env["MB_DB_HOST"] == "metabase-db"  # not the embedded H2
    assert "MB_ENCRYPTION_SECRET_KEY" in env
    assert set(metabase["depends_on"]) == {"metabase-db", "warehouse"}
    for name in ("warehouse", "metabase-db"):
        assert services[name]["image"].startswith("postgres:")
        assert "healthcheck" in services[name]
    # secrets come from the environment, never literals in the file
    assert "${WAREHOUSE_PASSWORD:?" in services["warehouse"]["environment"]["POSTGRES_PASSWORD"]
    assert "${METABASE_DB_PASSWORD:?" in env["MB_DB_PASS"]
    # published on loopback only
    for svc in services.values():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_compose_usage_connects_metabase_as_the_reader_role():
    text = (PROJECT_ROOT / "docker-compose.yml").read_text()
    metabase_urls = [line for line in text.splitlines() if "METABASE_WAREHOUSE_URL=" in line]
    assert metabase_urls and all("execmetrics_reader:$WAREHOUSE_READER_PASSWORD@warehouse:" in u for u in metabase_urls)
    assert "execmetrics warehouse grant" in text
    # the owner's credentials go to the CLI (the grant), not to Metabase
    assert not any("execmetrics:$WAREHOUSE_PASSWORD@warehouse" in line for line in text.splitlines())
