"""An in-memory, stateful stand-in for Metabase's REST API, served through `httpx.MockTransport`.

It keeps collections, databases, cards and dashboards the way Metabase does (ids, dashcards replaced by
`PUT /api/dashboard/{id}`, negative dashcard ids turned into new ones, masked database passwords, list endpoints
wrapped in `{"data": [...]}`), and records every request so tests can check them against the OpenAPI contract.
`mbql5=True` answers cards' `dataset_query` in the MBQL 5 `stages` shape newer Metabase versions return.
`warehouse` ({(schema, table): [columns]}) is what a database's schema sync finds: `GET /api/database/{id}/metadata`
lists it (with field ids) once `sync_after` metadata reads have passed since the database was created.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx

PASSWORD_MASK = "**MetabasePass**"


@dataclass
class Recorded:
    method: str
    path: str
    template: str  # the contract path this request matched, e.g. /api/card/{id}
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


class FakeMetabase:
    def __init__(
        self,
        *,
        api_key: str = "mb_test_key",
        username: str = "admin@example.com",
        password: str = "s3cret",
        mbql5=False,
        warehouse: dict[tuple[str, str], list[str]] | None = None,
        sync_after: int = 0,
    ):
        self.api_key, self.username, self.password, self.mbql5 = api_key, username, password, mbql5
        self.warehouse = warehouse or {}
        self.sync_after = sync_after
        self.metadata_reads: dict[int, int] = {}
        self.fields: dict[int, dict[str, Any]] = {}
        self.sessions: set[str] = set()
        self.requests: list[Recorded] = []
        self._ids: dict[str, int] = {}
        self.collections: dict[int, dict[str, Any]] = {}
        self.databases: dict[int, dict[str, Any]] = {}
        self.cards: dict[int, dict[str, Any]] = {}
        self.dashboards: dict[int, dict[str, Any]] = {}
        self.routes: list[tuple[str, str, re.Pattern[str], Any]] = []
        for method, template, handler in [
            ("POST", "/api/session", self.post_session),
            ("GET", "/api/collection", self.list_collections),
            ("POST", "/api/collection", self.post_collection),
            ("GET", "/api/collection/{id}/items", self.collection_items),
            ("GET", "/api/database", self.list_databases),
            ("POST", "/api/database", self.post_database),
            ("PUT", "/api/database/{id}", self.put_database),
            ("POST", "/api/database/{id}/sync_schema", self.sync_schema),
            ("GET", "/api/database/{id}/metadata", self.database_metadata),
            ("GET", "/api/field/{id}", self.get_field),
            ("PUT", "/api/field/{id}", self.put_field),
            ("POST", "/api/card", self.post_card),
            ("GET", "/api/card/{id}", self.get_card),
            ("PUT", "/api/card/{id}", self.put_card),
            ("POST", "/api/card/{card-id}/query", self.query_card),
            ("POST", "/api/dashboard", self.post_dashboard),
            ("GET", "/api/dashboard/{id}", self.get_dashboard),
            ("PUT", "/api/dashboard/{id}", self.put_dashboard),
        ]:
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", r"(\\d+)", template) + "$")
            self.routes.append((method, template, pattern, handler))

    # -------------------------------------------------------------------------------------------- plumbing

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def writes(self) -> list[Recorded]:
        """Requests that change state (the session login is not a change)."""
        return [r for r in self.requests if r.method != "GET" and r.template != "/api/session"]

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else None
        for method, template, pattern, handler in self.routes:
            match = pattern.match(path)
            if method == request.method and match:
                self.requests.append(
                    Recorded(
                        request.method,
                        path,
                        template,
                        parse_qs(request.url.query.decode()),
                        body,
                        dict(request.headers),
                    )
                )
                if template != "/api/session" and not self._authorized(request):
                    return httpx.Response(401, text="Unauthenticated")
                ids = [int(g) for g in match.groups()]
                status, answer = handler(*ids, body=body, query=parse_qs(request.url.query.decode()))
                return httpx.Response(status, json=answer)
        self.requests.append(Recorded(request.method, path, "?", {}, body, dict(request.headers)))
        return httpx.Response(404, json={"message": f"no route {request.method} {path}"})

    def _authorized(self, request: httpx.Request) -> bool:
        return (
            request.headers.get("x-api-key") == self.api_key
            or request.headers.get("x-metabase-session") in self.sessions
        )

    # -------------------------------------------------------------------------------------------- handlers

    def post_session(self, *, body: Any, query: Any) -> tuple[int, Any]:
        if body.get("username") != self.username or body.get("password") != self.password:
            return 401, {"errors": {"password": "did not match stored password"}}
        token = f"session-{len(self.sessions) + 1}"
        self.sessions.add(token)
        return 200, {"id": token}

    def list_collections(self, *, body: Any, query: Any) -> tuple[int, Any]:
        root = {"id": "root", "name": "Our analytics", "archived": False, "personal_owner_id": None}
        personal = {"id": 999, "name": "execmetrics", "archived": False, "personal_owner_id": 1}  # a trap: personal
        return 200, [root, personal, *copy.deepcopy(list(self.collections.values()))]

    def post_collection(self, *, body: Any, query: Any) -> tuple[int, Any]:
        cid = self._next_id("collection")
        self.collections[cid] = {"id": cid, "archived": False, "personal_owner_id": None, "location": "/", **body}
        return 200, self.collections[cid]

    def collection_items(self, cid: int, *, body: Any, query: Any) -> tuple[int, Any]:
        if cid not in self.collections:
            return 404, {"message": "Not found."}
        models = set(query.get("models", [])) or {"card", "dashboard"}
        items = []
        if "card" in models:
            items += [
                {"id": c["id"], "name": c["name"], "model": "card"}
                for c in self.cards.values()
                if c["collection_id"] == cid and not c["archived"]
            ]
        if "dashboard" in models:
            items += [
                {"id": d["id"], "name": d["name"], "model": "dashboard"}
                for d in self.dashboards.values()
                if d["collection_id"] == cid
            ]
        return 200, {"data": items, "total": len(items), "models": sorted(models)}

    def _public_db(self, db: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(db)
        if out["details"].get("password"):
            out["details"]["password"] = PASSWORD_MASK
        return out

    def list_databases(self, *, body: Any, query: Any) -> tuple[int, Any]:
        sample = {"id": 1, "name": "Sample Database", "engine": "h2", "details": {"db": "sample"}}
        dbs = [sample, *(self._public_db(d) for d in self.databases.values())]
        return 200, {"data": dbs, "total": len(dbs)}

    def post_database(self, *, body: Any, query: Any) -> tuple[int, Any]:
        did = self._next_id("database") + 1  # id 1 is the sample database
        self.databases[did] = {"id": did, **copy.deepcopy(body)}
        return 200, self._public_db(self.databases[did])

    def put_database(self, did: int, *, body: Any, query: Any) -> tuple[int, Any]:
        if did not in self.databases:
            return 404, {"message": "Not found."}
        db = self.databases[did]
        details = body.get("details")
        if details is not None:
            if details.get("password") == PASSWORD_MASK:
                details = {**details, "password": db["details"].get("password")}
            db["details"] = copy.deepcopy(details)
        db.update({k: v for k, v in body.items() if k != "details"})
        return 200, self._public_db(db)

    def sync_schema(self, did: int, *, body: Any, query: Any) -> tuple[int, Any]:
        return (200, {"status": "ok"}) if did in self.databases else (404, {"message": "Not found."})

    def _synced_fields(self, did: int) -> list[dict[str, Any]]:
        """The fields the database's sync found (created on the first read after the sync has finished)."""
        known = [f for f in self.fields.values() if f["db_id"] == did]
        if known or not self.warehouse:
            return known
        for (schema, table), columns in sorted(self.warehouse.items()):
            for column in columns:
                fid = self._next_id("field")
                self.fields[fid] = {
                    "id": fid,
                    "db_id": did,
                    "schema": schema,
                    "table": table,
                    "name": column,
                    "has_field_values": "none",
                }
        return [f for f in self.fields.values() if f["db_id"] == did]

    def database_metadata(self, did: int, *, body: Any, query: Any) -> tuple[int, Any]:
        if did not in self.databases:
            return 404, {"message": "Not found."}
        self.metadata_reads[did] = self.metadata_reads.get(did, 0) + 1
        tables: dict[tuple[str, str], dict[str, Any]] = {}
        if self.metadata_reads[did] > self.sync_after:
            for f in self._synced_fields(did):
                table = tables.setdefault((f["schema"], f["table"]), {"schema": f["schema"], "name": f["table"]})
                table.setdefault("fields", []).append(
                    {"id": f["id"], "name": f["name"], "has_field_values": f["has_field_values"]}
                )
        return 200, {"id": did, "name": self.databases[did]["name"], "tables": list(tables.values())}

    def get_field(self, fid: int, *, body: Any, query: Any) -> tuple[int, Any]:
        return (200, copy.deepcopy(self.fields[fid])) if fid in self.fields else (404, {"message": "Not found."})

    def put_field(self, fid: int, *, body: Any, query: Any) -> tuple[int, Any]:
        if fid not in self.fields:
            return 404, {"message": "Not found."}
        self.fields[fid].update(copy.deepcopy(body))
        return 200, copy.deepcopy(self.fields[fid])

    def _public_card(self, card: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(card)
        if self.mbql5:
            dq = out["dataset_query"]
            native = dq.get("native", {})
            out["dataset_query"] = {
                "lib/type": "mbql/query",
                "database": dq.get("database"),
                "stages": [
                    {
                        "lib/type": "mbql.stage/native",
                        "native": native.get("query"),
                        "template-tags": native.get("template-tags", {}),
                    }
                ],
            }
        out["visualization_settings"] = {"table.columns": [], **(out.get("visualization_settings") or {})}
        return out

    def post_card(self, *, body: Any, query: Any) -> tuple[int, Any]:
        if body.get("collection_id") not in self.collections:
            return 400, {"message": "collection does not exist"}
        if body["dataset_query"].get("database") not in self.databases:
            return 400, {"message": "database does not exist"}
        cid = self._next_id("card")
        self.cards[cid] = {"id": cid, "archived": False, "type": "question", "description": None, **copy.deepcopy(body)}
        return 200, self._public_card(self.cards[cid])

    def get_card(self, cid: int, *, body: Any, query: Any) -> tuple[int, Any]:
        return (200, self._public_card(self.cards[cid])) if cid in self.cards else (404, {"message": "Not found."})

    def put_card(self, cid: int, *, body: Any, query: Any) -> tuple[int, Any]:
        if cid not in self.cards:
            return 404, {"message": "Not found."}
        self.cards[cid].update(copy.deepcopy(body))
        return 200, self._public_card(self.cards[cid])

    def query_card(self, cid: int, *, body: Any, query: Any) -> tuple[int, Any]:
        if cid not in self.cards:
            return 404, {"message": "Not found."}
        return 202, {"status": "completed", "row_count": 0, "data": {"rows": [], "cols": []}}

    def post_dashboard(self, *, body: Any, query: Any) -> tuple[int, Any]:
        did = self._next_id("dashboard")
        self.dashboards[did] = {
            "id": did,
            "description": None,
            "parameters": [],
            "dashcards": [],
            "archived": False,
            **copy.deepcopy(body),
        }
        return 200, copy.deepcopy(self.dashboards[did])

    def get_dashboard(self, did: int, *, body: Any, query: Any) -> tuple[int, Any]:
        if did not in self.dashboards:
            return 404, {"message": "Not found."}
        dash = copy.deepcopy(self.dashboards[did])
        for dc in dash["dashcards"]:
            dc["card"] = self._public_card(self.cards[dc["card_id"]])
        return 200, dash

    def put_dashboard(self, did: int, *, body: Any, query: Any) -> tuple[int, Any]:
        if did not in self.dashboards:
            return 404, {"message": "Not found."}
        dash = self.dashboards[did]
        if "dashcards" in body:
            known = {dc["id"] for dc in dash["dashcards"]}
            kept = []
            for dc in copy.deepcopy(body["dashcards"]):
                for target in _click_targets(dc.get("visualization_settings") or {}):
                    if target not in self.dashboards:
                        return 400, {"message": f"click behavior links to dashboard {target}, which does not exist"}
                if dc["id"] < 0:
                    dc["id"] = self._next_id("dashcard")
                elif dc["id"] not in known:
                    return 400, {"message": f"dashcard {dc['id']} is not on dashboard {did}"}
                if dc.get("card_id") not in self.cards:
                    return 400, {"message": f"card {dc.get('card_id')} does not exist"}
                dc["dashboard_id"] = did
                kept.append(dc)
            dash["dashcards"] = kept
        dash.update({k: copy.deepcopy(v) for k, v in body.items() if k != "dashcards"})
        return 200, copy.deepcopy(dash)


def _click_targets(settings: dict[str, Any]) -> list[int]:
    """Dashboard ids the dashcard's click behaviours link to."""
    behaviors = [settings.get("click_behavior")]
    behaviors += [col.get("click_behavior") for col in (settings.get("column_settings") or {}).values()]
    return [b["targetId"] for b in behaviors if b and b.get("linkType") == "dashboard"]
