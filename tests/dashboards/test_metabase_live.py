"""Against a real Metabase (runs only where METABASE_URL and credentials are set; see docs/OPERATIONS.md).

Applies the specs, reads every dashboard back and compares it with its spec, runs every card's query through
`POST /api/card/{id}/query` and asserts none errors, then applies again and asserts nothing changed.
The warehouse it points Metabase at is METABASE_WAREHOUSE_URL (as Metabase reaches it) or WAREHOUSE_URL; the
marts must have been built there (`execmetrics demo`) for the queries to succeed.
"""

from __future__ import annotations

import os

import pytest

from dashboards.metabase.apply import apply_specs
from dashboards.metabase.config import MetabaseSettings

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
    connection = settings.warehouse_connection()
    with settings.client() as client:
        report = apply_specs(client, specs, connection, collection_name=settings.collection)
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

        again = apply_specs(client, specs, connection, collection_name=settings.collection)
        assert not again.created and not again.updated, again.lines()
