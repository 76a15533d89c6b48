"""An in-memory, stateful stand-in for Metabase's REST API, served through `httpx.MockTransport`.

It keeps collections, databases, cards and dashboards the way Metabase does (ids, dashcards replaced by
`PUT /api/dashboard/{id}`, negative dashcard ids turned into new ones, masked database passwords, list endpoints
wrapped in `{"data": [...]}`), and records every request so tests can check them against the OpenAPI contract.
`mbql5=True` answers cards' `dataset_query` in the MBQL 5 `stages` shape newer Metabase versions return.

Permissions follow Metabase's rules too: the built-in groups All Users and Administrators; a new collection inherits
the root collection's levels (All Users may write it) and a new database gives every existing group native SQL, as
Metabase's defaults do; both graphs carry a revision and a PUT with a stale one is refused (409); the
Administrators' permissions cannot be changed; users and memberships as `GET /api/user` and
`GET /api/permissions/membership` answer them.
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
ALL_USERS_ID, ADMIN_ID = 1, 2
# What Metabase's data graph accepts per permission (metabase.permissions.api.permission-graph)
DATA_PERMISSION_VALUES: dict[str, tuple[str, ...]] = {
    "view-data": ("unrestricted", "legacy-no-self-service", "blocked", "impersonated", "sandboxed"),
    "create-queries": ("no", "query-builder", "query-builder-and-native"),
    "download": (),
    "data-model": (),
    "details": ("yes", "no"),
}


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
        self.groups: dict[int, dict[str, Any]] = {
            ALL_USERS_ID: {"id": ALL_USERS_ID, "name": "All Users", "magic_group_type": "all-internal-users"},
            ADMIN_ID: {"id": ADMIN_ID, "name": "Administrators", "magic_group_type": "admin"},
        }
        self._ids["group"] = ADMIN_ID
        self.users: dict[int, dict[str, Any]] = {}
        self.memberships: dict[int, dict[str, Any]] = {}
        self.add_user(username, superuser=True)
        self.collection_perms: dict[int, dict[str, str]] = {
            ALL_USERS_ID: {"root": "write"},
            ADMIN_ID: {"root": "write"},
        }
        self.collection_revision = 1
        self.data_perms: dict[int, dict[int, dict[str, Any]]] = {ALL_USERS_ID: {}, ADMIN_ID: {}}
        self.data_revision = 1
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
            ("GET", "/api/user", self.list_users),
            ("GET", "/api/permissions/group", self.list_groups),
            ("POST", "/api/permissions/group", self.post_group),
            ("GET", "/api/permissions/membership", self.list_memberships),
            ("POST", "/api/permissions/membership", self.post_membership),
            ("DELETE", "/api/permissions/membership/{id}", self.delete_membership),
            ("GET", "/api/collection/graph", self.get_collection_graph),
            ("PUT", "/api/collection/graph", self.put_collection_graph),
            ("GET", "/api/permissions/graph/db/{db-id}", self.get_data_graph),
            ("PUT", "/api/permissions/graph", self.put_data_graph),
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
                return httpx.Response(status) if status == 204 else httpx.Response(status, json=answer)
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
        for levels in self.collection_perms.values():  # a new collection starts with its parent's (root) levels
            levels[str(cid)] = levels.get("root", "none")
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
        for perms in self.data_perms.values():  # Metabase's default: everyone may write SQL on a new database
            perms[did] = {"view-data": "unrestricted", "create-queries": "query-builder-and-native"}
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

    # -------------------------------------------------------------------------------------------- people

    def add_user(self, email: str, *, superuser: bool = False) -> int:
        uid = self._next_id("user")
        self.users[uid] = {"id": uid, "email": email, "is_superuser": superuser, "is_active": True}
        self._add_membership(ALL_USERS_ID, uid)
        if superuser:
            self._add_membership(ADMIN_ID, uid)
        return uid

    def _add_membership(self, gid: int, uid: int) -> dict[str, Any]:
        mid = self._next_id("membership")
        self.memberships[mid] = {"membership_id": mid, "group_id": gid, "user_id": uid, "is_group_manager": False}
        return self.memberships[mid]

    def members(self, gid: int) -> set[str]:
        return {self.users[m["user_id"]]["email"] for m in self.memberships.values() if m["group_id"] == gid}

    def group_id(self, name: str) -> int:
        return next(g["id"] for g in self.groups.values() if g["name"] == name)

    def list_users(self, *, body: Any, query: Any) -> tuple[int, Any]:
        users = [copy.deepcopy(u) for u in self.users.values() if u["is_active"]]
        return 200, {"data": users, "total": len(users), "limit": None, "offset": None}

    def list_groups(self, *, body: Any, query: Any) -> tuple[int, Any]:
        counts = {gid: len(self.members(gid)) for gid in self.groups}
        return 200, [{**copy.deepcopy(g), "member_count": counts[g["id"]]} for g in self.groups.values()]

    def post_group(self, *, body: Any, query: Any) -> tuple[int, Any]:
        name = (body or {}).get("name", "")
        if not name.strip():
            return 400, {"errors": {"name": "value must be a non-blank string."}}
        if any(g["name"].lower() == name.lower() for g in self.groups.values()):
            return 400, {"message": "A group with that name already exists."}
        gid = self._next_id("group")
        self.groups[gid] = {"id": gid, "name": name, "magic_group_type": None}
        self.collection_perms[gid] = {}
        self.data_perms[gid] = {}
        return 200, copy.deepcopy(self.groups[gid])

    def list_memberships(self, *, body: Any, query: Any) -> tuple[int, Any]:
        by_user: dict[str, list[dict[str, Any]]] = {}
        for membership in self.memberships.values():
            by_user.setdefault(str(membership["user_id"]), []).append(copy.deepcopy(membership))
        return 200, by_user

    def post_membership(self, *, body: Any, query: Any) -> tuple[int, Any]:
        gid, uid = body.get("group_id"), body.get("user_id")
        if gid not in self.groups or uid not in self.users:
            return 404, {"message": "Not found."}
        if any(m["group_id"] == gid and m["user_id"] == uid for m in self.memberships.values()):
            return 400, {"message": "The user is already a member of the group."}
        self._add_membership(gid, uid)
        return 200, [copy.deepcopy(self.users[u]) for u in {m["user_id"] for m in self.memberships.values()}]

    def delete_membership(self, mid: int, *, body: Any, query: Any) -> tuple[int, Any]:
        membership = self.memberships.get(mid)
        if membership is None:
            return 404, {"message": "Not found."}
        if membership["group_id"] == ALL_USERS_ID:
            return 400, {"message": "You cannot remove users from the All Users group."}
        del self.memberships[mid]
        return 204, None

    # -------------------------------------------------------------------------------------------- graphs

    def _flag(self, query: Any, name: str) -> bool:
        return (query.get(name) or ["false"])[-1].lower() == "true"

    def get_collection_graph(self, *, body: Any, query: Any) -> tuple[int, Any]:
        groups = {str(gid): dict(levels) for gid, levels in self.collection_perms.items()}
        return 200, {"revision": self.collection_revision, "groups": groups}

    def put_collection_graph(self, *, body: Any, query: Any) -> tuple[int, Any]:
        if not self._flag(query, "force") and body.get("revision") != self.collection_revision:
            return 409, {"message": "Looks like someone else edited the permissions and your data is out of date."}
        for gid_text, levels in (body.get("groups") or {}).items():
            gid = int(gid_text)
            if gid not in self.groups:
                return 400, {"message": f"no group {gid}"}
            if gid == ADMIN_ID:
                return 400, {"message": "You cannot change the permissions of the Administrators group."}
            for cid, level in levels.items():
                if level not in ("none", "read", "write") or (cid != "root" and int(cid) not in self.collections):
                    return 400, {"message": f"bad collection permission {cid}: {level}"}
                self.collection_perms[gid][cid] = level
        self.collection_revision += 1
        if self._flag(query, "skip-graph"):
            return 200, {"revision": self.collection_revision}
        return self.get_collection_graph(body=None, query={})

    def _db_perms(self, gid: int, did: int) -> dict[str, Any]:
        return self.data_perms[gid].get(did) or {"view-data": "unrestricted", "create-queries": "no"}

    def get_data_graph(self, did: int, *, body: Any, query: Any) -> tuple[int, Any]:
        if did not in self.databases:
            return 404, {"message": "Not found."}
        groups = {str(gid): {str(did): copy.deepcopy(self._db_perms(gid, did))} for gid in self.groups}
        return 200, {"revision": self.data_revision, "groups": groups}

    def put_data_graph(self, *, body: Any, query: Any) -> tuple[int, Any]:
        if not self._flag(query, "force") and body.get("revision") != self.data_revision:
            return 409, {"message": "Looks like someone else edited the permissions and your data is out of date."}
        for gid_text, dbs in (body.get("groups") or {}).items():
            gid = int(gid_text)
            if gid not in self.groups:
                return 400, {"message": f"no group {gid}"}
            if gid == ADMIN_ID:
                return 400, {"message": "You cannot change the permissions of the Administrators group."}
            for did_text, perms in dbs.items():
                did = int(did_text)
                if did not in self.databases:
                    return 400, {"message": f"no database {did}"}
                unknown = {
                    k: v
                    for k, v in perms.items()
                    if DATA_PERMISSION_VALUES.get(k) and v not in DATA_PERMISSION_VALUES[k]
                }
                if unknown or set(perms) - set(DATA_PERMISSION_VALUES):
                    return 400, {"message": f"Cannot parse permissions graph because it is invalid: {perms}"}
                self.data_perms[gid][did] = {**self._db_perms(gid, did), **copy.deepcopy(perms)}
        self.data_revision += 1
        if self._flag(query, "skip-graph"):
            return 200, {"revision": self.data_revision}
        return 200, {"revision": self.data_revision, "groups": {}}


def _click_targets(settings: dict[str, Any]) -> list[int]:
    """Dashboard ids the dashcard's click behaviours link to."""
    behaviors = [settings.get("click_behavior")]
    behaviors += [col.get("click_behavior") for col in (settings.get("column_settings") or {}).values()]
    return [b["targetId"] for b in behaviors if b and b.get("linkType") == "dashboard"]


WAREHOUSE_PASSWORD = "wh-pa55-do-not-log"  # the warehouse password the tests give Metabase


def reporting_columns(specs: list[Any]) -> dict[tuple[str, str], list[str]]:
    """What a schema sync of the warehouse finds of the columns the field filters read."""
    found: dict[tuple[str, str], list[str]] = {}
    for spec in specs:
        for param in spec.parameters:
            if param.field is not None:
                columns = found.setdefault(("reporting", param.field.table), ["tenant_id"])
                if param.field.column not in columns:
                    columns.append(param.field.column)
    return found
