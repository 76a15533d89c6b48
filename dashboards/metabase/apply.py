"""Idempotent apply of the dashboard specs to Metabase.

Order: the collection (found by name, else created), the warehouse database connection (found by name, else
created; updated when its connection details differ), every card by name inside the collection (created, or
`PUT` when what the spec says differs from what Metabase holds), then every dashboard by name inside the
collection (created with its parameters, then one `PUT /api/dashboard/{id}` with `dashcards` + `parameters`
when the layout, the filter wiring or the filters differ), and last the groups and permissions of
dashboards/access.yml (dashboards/metabase/permissions.py). A second run with the same specs sends no write.

Field filters (the tenant, plan and segment dropdowns) need Metabase's id of their column: after the database, the
apply reads `GET /api/database/{id}/metadata` (waiting for the first schema sync of a new connection), turns each
filtered column into a dropdown list (`PUT /api/field/{id}`, `has_field_values: list`) and writes the id into the
cards' `dimension` template tags. Click behaviours (a table's tenant opens the tenant dashboard; a bar of the MRR
bridge opens that month's movements) are dashcard visualization settings naming the target dashboard's id, so every
dashboard is found or created before any is filled.

`dry_run` sends only reads (and with no client at all, plans offline: everything would be created).
The warehouse password is sent in the database request body only; it is never logged or reported.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from dashboards.metabase.client import MetabaseClient, MetabaseError, unwrap_list
from dashboards.spec import READ_SCHEMA, CardSpec, ClickSpec, DashboardSpec, FieldRef, ParameterSpec

if TYPE_CHECKING:
    from dashboards.metabase.permissions import AccessSpec

log = logging.getLogger(__name__)

Action = Literal["create", "update", "unchanged", "skipped"]
TAG_NAMESPACE = uuid.UUID("6f1e0c39-3e0b-4a59-9a55-7d5d0b1f6a11")  # template-tag ids are uuid5(namespace, card/tag)
PLACEHOLDER_ID = -1  # ids of objects a dry run would create
FieldIds = dict[tuple[str, str], int]  # (table, column) of the reporting schema -> Metabase field id


@dataclass(frozen=True)
class Change:
    kind: Literal["collection", "database", "field", "card", "dashboard", "group", "membership", "permissions"]
    name: str
    action: Action
    id: int | None = None
    detail: str = ""


@dataclass
class ApplyReport:
    dry_run: bool = False
    changes: list[Change] = field(default_factory=list)

    def add(self, change: Change) -> None:
        self.changes.append(change)
        log.info("%s %s %r %s", change.action, change.kind, change.name, change.detail)

    def of(self, action: Action, kind: str | None = None) -> list[Change]:
        return [c for c in self.changes if c.action == action and (kind is None or c.kind == kind)]

    @property
    def created(self) -> list[Change]:
        return self.of("create")

    @property
    def updated(self) -> list[Change]:
        return self.of("update")

    @property
    def unchanged(self) -> list[Change]:
        return self.of("unchanged")

    def ids(self, kind: str) -> dict[str, int]:
        return {c.name: c.id for c in self.changes if c.kind == kind and c.id is not None and c.id > 0}

    def lines(self) -> list[str]:
        verb = {
            "create": "would create" if self.dry_run else "created",
            "update": "would update" if self.dry_run else "updated",
            "skipped": "skipped",
        }
        out = []
        for c in self.changes:
            where = f" (id {c.id})" if c.id is not None and c.id > 0 else ""
            detail = f": {c.detail}" if c.detail else ""
            out.append(f"{verb.get(c.action, c.action):<13} {c.kind:<10} {c.name}{where}{detail}")
        skipped = self.of("skipped")
        out.append(
            f"{len(self.created)} {'to create' if self.dry_run else 'created'}, "
            f"{len(self.updated)} {'to update' if self.dry_run else 'updated'}, {len(self.unchanged)} unchanged"
            + (f", {len(skipped)} skipped" if skipped else "")
        )
        return out

    def counts(self) -> dict[str, int]:
        """Changes by action, for the audit log."""
        actions: tuple[Action, ...] = ("create", "update", "unchanged", "skipped")
        return {action: len(self.of(action)) for action in actions}


@dataclass(frozen=True)
class WarehouseConnection:
    """The warehouse as Metabase reaches it (in docker-compose that is the `postgres` service, not 127.0.0.1)."""

    name: str
    host: str
    port: int
    dbname: str
    user: str
    password: str = field(default="", repr=False)
    ssl: bool = False
    schemas: tuple[str, ...] = (READ_SCHEMA,)
    tenant: str | None = None  # a tenant's connection: its id goes to the session setting row-level security reads

    def details(self) -> dict[str, Any]:
        """The `details` Metabase's postgres driver takes (password included: request bodies only)."""
        return {**self.public_details(), "password": self.password or None}

    def public_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
            "ssl": self.ssl,
            "schema-filters-type": "inclusion",
            "schema-filters-patterns": ",".join(self.schemas),
        }
        if self.tenant is not None:
            details["additional-options"] = tenant_jdbc_options(self.tenant)
        return details

    def redacted(self) -> str:
        return f"postgres://{self.user}{':***' if self.password else ''}@{self.host}:{self.port}/{self.dbname}"


