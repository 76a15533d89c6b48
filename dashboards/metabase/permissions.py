"""Metabase permissions as code (dashboards/access.yml): groups, their members, what they see in the execmetrics
collection and whether they may write queries on the warehouse connection.

Steps, each compared with what Metabase holds first (a second apply sends no write):
1. groups by name (`GET /api/permissions/group`), created when missing (`POST`);
2. members, for a group that lists them: users found by email (`GET /api/user`), memberships added
   (`POST /api/permissions/membership`) or removed (`DELETE /api/permissions/membership/{id}`);
3. the collection graph (`GET`/`PUT /api/collection/graph`): each managed group's level on the collection;
4. the data graph for the warehouse connection (`GET /api/permissions/graph/db/{id}`, `PUT /api/permissions/graph`):
   each managed group's "create queries" level. View-data stays Metabase's default (open source Metabase has only
   "can view"): who sees a dashboard is decided by the collection, what its SQL can read by the reader role.

A PUT carries the graph's revision and only the entries that change; Metabase refuses it (409) when someone changed
the graph since it was read, and the next apply starts again from the new graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from dashboards.metabase.apply import PLACEHOLDER_ID, Change
from dashboards.metabase.client import unwrap_list

if TYPE_CHECKING:
    from dashboards.metabase.apply import Applier

ACCESS_FILE = Path(__file__).resolve().parent.parent / "access.yml"
ALL_USERS = "All Users"
ADMINISTRATORS = "Administrators"
MAGIC_GROUPS = {"all-internal-users": ALL_USERS, "admin": ADMINISTRATORS}

CollectionLevel = Literal["none", "read", "write"]
QueryLevel = Literal["none", "query-builder", "native"]
CREATE_QUERIES: dict[str, str] = {"none": "no", "query-builder": "query-builder", "native": "query-builder-and-native"}


class AccessSpecError(ValueError):
    """dashboards/access.yml cannot be loaded or breaks a rule."""


class Access(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collection: CollectionLevel
    queries: QueryLevel


class GroupAccess(Access):
    name: str
    members: list[str] | None = None

    @field_validator("name")
    @classmethod
    def _not_builtin(cls, value: str) -> str:
        if value.strip().lower() in {ALL_USERS.lower(), ADMINISTRATORS.lower()}:
            raise ValueError(f"{value!r} is Metabase's built-in group: use all_users (Administrators keep everything)")
        return value.strip()

    @field_validator("members")
    @classmethod
    def _emails(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        bad = [email for email in value if "@" not in email]
        if bad:
            raise ValueError(f"members are emails: {bad}")
        return sorted({email.strip().lower() for email in value})


class AccessSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[GroupAccess]
    all_users: Access

    @model_validator(mode="after")
    def _unique(self) -> AccessSpec:
        names = [group.name.lower() for group in self.groups]
        if len(names) != len(set(names)):
            raise ValueError("group names must be unique")
        return self

    def admins_only(self) -> AccessSpec:
        """The same groups, none of them (nor All Users) with any access: what a tenant's collection and connection
        get (tenants see them embedded, through signed links; the members lists stay the main apply's)."""
        nothing = {"collection": "none", "queries": "none"}
        return AccessSpec.model_validate(
            {"groups": [{"name": g.name, **nothing} for g in self.groups], "all_users": nothing}
        )

    def managed(self) -> list[tuple[str, Access]]:
        """(group name, its access) for every group this spec decides, All Users included."""
        return [(ALL_USERS, self.all_users), *((group.name, group) for group in self.groups)]


def load_access(path: Path = ACCESS_FILE) -> AccessSpec:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise AccessSpecError(f"{path}: {exc}") from exc
    try:
        return AccessSpec.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise AccessSpecError(f"{path}: {problems}") from None


# ------------------------------------------------------------------------------------------------ apply


def _group_name(group: dict[str, Any]) -> str | None:
    magic = group.get("magic_group_type")
    return MAGIC_GROUPS.get(magic, group.get("name")) if isinstance(magic, str) else group.get("name")


def ensure_groups(applier: Applier, spec: AccessSpec) -> dict[str, int]:
    """Group name -> id for All Users and every group of the spec (created when missing)."""
    existing: dict[str, int] = {}
    if applier.client is not None:
        for found in unwrap_list(applier.client.get("/api/permissions/group")):
            name = _group_name(found)
            if isinstance(name, str) and isinstance(found.get("id"), int):
                existing.setdefault(name.lower(), int(found["id"]))
    ids: dict[str, int] = {}
    if ALL_USERS.lower() in existing:
        ids[ALL_USERS] = existing[ALL_USERS.lower()]
    elif applier.client is not None:
        raise AccessSpecError(f"Metabase has no {ALL_USERS!r} group: is this a Metabase server?")
    for group in spec.groups:
        if group.name.lower() in existing:
            ids[group.name] = existing[group.name.lower()]
            applier.report.add(Change("group", group.name, "unchanged", ids[group.name]))
        else:
            ids[group.name] = applier._write("POST", "/api/permissions/group", {"name": group.name})
            applier.report.add(Change("group", group.name, "create", ids[group.name]))
    return ids


def ensure_members(applier: Applier, spec: AccessSpec, group_ids: dict[str, int]) -> None:
    listed = [group for group in spec.groups if group.members is not None]
    if not listed:
        return
    users: dict[str, int] = {}
    memberships: dict[int, dict[int, int]] = {}  # group id -> {user id: membership id}
    if applier.client is not None:
        for user in unwrap_list(applier.client.get("/api/user")):
            if isinstance(user.get("email"), str) and isinstance(user.get("id"), int):
                users[user["email"].lower()] = int(user["id"])
        body = applier.client.get("/api/permissions/membership") or {}
        for user_id, entries in body.items() if isinstance(body, dict) else []:
            for entry in entries or []:
                if isinstance(entry, dict) and isinstance(entry.get("membership_id"), int):
                    groups = memberships.setdefault(int(entry["group_id"]), {})
                    groups[int(user_id)] = int(entry["membership_id"])
    by_id = {user_id: email for email, user_id in users.items()}
    for group in listed:
        assert group.members is not None
        group_id = group_ids[group.name]
        have = memberships.get(group_id, {})
        missing_users = [email for email in group.members if email not in users]
        wanted = {users[email] for email in group.members if email in users}
        added = sorted(wanted - set(have))
        removed = sorted(set(have) - wanted)
        for user_id in added:
            body = {"group_id": group_id, "user_id": user_id, "is_group_manager": False}
            applier._write("POST", "/api/permissions/membership", body)
        for user_id in removed:
            applier._write("DELETE", f"/api/permissions/membership/{have[user_id]}", None)
        if missing_users:
            detail = "no Metabase user with email " + ", ".join(missing_users)
            applier.report.add(Change("membership", group.name, "skipped", group_id, detail))
        if added or removed:
            detail = ", ".join([*(f"+{by_id[u]}" for u in added), *(f"-{by_id.get(u, u)}" for u in removed)])
            applier.report.add(Change("membership", group.name, "update", group_id, detail))
        elif not missing_users:
            applier.report.add(Change("membership", group.name, "unchanged", group_id, f"{len(wanted)} members"))


def _changes_text(changes: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{name}: {old or 'unset'} -> {new}" for name, (old, new) in changes.items())


def ensure_collection_permissions(
    applier: Applier, spec: AccessSpec, group_ids: dict[str, int], collection_id: int
) -> None:
    graph: dict[str, Any] = {"revision": None, "groups": {}}
    if applier.client is not None:
        graph = applier.client.get("/api/collection/graph") or graph
    groups = graph.get("groups") or {}
    updates: dict[str, dict[str, str]] = {}
    changes: dict[str, tuple[Any, Any]] = {}
    for name, access in spec.managed():
        group_id = group_ids.get(name, PLACEHOLDER_ID)
        have = (groups.get(str(group_id)) or {}).get(str(collection_id))
        if have != access.collection:
            updates[str(group_id)] = {str(collection_id): access.collection}
            changes[name] = (have, access.collection)
    target = f"collection {applier.collection_name}"
    if not updates:
        applier.report.add(Change("permissions", target, "unchanged", collection_id))
        return
    body = {"revision": graph.get("revision"), "groups": updates}
    applier._write("PUT", "/api/collection/graph", body, params={"skip-graph": "true"})
    applier.report.add(Change("permissions", target, "update", collection_id, _changes_text(changes)))


def ensure_data_permissions(applier: Applier, spec: AccessSpec, group_ids: dict[str, int], database_id: int) -> None:
    graph: dict[str, Any] = {"revision": None, "groups": {}}
    if applier.client is not None and database_id > 0:
        graph = applier.client.get(f"/api/permissions/graph/db/{database_id}") or graph
    groups = graph.get("groups") or {}
    updates: dict[str, dict[str, dict[str, str]]] = {}
    changes: dict[str, tuple[Any, Any]] = {}
    for name, access in spec.managed():
        group_id = group_ids.get(name, PLACEHOLDER_ID)
        perms = (groups.get(str(group_id)) or {}).get(str(database_id)) or {}
        have = perms.get("create-queries") if isinstance(perms, dict) else None
        want = CREATE_QUERIES[access.queries]
        if have != want:
            updates[str(group_id)] = {str(database_id): {"create-queries": want}}
            changes[name] = (have, want)
    target = f"database {applier.database.name}"
    if not updates:
        applier.report.add(Change("permissions", target, "unchanged", database_id))
        return
    body = {"revision": graph.get("revision"), "groups": updates}
    applier._write("PUT", "/api/permissions/graph", body, params={"skip-graph": "true"})
    applier.report.add(Change("permissions", target, "update", database_id, _changes_text(changes)))


def ensure_permissions(applier: Applier, spec: AccessSpec, collection_id: int, database_id: int) -> None:
    group_ids = ensure_groups(applier, spec)
    ensure_members(applier, spec, group_ids)
    ensure_collection_permissions(applier, spec, group_ids, collection_id)
    ensure_data_permissions(applier, spec, group_ids, database_id)
