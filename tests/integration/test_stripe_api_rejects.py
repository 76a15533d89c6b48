"""Bad objects arriving through the API path reach raw._rejects with their reason, like the dump's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from extract.stripe.api import extract_stripe
from extract.warehouse import Warehouse

GOOD = {"id": "cus_ok", "object": "customer", "created": 1735689600, "metadata": {}}
NO_ID = {"object": "customer", "created": 1735689600}
WRONG_TYPE = {"id": "wid_1", "object": "widget", "created": 1735689600}


class PagesTransport:
    """A Stripe API that lists a few customers (some malformed) and nothing else."""

    def __init__(self, lists: Mapping[str, list[dict[str, Any]]]):
        self.lists = lists
        self.paths: list[str] = []

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self.paths.append(path)
        data = self.lists.get(path, [])
        return {"object": "list", "url": path, "has_more": False, "data": data}


def test_malformed_objects_from_the_api_are_rejected_with_reasons(
    warehouse: Warehouse, raw_conn: psycopg.Connection
) -> None:
    transport = PagesTransport({"/v1/customers": [GOOD, NO_ID, WRONG_TYPE]})
    extract_stripe(warehouse, full_refresh=True, client=transport)

    assert "/v1/customers" in transport.paths
    loaded = raw_conn.execute("select id from raw.stripe_customers").fetchall()
    assert loaded == [("cus_ok",)]
    reasons = sorted(row[0] for row in raw_conn.execute("select reason from raw._rejects where source = 'stripe'"))
    assert reasons == ["expected a customer, got object type 'widget'", "missing id"]