def tenant_jdbc_options(tenant: str) -> str:
    """Metabase's "additional JDBC options" that make every session of a connection one tenant's: the Postgres
    driver's `options` parameter, URL-encoded, sets the setting the marts' row-level security reads."""
    from extract.access import TENANT_SETTING

    return "options=" + quote(f"-c {TENANT_SETTING}={tenant}", safe="")


def embedding_params(spec: DashboardSpec) -> dict[str, str]:
    """Static-embedding parameters of a tenant's dashboard: the tenant is locked (the signed token names it), the
    dates stay filters the viewer may change."""
    return {p.slug: "locked" if p.slug == "tenant" else "enabled" for p in spec.parameters}


# ------------------------------------------------------------------------------------------------ payloads


def _tag_id(card: CardSpec, tag: str) -> str:
    return str(uuid.uuid5(TAG_NAMESPACE, f"{card.name}/{tag}"))


def field_id(field_ids: FieldIds, field: FieldRef) -> int:
    return field_ids.get((field.table, field.column), PLACEHOLDER_ID)


def template_tags(
    card: CardSpec, params: dict[str, ParameterSpec], field_ids: FieldIds | None = None
) -> dict[str, dict[str, Any]]:
    tags: dict[str, dict[str, Any]] = {}
    for name in card.tags:
        param = params[name]
        tag: dict[str, Any] = {
            "id": _tag_id(card, name),
            "name": name,
            "display-name": param.name,
            "type": param.tag_type,
            "required": name in card.required_tags and not param.is_field_filter,
        }
        if param.field is not None:
            # a field filter: Metabase writes the condition on this column (a dropdown of its values)
            tag["dimension"] = ["field", field_id(field_ids or {}, param.field), None]
            tag["widget-type"] = param.type
        if param.default is not None:
            tag["default"] = param.default
        tags[name] = tag
    return tags


def card_payload(
    card: CardSpec,
    spec: DashboardSpec,
    *,
    database_id: int,
    collection_id: int,
    field_ids: FieldIds | None = None,
) -> dict[str, Any]:
    """The body of `POST /api/card` / `PUT /api/card/{id}` for one spec card (a native query)."""
    params = {p.slug: p for p in spec.parameters}
    return {
        "name": card.name,
        "description": card.description.strip() if card.description and card.description.strip() else None,
        "type": "question",
        "display": card.display,
        "collection_id": collection_id,
        "dataset_query": {
            "type": "native",
            "database": database_id,
            "native": {"query": card.sql, "template-tags": template_tags(card, params, field_ids)},
        },
        "visualization_settings": dict(card.visualization),
        "parameters": card_parameters(card, params),
    }


def card_parameters(card: CardSpec, params: dict[str, ParameterSpec]) -> list[dict[str, Any]]:
    """The card's own `parameters`, one per template tag, as Metabase's editor saves them
    (`getTemplateTagParameters`): without them Metabase falls back to deriving them from the tags, a path its
    source calls a legacy convenience."""
    out = []
    for name in card.tags:
        param = params[name]
        entry: dict[str, Any] = {
            "id": _tag_id(card, name),
            "type": param.type,
            "target": parameter_target(param),
            "name": param.name,
            "slug": name,
        }
        if param.default is not None:
            entry["default"] = param.default
        out.append(entry)
    return out


