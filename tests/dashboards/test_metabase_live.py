"""Against a real Metabase (runs only where METABASE_URL and credentials are set; see docs/OPERATIONS.md).

Applies the specs with the permissions of dashboards/access.yml, reads every dashboard back and compares it with its
spec, reads the groups and both permission graphs back and compares them with access.yml, runs every card's query
through `POST /api/card/{id}/query` and asserts none errors, then applies again and asserts nothing changed.
The warehouse it points Metabase at is METABASE_WAREHOUSE_URL (as Metabase reaches it), else the warehouse as its
reader role (`execmetrics warehouse grant`); the marts must have been built there (`execmetrics demo`) for the
queries to succeed.
"""

from __future__ import annotations

import os

import pytest

from dashboards.metabase.apply import apply_specs
from dashboards.metabase.client import unwrap_list
from dashboards.metabase.config import MetabaseSettings
from dashboards.metabase.permissions import ALL_USERS, CREATE_QUERIES, load_access
from extract.settings import load_settings

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not os.environ.get("METABASE_URL")
        or not (
            os.environ.get("METABASE_API_KEY")
            or (os.environ.get("METABASE_USER") and os.environ.get("METABASE_PASSWORD"))
        ),
        reason="live Metabase test: set METABASE_URL and METABASE_API_KEY (or METABASE_USER + METABASE_PASSWORD)",
    ),
]


def _query_error(answer: object) -> str | None:
    if not isinstance(answer, dict):
        return f"unexpected answer {answer!r:.200}"
    if answer.get("status") == "failed" or answer.get("error"):
        return str(answer.get("error") or answer.get("error_type") or answer)[:500]
    return None


def test_apply_read_back_and_run_every_card(specs):
    settings = MetabaseSettings()
    connection = settings.warehouse_connection(load_settings())
    access = load_access()
    with settings.client() as client:
        report = apply_specs(client, specs, connection, collection_name=settings.collection, access=access)
        card_ids = report.ids("card")
        dash_ids = report.ids("dashboard")
        assert set(dash_ids) == {s.name for s in specs}

        for spec in specs:
            dash = client.get(f"/api/dashboard/{dash_ids[spec.name]}")
            dashcards = dash.get("dashcards")
            if dashcards is None:
                dashcards = dash.get("ordered_cards") or []
            by_card = {dc["card_id"]: dc for dc in dashcards if dc.get("card_id")}
            assert set(by_card) == {card_ids[c.name] for c in spec.cards}, spec.name
            assert {p["id"] for p in dash["parameters"]} == {p.slug for p in spec.parameters}
            for card in spec.cards:
                dc = by_card[card_ids[card.name]]
                assert (dc["row"], dc["col"], dc["size_x"], dc["size_y"]) == (
                    card.layout.row,
                    card.layout.col,
                    card.layout.size_x,
                    card.layout.size_y,
                ), card.name
                assert {m["parameter_id"] for m in dc.get("parameter_mappings") or []} == set(card.tags), card.name

        errors = {}
        for name, card_id in sorted(card_ids.items()):
            answer = client.post(f"/api/card/{card_id}/query", {"ignore_cache": True})
            error = _query_error(answer)
            if error:
                errors[name] = error
        assert not errors, "cards whose query failed:\n" + "\n".join(f"{k}: {v}" for k, v in errors.items())

        # the permissions as Metabase now holds them
        (collection_id,) = report.ids("collection").values()
        (database_id,) = report.ids("database").values()
        groups = {g["name"]: g["id"] for g in unwrap_list(client.get("/api/permissions/group"))}
        collection_graph = client.get("/api/collection/graph")["groups"]
        data_graph = client.get(f"/api/permissions/graph/db/{database_id}")["groups"]
        for name, level in access.managed():
            gid = str(groups[name])
            assert collection_graph[gid][str(collection_id)] == level.collection, name
            assert data_graph[gid][str(database_id)]["create-queries"] == CREATE_QUERIES[level.queries], name
        assert ALL_USERS in groups

        again = apply_specs(client, specs, connection, collection_name=settings.collection, access=access)
        assert not again.created and not again.updated, again.lines()