def parameter_target(param: ParameterSpec) -> list[Any]:
    """A variable's value is a literal; a field filter's is a condition on its column (a `dimension` target)."""
    return ["dimension" if param.is_field_filter else "variable", ["template-tag", param.slug]]


def dashboard_parameters(spec: DashboardSpec) -> list[dict[str, Any]]:
    out = []
    for p in spec.parameters:
        param: dict[str, Any] = {
            "id": p.slug,
            "name": p.name,
            "slug": p.slug,
            "type": p.type,
            "sectionId": p.type.split("/")[0] if "/" in p.type else "string",
        }
        if p.default is not None:
            param["default"] = p.default
        if p.values is not None:  # a dropdown of fixed choices
            param["values_query_type"] = "list"
            param["values_source_type"] = "static-list"
            param["values_source_config"] = {"values": list(p.values)}
        elif p.field is not None:  # a dropdown of the column's values (its field is a list: see ensure_fields)
            param["values_query_type"] = "list"
        if p.values is not None or p.field is not None:
            param["isMultiSelect"] = False  # one tenant, one granularity: the cards' SQL picks one row set
        out.append(param)
    return out


def click_behavior(click: ClickSpec, target_id: int) -> dict[str, Any]:
    """A dashcard click behaviour that opens dashboard `target_id` with its filters set from the clicked row's
    columns or this dashboard's filters."""
    mapping = {
        slug: {
            "id": slug,
            "source": {"type": kind, "id": name, "name": name},
            "target": {"type": "parameter", "id": slug},
        }
        for slug, kind, name in click.sources()
    }
    return {"type": "link", "linkType": "dashboard", "targetId": target_id, "parameterMapping": mapping}


def dashcard_visualization(card: CardSpec, dashboard_ids: dict[str, int]) -> dict[str, Any]:
    """The dashcard's own visualization settings: its click behaviours (a table's per column, a chart's whole)."""
    settings: dict[str, Any] = {}
    for click in card.click:
        behavior = click_behavior(click, dashboard_ids.get(click.dashboard, PLACEHOLDER_ID))
        if click.column is None:
            settings["click_behavior"] = behavior
        else:
            key = json.dumps(["name", click.column], separators=(",", ":"))
            settings.setdefault("column_settings", {})[key] = {"click_behavior": behavior}
    return settings


def dashcards_payload(
    spec: DashboardSpec,
    card_ids: dict[str, int],
    existing: dict[int, int],
    dashboard_ids: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """`dashcards` for `PUT /api/dashboard/{id}`: one per spec card, reusing the dashcard id already holding the
    card (`existing`: card id -> dashcard id) and negative ids for new ones. Every parameter is mapped to every
    card whose SQL uses its template tag; `dashboard_ids` (spec key -> id) resolves the cards' click targets."""
    dashcards = []
    new_id = 0
    for card in spec.cards:
        card_id = card_ids[card.name]
        if card_id in existing:
            dashcard_id = existing[card_id]
        else:
            new_id -= 1
            dashcard_id = new_id
        mappings = [
            {"parameter_id": p.slug, "card_id": card_id, "target": parameter_target(p)}
            for p in spec.parameters
            if p.slug in card.tags
        ]
        dashcards.append(
            {
                "id": dashcard_id,
                "card_id": card_id,
                "row": card.layout.row,
                "col": card.layout.col,
                "size_x": card.layout.size_x,
                "size_y": card.layout.size_y,
                "parameter_mappings": mappings,
                "visualization_settings": dashcard_visualization(card, dashboard_ids or {}),
                "series": [],
            }
        )
    return dashcards


# ------------------------------------------------------------------------------------------------ comparison


def _native_view(dataset_query: Any) -> dict[str, Any]:
    """What matters of a native dataset_query, in either the legacy shape (`native.query`) or the MBQL 5 shape
    (`stages[0].native`) newer Metabase versions answer with."""
    dq = dataset_query if isinstance(dataset_query, dict) else {}
    if isinstance(dq.get("stages"), list) and dq["stages"]:
        stage = dq["stages"][0]
        query, tags = stage.get("native"), stage.get("template-tags") or stage.get("template_tags") or {}
    else:
        native = dq.get("native") or {}
        query, tags = native.get("query"), native.get("template-tags") or native.get("template_tags") or {}
    norm_tags = {
        name: (
            tag.get("type"),
            tag.get("display-name") or tag.get("display_name"),
            bool(tag.get("required", False)),
            tag.get("default"),
            repr(tag.get("dimension")),
            tag.get("widget-type"),
        )
        for name, tag in tags.items()
    }
    return {"database": dq.get("database"), "query": (query or "").strip(), "tags": norm_tags}


def card_differences(desired: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    diffs = []
    for key in ("name", "display", "collection_id"):
        if desired.get(key) != actual.get(key):
            diffs.append(key)
    if (desired.get("description") or None) != (actual.get("description") or None):
        diffs.append("description")
    if actual.get("type", "question") != desired["type"]:
        diffs.append("type")
    want, have = _native_view(desired["dataset_query"]), _native_view(actual.get("dataset_query"))
    if want["query"] != have["query"]:
        diffs.append("sql")
    if want["tags"] != have["tags"]:
        diffs.append("template tags")
    if want["database"] != have["database"]:
        diffs.append("database")
    want_params = _parameters_view(desired.get("parameters") or [], with_target=True)
    if want_params != _parameters_view(actual.get("parameters") or [], with_target=True):
        diffs.append("parameters")
    viz = actual.get("visualization_settings") or {}
    if any(viz.get(k) != v for k, v in desired["visualization_settings"].items()):
        diffs.append("visualization")
    return diffs


def _dashcard_view(dashcards: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    view = []
    for dc in dashcards:
        mappings = sorted(
            (m.get("parameter_id"), repr(m.get("target")), m.get("card_id")) for m in dc.get("parameter_mappings") or []
        )
        viz = json.dumps(dc.get("visualization_settings") or {}, sort_keys=True)
        view.append(
            (dc.get("card_id"), dc.get("row"), dc.get("col"), dc.get("size_x"), dc.get("size_y"), tuple(mappings), viz)
        )
    return sorted(view, key=repr)


def _parameters_view(parameters: Iterable[dict[str, Any]], *, with_target: bool = False) -> list[tuple[Any, ...]]:
    return sorted(
        (
            (p.get("id"), p.get("name"), p.get("slug"), p.get("type"), p.get("default"))
            + (p.get("values_query_type"), p.get("values_source_type"), repr(p.get("values_source_config")))
            + (p.get("isMultiSelect"),)
            + ((repr(p.get("target")),) if with_target else ())
            for p in parameters
        ),
        key=repr,
    )


def dashboard_differences(
    desired_params: list[dict[str, Any]], desired_dashcards: list[dict[str, Any]], spec: DashboardSpec, actual: dict
) -> list[str]:
    diffs = []
    if (spec.description or None) != (actual.get("description") or None):
        diffs.append("description")
    if _parameters_view(desired_params) != _parameters_view(actual.get("parameters") or []):
        diffs.append("parameters")
    have_cards = actual.get("dashcards")
    if have_cards is None:
        have_cards = actual.get("ordered_cards") or []  # Metabase < 0.47
    if _dashcard_view(desired_dashcards) != _dashcard_view(have_cards):
        diffs.append("dashcards")
    return diffs


# ------------------------------------------------------------------------------------------------ apply


class Applier:
    def __init__(
        self,
        client: MetabaseClient | None,
        database: WarehouseConnection,
        *,
        collection_name: str = "execmetrics",
        dry_run: bool = False,
        access: AccessSpec | None = None,
        update_password: bool = False,
        embed: bool = False,
        sync_timeout_s: float = 120.0,
        sync_poll_s: float = 3.0,
    ):
        if client is None and not dry_run:
            raise ValueError("applying needs a Metabase client; without one only a dry run is possible")
        self.client = client
        self.database = database
        self.collection_name = collection_name
        self.dry_run = dry_run or client is None
        self.access = access
        self.update_password = update_password
        self.embed = embed  # manage static embedding (a tenant's dashboards); otherwise left as Metabase has it
        self.sync_timeout_s = sync_timeout_s
        self.sync_poll_s = sync_poll_s
        self.report = ApplyReport(dry_run=self.dry_run)

    # -------------------------------------------------------------------------------------------- steps

    def apply(self, specs: list[DashboardSpec], all_specs: list[DashboardSpec] | None = None) -> ApplyReport:
        """Apply `specs`; `all_specs` (default: the same) names the dashboards their clicks may open."""
        collection_id = self.ensure_collection()
        database_id = self.ensure_database()
        field_ids = self.ensure_fields(database_id, specs)
        existing = self._collection_items(collection_id)
        card_ids: dict[str, int] = {}
        for spec in specs:
            for card in spec.cards:
                card_ids[card.name] = self.ensure_card(
                    card, spec, collection_id, database_id, existing["card"], field_ids
                )
        found = {spec.key: self.find_dashboard(spec, collection_id, existing["dashboard"]) for spec in specs}
        dashboard_ids = {key: dash_id for key, (dash_id, _) in found.items()}
        by_key = {s.key: s for s in (all_specs or specs)}
        for key in sorted({c.dashboard for s in specs for card in s.cards for c in card.click} - set(dashboard_ids)):
            target = by_key.get(key)
            if target is None or (target.name not in existing["dashboard"] and not self.dry_run):
                message = f"a click opens dashboard {key!r}: apply it too (it is not in Metabase)"
                raise MetabaseError("PUT", "/api/dashboard", None, message)
            dashboard_ids[key] = existing["dashboard"].get(target.name, PLACEHOLDER_ID)
        for spec in specs:
            dash_id, actual = found[spec.key]
            self.fill_dashboard(spec, dash_id, actual, card_ids, dashboard_ids)
        if self.access is not None:
            from dashboards.metabase.permissions import ensure_permissions

            ensure_permissions(self, self.access, collection_id, database_id)
        return self.report

    def ensure_fields(self, database_id: int, specs: list[DashboardSpec]) -> FieldIds:
        """Metabase's ids of the columns the field filters read, each a dropdown list. A new connection's first
        schema sync runs in the background: wait for it (up to sync_timeout_s), then say what is missing."""
        wanted = sorted({(p.field.table, p.field.column) for s in specs for p in s.parameters if p.field is not None})
        if not wanted or self.client is None or database_id <= 0:
            return {}
        path = f"/api/database/{database_id}/metadata"
        deadline = time.monotonic() + self.sync_timeout_s
        while True:
            found: dict[tuple[str, str], dict[str, Any]] = {}
            meta = self.client.get(path)
            for table in (meta or {}).get("tables") or []:
                if table.get("schema") != READ_SCHEMA:
                    continue
                for column in table.get("fields") or []:
                    key = (str(table.get("name")), str(column.get("name")))
                    if key in wanted and isinstance(column.get("id"), int):
                        found[key] = column
            missing = [f"{READ_SCHEMA}.{t}.{c}" for t, c in wanted if (t, c) not in found]
            if not missing:
                break
            if self.dry_run or time.monotonic() >= deadline:
                if self.dry_run:
                    return {key: int(col["id"]) for key, col in found.items()}
                raise MetabaseError(
                    "GET",
                    path,
                    None,
                    f"Metabase does not know {', '.join(missing)} yet: its schema sync of the warehouse has not "
                    f"finished (or the reporting schema is not built or not granted); run the apply again later",
                )
            time.sleep(self.sync_poll_s)
        ids: FieldIds = {}
        for (table, column), meta_field in sorted(found.items()):
            name = f"{READ_SCHEMA}.{table}.{column}"
            if meta_field.get("has_field_values") == "list":
                self.report.add(Change("field", name, "unchanged", meta_field["id"]))
            else:
                self._write("PUT", f"/api/field/{meta_field['id']}", {"has_field_values": "list"})
                self.report.add(Change("field", name, "update", meta_field["id"], "dropdown list of values"))
            ids[(table, column)] = int(meta_field["id"])
        return ids

    def ensure_collection(self) -> int:
        if self.client is not None:
            for coll in unwrap_list(self.client.get("/api/collection")):
                if (
                    coll.get("name") == self.collection_name
                    and not coll.get("archived")
                    and coll.get("personal_owner_id") is None
                    and isinstance(coll.get("id"), int)
                ):
                    self.report.add(Change("collection", self.collection_name, "unchanged", coll["id"]))
                    return int(coll["id"])
        body = {
            "name": self.collection_name,
            "description": "execmetrics dashboards, managed as code (dashboards/specs).",
        }
        new_id = self._write("POST", "/api/collection", body)
        self.report.add(Change("collection", self.collection_name, "create", new_id))
        return new_id

    def ensure_database(self) -> int:
        conn = self.database
        if self.client is not None:
            for db in unwrap_list(self.client.get("/api/database")):
                if db.get("name") != conn.name:
                    continue
                have = db.get("details") or {}
                changed = [k for k, v in conn.public_details().items() if have.get(k) != v]
                if db.get("engine") != "postgres":
                    changed.insert(0, "engine")
                if self.update_password:  # Metabase masks it when it answers: only a request can say it changed
                    changed.append("password")
                if not changed:
                    self.report.add(Change("database", conn.name, "unchanged", db["id"], conn.redacted()))
                    return int(db["id"])
                put_body = {"name": conn.name, "engine": "postgres", "details": conn.details()}
                self._write("PUT", f"/api/database/{db['id']}", put_body)
                self.report.add(Change("database", conn.name, "update", db["id"], "changed: " + ", ".join(changed)))
                return int(db["id"])
        body: dict[str, Any] = {
            "name": conn.name,
            "engine": "postgres",
            "details": conn.details(),
            "is_full_sync": True,
            "is_on_demand": False,
            "connection_source": "admin",
        }
        new_id = self._write("POST", "/api/database", body)
        if not self.dry_run:
            # Native queries do not need the sync, but the data browser and column types do; it runs in the background.
            self._write("POST", f"/api/database/{new_id}/sync_schema", {})
        self.report.add(Change("database", conn.name, "create", new_id, conn.redacted()))
        return new_id

    def _collection_items(self, collection_id: int) -> dict[str, dict[str, int]]:
        """name -> id of the cards and dashboards directly in the collection."""
        found: dict[str, dict[str, int]] = {"card": {}, "dashboard": {}}
        if self.client is None or collection_id <= 0:
            return found
        body = self.client.get(f"/api/collection/{collection_id}/items", models=["card", "dashboard"])
        for item in unwrap_list(body):
            model, name, item_id = item.get("model"), item.get("name"), item.get("id")
            if model in found and isinstance(name, str) and isinstance(item_id, int) and not item.get("archived"):
                found[model].setdefault(name, item_id)  # the oldest wins if a human made a copy with the same name
        return found

    def ensure_card(
        self,
        card: CardSpec,
        spec: DashboardSpec,
        collection_id: int,
        database_id: int,
        existing: dict[str, int],
        field_ids: FieldIds | None = None,
    ) -> int:
        desired = card_payload(card, spec, database_id=database_id, collection_id=collection_id, field_ids=field_ids)
        card_id = existing.get(card.name)
        if card_id is None or self.client is None:
            new_id = self._write("POST", "/api/card", desired)
            self.report.add(Change("card", card.name, "create", new_id, f"{spec.key}, {card.display}"))
            return new_id
        actual = self.client.get(f"/api/card/{card_id}")
        diffs = card_differences(desired, actual)
        if diffs:
            self._write("PUT", f"/api/card/{card_id}", desired)
            self.report.add(Change("card", card.name, "update", card_id, "changed: " + ", ".join(diffs)))
        else:
            self.report.add(Change("card", card.name, "unchanged", card_id))
        return card_id

    def find_dashboard(
        self, spec: DashboardSpec, collection_id: int, existing: dict[str, int]
    ) -> tuple[int, dict[str, Any] | None]:
        """The dashboard's id and what Metabase holds (None: created now, with its parameters and no cards)."""
        dash_id = existing.get(spec.name)
        if dash_id is None or self.client is None:
            body = {
                "name": spec.name,
                "description": spec.description,
                "collection_id": collection_id,
                "parameters": dashboard_parameters(spec),
            }
            return self._write("POST", "/api/dashboard", body), None
        return dash_id, self.client.get(f"/api/dashboard/{dash_id}")

    def fill_dashboard(
        self,
        spec: DashboardSpec,
        dash_id: int,
        actual: dict[str, Any] | None,
        card_ids: dict[str, int],
        dashboard_ids: dict[str, int],
    ) -> int:
        params = dashboard_parameters(spec)
        created = actual is None
        if actual is None:
            actual = {"description": spec.description, "parameters": params, "dashcards": []}
            if self.client is not None and not self.dry_run:
                actual = self.client.get(f"/api/dashboard/{dash_id}")
        have_cards = actual.get("dashcards")
        if have_cards is None:
            have_cards = actual.get("ordered_cards") or []
        # card id -> the dashcard to keep for it; when a card sits on the dashboard twice (a copy added by hand),
        # keep the one already where the spec puts it, else the oldest.
        spec_pos = {card_ids[c.name]: (c.layout.row, c.layout.col) for c in spec.cards}
        reuse: dict[int, int] = {}
        for dc in sorted(have_cards, key=lambda d: d.get("id") or 0):
            card_id, dc_id = dc.get("card_id"), dc.get("id")
            if not isinstance(dc_id, int) or not isinstance(card_id, int):
                continue
            if card_id not in reuse or spec_pos.get(card_id) == (dc.get("row"), dc.get("col")):
                reuse.setdefault(card_id, dc_id)
                if spec_pos.get(card_id) == (dc.get("row"), dc.get("col")):
                    reuse[card_id] = dc_id
        dashcards = dashcards_payload(spec, card_ids, reuse, dashboard_ids)
        diffs = dashboard_differences(params, dashcards, spec, actual)
        embedding: dict[str, Any] = {}
        if self.embed:
            embedding = {"enable_embedding": True, "embedding_params": embedding_params(spec)}
            if any(actual.get(key) != value for key, value in embedding.items()):
                diffs.append("embedding")
        if diffs:
            body = {
                "name": spec.name,
                "description": spec.description,
                "parameters": params,
                "dashcards": dashcards,
                **embedding,
            }
            self._write("PUT", f"/api/dashboard/{dash_id}", body)
        if created:
            self.report.add(Change("dashboard", spec.name, "create", dash_id, f"{len(dashcards)} cards"))
        elif diffs:
            self.report.add(Change("dashboard", spec.name, "update", dash_id, "changed: " + ", ".join(diffs)))
        else:
            self.report.add(Change("dashboard", spec.name, "unchanged", dash_id))
        return dash_id

    # -------------------------------------------------------------------------------------------- writes

    def _write(self, method: str, path: str, body: dict[str, Any] | None, params: dict[str, Any] | None = None) -> int:
        """Send a write (or, in a dry run, pretend to) and return the id Metabase gave the object."""
        if self.dry_run or self.client is None:
            return PLACEHOLDER_ID
        answer = self.client.request(method, path, json=body, params=params)
        if isinstance(answer, dict) and isinstance(answer.get("id"), int):
            return int(answer["id"])
        return PLACEHOLDER_ID


def apply_specs(
    client: MetabaseClient | None,
    specs: list[DashboardSpec],
    database: WarehouseConnection,
    *,
    collection_name: str = "execmetrics",
    dry_run: bool = False,
    access: AccessSpec | None = None,
    update_password: bool = False,
    embed: bool = False,
    all_specs: list[DashboardSpec] | None = None,
    sync_timeout_s: float = 120.0,
    sync_poll_s: float = 3.0,
) -> ApplyReport:
    """Apply the specs (and, given `access`, the groups and permissions of dashboards/access.yml; with `embed`, the
    dashboards' static embedding, as a tenant's dashboards need); `all_specs` names the dashboards their clicks may
    open (default: `specs`)."""
    applier = Applier(
        client,
        database,
        collection_name=collection_name,
        dry_run=dry_run,
        access=access,
        update_password=update_password,
        embed=embed,
        sync_timeout_s=sync_timeout_s,
        sync_poll_s=sync_poll_s,
    )
    return applier.apply(specs, all_specs)
