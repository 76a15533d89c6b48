"""The apply against the in-memory Metabase: contract-valid requests, idempotence, minimal updates, no secrets."""

from __future__ import annotations

import logging

import pytest
from fake_metabase import ADMIN_ID, ALL_USERS_ID, WAREHOUSE_PASSWORD, FakeMetabase, reporting_columns
from metabase_contract import MetabaseContract

from dashboards.metabase.apply import WarehouseConnection, apply_specs
from dashboards.metabase.client import MetabaseClient, MetabaseError
from dashboards.metabase.permissions import AccessSpec
from dashboards.spec import DashboardSpec, reporting_tables

N_FIELDS = 3  # the columns the field filters read: rpt_tenants.tenant_name, plan, segment


def _apply(client: MetabaseClient, specs: list[DashboardSpec], connection: WarehouseConnection, **kw):
    return apply_specs(client, specs, connection, **kw)


def test_first_apply_creates_everything(fake, client, specs, connection):
    report = _apply(client, specs, connection)
    n_cards = sum(len(s.cards) for s in specs)
    assert len(report.of("create", "card")) == n_cards == len(fake.cards)
    assert len(report.of("create", "dashboard")) == len(specs) == len(fake.dashboards)
    assert [c.kind for c in report.of("create", "collection")] == ["collection"]
    assert len(report.of("create", "database")) == 1
    # the filtered columns became dropdown lists; nothing else was updated
    assert sorted(c.name for c in report.updated) == [
        "reporting.rpt_tenants.plan",
        "reporting.rpt_tenants.segment",
        "reporting.rpt_tenants.tenant_name",
    ]
    assert {f["has_field_values"] for f in fake.fields.values() if f["name"] != "tenant_id"} == {"list"}
    tenant_field = next(f["id"] for f in fake.fields.values() if f["name"] == "tenant_name")
    (coll,) = fake.collections.values()
    assert coll["name"] == "execmetrics"
    # every card lives in the collection and queries the warehouse connection it created
    (db,) = fake.databases.values()
    assert db["engine"] == "postgres" and db["details"]["host"] == "postgres" and db["details"]["password"]
    for card in fake.cards.values():
        assert card["collection_id"] == coll["id"]
        assert card["dataset_query"]["database"] == db["id"]
        assert card["dataset_query"]["type"] == "native"
    # dashboards hold their spec's cards on the spec's grid, every filter wired to every card using its tag
    by_name = {d["name"]: d for d in fake.dashboards.values()}
    card_ids = report.ids("card")
    for spec in specs:
        dash = by_name[spec.name]
        assert [p["id"] for p in dash["parameters"]] == [p.slug for p in spec.parameters]
        dashcards = {dc["card_id"]: dc for dc in dash["dashcards"]}
        assert set(dashcards) == {card_ids[c.name] for c in spec.cards}
        for card in spec.cards:
            dc = dashcards[card_ids[card.name]]
            assert (dc["row"], dc["col"], dc["size_x"], dc["size_y"]) == (
                card.layout.row,
                card.layout.col,
                card.layout.size_x,
                card.layout.size_y,
            )
            mapped = {m["parameter_id"]: m["target"] for m in dc["parameter_mappings"]}
            assert set(mapped) == set(card.tags)
            stored = fake.cards[dc["card_id"]]
            tags = stored["dataset_query"]["native"]["template-tags"]
            card_params = {p["slug"]: p for p in stored["parameters"]}
            params = {p.slug: p for p in spec.parameters}
            for slug, target in mapped.items():
                kind = "dimension" if params[slug].is_field_filter else "variable"
                assert target == [kind, ["template-tag", slug]] and slug in tags
                if slug == "tenant":  # the field filter names Metabase's id of rpt_tenants.tenant_name
                    assert tags[slug]["dimension"] == ["field", tenant_field, None]
                    assert tags[slug]["widget-type"] == "string/="
                # the card's own parameter for the tag: same id as the tag, same target, the filter's type
                assert card_params[slug]["id"] == tags[slug]["id"] and card_params[slug]["target"] == target
                assert card_params[slug]["type"] == next(p.type for p in spec.parameters if p.slug == slug)


def _with_members(access, **members):
    """The spec with member lists for some groups, validated as if written in dashboards/access.yml."""
    data = access.model_dump()
    for group in data["groups"]:
        if group["name"] in members:
            group["members"] = members[group["name"]]
    return AccessSpec.model_validate(data)


def test_every_request_matches_the_contract(fake, client, specs, connection, access, contract: MetabaseContract):
    fake.add_user("cfo@example.com")
    fake.add_user("former@example.com")
    fake._add_membership(fake.group_id("Administrators"), fake.add_user("ceo@example.com"))
    _apply(client, specs, connection, access=access)
    fake._add_membership(fake.group_id("Executives"), 3)  # former@ joined by hand: the spec removes them
    members = _with_members(access, Executives=["cfo@example.com", "ceo@example.com", "nobody@example.com"])
    # a second run and a dry run add the read-only requests of the update path
    _apply(client, specs, connection, access=members)
    _apply(client, specs, connection, dry_run=True, access=members)
    seen = set()
    for req in fake.requests:
        template = contract.template_for(req.path, req.method)
        assert template is not None, f"{req.method} {req.path}: no such path and method in the contract"
        assert template == req.template
        assert contract.operation(template, req.method) is not None, f"{req.method} {template} is not in the contract"
        errors = contract.parameter_errors(req.method, req.path, req.query)
        assert not errors, f"{req.method} {req.path}?{req.query}: " + "; ".join(errors)
        seen.add((req.method, template))
    assert {
        ("POST", "/api/card"),
        ("PUT", "/api/dashboard/{id}"),
        ("POST", "/api/database"),
        ("GET", "/api/permissions/group"),
        ("POST", "/api/permissions/group"),
        ("GET", "/api/user"),
        ("GET", "/api/permissions/membership"),
        ("POST", "/api/permissions/membership"),
        ("DELETE", "/api/permissions/membership/{id}"),
        ("GET", "/api/collection/graph"),
        ("PUT", "/api/collection/graph"),
        ("GET", "/api/permissions/graph/db/{db-id}"),
        ("PUT", "/api/permissions/graph"),
    } <= seen


def test_the_contract_check_catches_bad_parameters(contract):
    assert contract.parameter_errors("GET", "/api/card/7", {}) == []
    assert contract.parameter_errors("GET", "/api/card/0", {})  # ids are positive
    assert contract.parameter_errors("PUT", "/api/collection/graph", {"skip-graph": ["maybe"]})
    assert contract.parameter_errors("GET", "/api/user", {"no_such": ["1"]})
    assert contract.parameter_errors("PATCH", "/api/user", {})
    # a literal segment wins over a parameter, and the method picks between same-shaped templates
    assert contract.template_for("/api/collection/graph", "GET") == "/api/collection/graph"
    assert contract.template_for("/api/permissions/group/4", "GET") == "/api/permissions/group/{id}"
    assert contract.template_for("/api/permissions/group/4", "PUT") == "/api/permissions/group/{group-id}"


def test_every_request_body_validates_against_the_contract(fake, client, specs, connection, access, contract):
    fake.add_user("cfo@example.com")
    _apply(client, specs, connection, access=_with_members(access, Executives=["cfo@example.com"]))
    # make the update paths run too: a changed card, a moved dashcard, a changed warehouse host
    card = next(c for c in fake.cards.values() if c["name"] == "MRR")
    card["dataset_query"]["native"]["query"] = "select 1"
    dash = next(iter(fake.dashboards.values()))
    dash["dashcards"][0]["row"] += 50
    moved = WarehouseConnection(**{**connection.__dict__, "host": "warehouse.internal"})
    _apply(client, specs, moved, access=_with_members(access, Executives=[]))
    checked: set[tuple[str, str]] = set()
    targets = 0
    for req in fake.requests:
        if req.method in ("GET", "DELETE"):
            continue
        template = contract.template_for(req.path, req.method)
        assert contract.has_body_schema(template, req.method) or req.body in (None, {}), (req.method, template)
        if not contract.has_body_schema(template, req.method):
            continue
        errors = contract.body_errors(template, req.method, req.body)
        assert not errors, f"{req.method} {req.path}: " + "; ".join(errors[:5])
        for dashcard in (req.body or {}).get("dashcards") or []:
            for mapping in dashcard["parameter_mappings"]:
                assert not contract.target_errors(mapping["target"]), mapping
                targets += 1
        for parameter in (req.body or {}).get("parameters") or []:
            if "target" in parameter:  # card parameters carry a target, dashboard parameters do not
                assert not contract.target_errors(parameter["target"]), parameter
                targets += 1
        checked.add((req.method, template))
    assert {
        ("POST", "/api/collection"),
        ("POST", "/api/database"),
        ("PUT", "/api/database/{id}"),
        ("POST", "/api/card"),
        ("PUT", "/api/card/{id}"),
        ("POST", "/api/dashboard"),
        ("PUT", "/api/dashboard/{id}"),
        ("POST", "/api/permissions/group"),
        ("POST", "/api/permissions/membership"),
        ("PUT", "/api/collection/graph"),
        ("PUT", "/api/permissions/graph"),
    } <= checked
    assert targets > 0


def test_contract_target_oneof_rejects_even_valid_targets(contract):
    """Why the targets are checked separately: the contract as generated accepts no concrete target at all."""
    body = {
        "dashcards": [
            {
                "id": -1,
                "card_id": 1,
                "row": 0,
                "col": 0,
                "size_x": 4,
                "size_y": 3,
                "parameter_mappings": [
                    {"parameter_id": "tenant", "card_id": 1, "target": ["variable", ["template-tag", "tenant"]]}
                ],
            }
        ]
    }
    strict = contract.body_errors("/api/dashboard/{id}", "PUT", body, relax_target=False)
    assert any("valid under each of" in e for e in strict), strict
    assert contract.body_errors("/api/dashboard/{id}", "PUT", body) == []
    assert contract.target_errors(["variable", ["template-tag", "tenant"]]) == []
    assert contract.target_errors(["dimension", ["template-tag", "tenant"]]) == []
    assert contract.target_errors(["field", ["template-tag", "tenant"]])
    assert contract.target_errors(["variable", ["template-tag", ""]])


def test_second_apply_changes_nothing(fake, client, specs, connection):
    _apply(client, specs, connection)
    before = len(fake.requests)
    report = _apply(client, specs, connection)
    assert not report.created and not report.updated
    assert len(report.unchanged) == 2 + N_FIELDS + sum(len(s.cards) for s in specs) + len(specs)
    assert [r for r in fake.requests[before:] if r.method != "GET"] == []


def test_second_apply_changes_nothing_with_mbql5_answers(specs, connection):
    """Newer Metabase answers dataset_query as MBQL 5 `stages`; the comparison must see through that."""
    fake = FakeMetabase(mbql5=True, warehouse=reporting_columns(specs))
    with MetabaseClient("http://mb.test", api_key=fake.api_key, transport=fake.transport) as client:
        _apply(client, specs, connection)
        before = len(fake.writes())
        report = _apply(client, specs, connection)
    assert not report.created and not report.updated
    assert len(fake.writes()) == before


def test_changed_sql_is_one_put(fake, client, specs, connection):
    _apply(client, specs, connection)
    spec = next(s for s in specs if s.key == "executive_overview")
    card = spec.cards[0]
    changed_card = card.model_copy(
        update={"sql": card.sql.replace("order by k.period_start", "order by k.period_start asc")}
    )
    changed_spec = spec.model_copy(update={"cards": [changed_card, *spec.cards[1:]]})
    changed = [changed_spec if s.key == spec.key else s for s in specs]
    before = len(fake.requests)
    report = _apply(client, changed, connection)
    writes = [r for r in fake.requests[before:] if r.method != "GET"]
    assert [(w.method, w.template) for w in writes] == [("PUT", "/api/card/{id}")]
    assert writes[0].body["dataset_query"]["native"]["query"].endswith("order by k.period_start asc")
    assert [(c.kind, c.name) for c in report.updated] == [("card", card.name)]
    assert "sql" in report.updated[0].detail
    # and it is idempotent again
    assert not _apply(client, changed, connection).updated


def test_moved_card_updates_only_its_dashboard(fake, client, specs, connection):
    _apply(client, specs, connection)
    spec = next(s for s in specs if s.key == "operations")
    last = spec.cards[-1]
    moved = last.model_copy(update={"layout": last.layout.model_copy(update={"row": last.layout.row + 10})})
    changed = [s.model_copy(update={"cards": [*s.cards[:-1], moved]}) if s.key == spec.key else s for s in specs]
    before = len(fake.requests)
    report = _apply(client, changed, connection)
    writes = [r for r in fake.requests[before:] if r.method != "GET"]
    assert [(w.method, w.template) for w in writes] == [("PUT", "/api/dashboard/{id}")]
    assert [(c.kind, c.name) for c in report.updated] == [("dashboard", spec.name)]
    # dashcards kept their ids (no delete + re-add), and the moved one is where the spec says
    dash = next(d for d in fake.dashboards.values() if d["name"] == spec.name)
    assert all(dc["id"] > 0 for dc in writes[0].body["dashcards"])
    assert max(dc["row"] for dc in dash["dashcards"]) == moved.layout.row


def test_dashcard_added_by_hand_is_removed(fake, client, specs, connection):
    _apply(client, specs, connection)
    dash = next(iter(fake.dashboards.values()))
    extra = dict(dash["dashcards"][0], id=9999, row=100)
    dash["dashcards"].append(extra)
    report = _apply(client, specs, connection)
    assert [(c.kind, c.name) for c in report.updated] == [("dashboard", dash["name"])]
    assert 9999 not in {dc["id"] for dc in dash["dashcards"]}


def test_only_applies_one_dashboard(fake, client, specs, connection):
    only = [s for s in specs if s.key == "product_engagement"]  # no click leaves it
    report = _apply(client, only, connection, all_specs=specs)
    assert [c.name for c in report.of("create", "dashboard")] == ["Product engagement"]
    assert len(fake.cards) == len(only[0].cards)


def test_only_a_dashboard_whose_clicks_open_another_needs_that_one_applied(fake, client, specs, connection):
    billing = [s for s in specs if s.key == "billing_health"]  # its dunning table opens the tenant dashboard
    with pytest.raises(MetabaseError, match="'tenant_detail': apply it too"):
        _apply(client, billing, connection, all_specs=specs)
    _apply(client, specs, connection)
    report = _apply(client, billing, connection, all_specs=specs)
    assert not report.created and not report.updated


def test_clicks_open_the_tenant_dashboard_and_the_months_movements(fake, client, specs, connection, contract):
    report = _apply(client, specs, connection)
    ids = report.ids("dashboard")
    dashboards = {d["id"]: d for d in fake.dashboards.values()}
    tenant_detail, movements = ids["Tenant detail"], ids["MRR movements by customer"]
    links = 0
    for dash in dashboards.values():
        for dc in dash["dashcards"]:
            viz = dc["visualization_settings"]
            behaviors = [(None, viz["click_behavior"])] if "click_behavior" in viz else []
            behaviors += [(key, col["click_behavior"]) for key, col in (viz.get("column_settings") or {}).items()]
            for column_key, behavior in behaviors:
                assert behavior["type"] == "link" and behavior["linkType"] == "dashboard"
                target = dashboards[behavior["targetId"]]
                target_params = {p["id"] for p in target["parameters"]}
                for slug, mapping in behavior["parameterMapping"].items():
                    assert slug == mapping["id"] == mapping["target"]["id"] and slug in target_params
                    assert mapping["target"]["type"] == "parameter"
                    assert not contract.body_errors(
                        "/api/dashboard/{id}", "PUT", {"parameters": [{"id": slug, "type": "string/="}]}
                    )
                    if mapping["source"]["type"] == "parameter":
                        assert mapping["source"]["id"] in {p["id"] for p in dash["parameters"]}
                if column_key is not None:  # a table's tenant name opens the tenant's dashboard
                    assert column_key == '["name","tenant_name"]' and target["id"] == tenant_detail
                    assert behavior["parameterMapping"]["tenant"]["source"] == {
                        "type": "column",
                        "id": "tenant_name",
                        "name": "tenant_name",
                    }
                links += 1
    assert links >= 6
    executive = dashboards[ids["Executive overview"]]
    bridge_card = report.ids("card")["MRR bridge"]
    (bridge,) = [dc for dc in executive["dashcards"] if dc["card_id"] == bridge_card]
    click = bridge["visualization_settings"]["click_behavior"]
    assert click["targetId"] == movements
    assert click["parameterMapping"]["month"]["source"] == {"type": "column", "id": "month", "name": "month"}
    assert click["parameterMapping"]["tenant"]["source"]["type"] == "parameter"


def test_filters_are_dropdowns(fake, client, specs, connection, contract):
    _apply(client, specs, connection)
    executive = next(d for d in fake.dashboards.values() if d["name"] == "Executive overview")
    params = {p["id"]: p for p in executive["parameters"]}
    assert params["tenant"]["values_query_type"] == "list" and params["tenant"]["isMultiSelect"] is False
    assert params["granularity"]["values_source_type"] == "static-list"
    assert params["granularity"]["values_source_config"] == {"values": ["day", "week", "month"]}
    assert params["compare_to"]["default"] == "previous period"
    body = {"parameters": list(params.values())}
    assert contract.body_errors("/api/dashboard/{id}", "PUT", body) == []


def test_apply_waits_for_the_schema_sync_then_says_what_is_missing(specs, connection):
    slow = FakeMetabase(warehouse=reporting_columns(specs), sync_after=2)
    with MetabaseClient("http://mb.test", api_key=slow.api_key, transport=slow.transport) as client:
        report = apply_specs(client, specs, connection, sync_poll_s=0.01)
    assert len([r for r in slow.requests if r.template == "/api/database/{id}/metadata"]) == 3
    assert len(report.of("update", "field")) == N_FIELDS
    never = FakeMetabase(warehouse={})
    with (
        MetabaseClient("http://mb.test", api_key=never.api_key, transport=never.transport) as client,
        pytest.raises(MetabaseError, match="reporting.rpt_tenants.tenant_name yet: its schema sync"),
    ):
        apply_specs(client, specs, connection, sync_timeout_s=0.05, sync_poll_s=0.01)


def test_every_card_reads_a_table_the_connection_shows(specs, connection):
    assert connection.public_details()["schema-filters-patterns"] == "reporting"
    assert all(reporting_tables(c.sql) for s in specs for c in s.cards)


def test_dry_run_sends_no_write(fake, client, specs, connection):
    plan = _apply(client, specs, connection, dry_run=True)
    assert fake.writes() == []
    assert len(plan.created) == 2 + sum(len(s.cards) for s in specs) + len(specs)
    assert plan.lines()[0].startswith("would create")
    _apply(client, specs, connection)
    plan = _apply(client, specs, connection, dry_run=True)
    assert not plan.created and not plan.updated


def test_offline_dry_run_plans_everything(specs, connection):
    plan = apply_specs(None, specs, connection, dry_run=True)
    assert len(plan.created) == 2 + sum(len(s.cards) for s in specs) + len(specs)


def test_existing_collection_and_database_are_reused(fake, client, specs, connection):
    _apply(client, specs, connection)
    fake.cards.clear()
    fake.dashboards.clear()
    report = _apply(client, specs, connection)
    assert len(fake.collections) == 1 and len(fake.databases) == 1
    assert {c.kind for c in report.unchanged} == {"collection", "database", "field"}


def test_changed_warehouse_details_update_the_connection(fake, client, specs, connection):
    _apply(client, specs, connection)
    moved = WarehouseConnection(**{**connection.__dict__, "port": 6543})
    report = _apply(client, specs, moved)
    assert [(c.kind, c.action) for c in report.updated] == [("database", "update")]
    (db,) = fake.databases.values()
    assert db["details"]["port"] == 6543 and db["details"]["password"] == WAREHOUSE_PASSWORD


def test_password_never_reaches_logs_or_report(fake, client, specs, connection, caplog):
    with caplog.at_level(logging.DEBUG):
        report = _apply(client, specs, connection)
    text = caplog.text + "\n".join(report.lines()) + repr(connection) + connection.redacted()
    assert WAREHOUSE_PASSWORD not in text
    # it was sent where it belongs: the database body
    assert any(r.body and r.body.get("details", {}).get("password") == WAREHOUSE_PASSWORD for r in fake.requests)


def test_session_login(fake, specs, connection, caplog):
    with (
        caplog.at_level(logging.DEBUG),
        MetabaseClient("http://mb.test", username=fake.username, password=fake.password, transport=fake.transport) as c,
    ):
        _apply(c, specs, connection)
    logins = [r for r in fake.requests if r.template == "/api/session"]
    assert len(logins) == 1
    assert all(
        r.headers.get("x-metabase-session") == "session-1" for r in fake.requests if r.template != "/api/session"
    )
    assert fake.password not in caplog.text


def test_bad_credentials_fail_clearly(fake, specs, connection):
    with (
        MetabaseClient("http://mb.test", api_key="wrong", transport=fake.transport) as c,
        pytest.raises(MetabaseError) as err,
    ):
        _apply(c, specs, connection)
    assert "401" in str(err.value) and "wrong" not in str(err.value)
    with (
        MetabaseClient("http://mb.test", username="a@b.c", password="nope-pw", transport=fake.transport) as c,
        pytest.raises(MetabaseError) as err,
    ):
        c.get("/api/user/current")
    assert "nope-pw" not in str(err.value)


# ------------------------------------------------------------------------------------------------ permissions


def test_permissions_first_apply_sets_groups_collection_and_data(fake, client, specs, connection, access):
    report = _apply(client, specs, connection, access=access)
    (coll,) = fake.collections.values()
    (db,) = fake.databases.values()
    executives, analysts = fake.group_id("Executives"), fake.group_id("Analysts")
    assert [(c.kind, c.name) for c in report.of("create", "group")] == [("group", "Executives"), ("group", "Analysts")]
    cid, did = str(coll["id"]), db["id"]
    assert fake.collection_perms[ALL_USERS_ID][cid] == "none"  # was "write", inherited from the root collection
    assert fake.collection_perms[executives][cid] == "read"
    assert fake.collection_perms[analysts][cid] == "write"
    assert fake.collection_perms[ADMIN_ID][cid] == "write"  # admins keep everything
    assert fake._db_perms(ALL_USERS_ID, did)["create-queries"] == "no"  # was native SQL for everyone
    assert fake._db_perms(executives, did)["create-queries"] == "no"
    assert fake._db_perms(analysts, did)["create-queries"] == "query-builder-and-native"
    assert fake._db_perms(ADMIN_ID, did)["create-queries"] == "query-builder-and-native"
    # the root collection and other databases are not ours to change
    assert fake.collection_perms[ALL_USERS_ID]["root"] == "write"
    updated = {c.name: c.detail for c in report.of("update", "permissions")}
    assert "All Users: write -> none" in updated[f"collection {coll['name']}"]
    assert "All Users: query-builder-and-native -> no" in updated[f"database {db['name']}"]


def test_second_apply_with_permissions_changes_nothing(fake, client, specs, connection, access):
    fake.add_user("cfo@example.com")
    members = _with_members(access, Executives=["cfo@example.com"])
    _apply(client, specs, connection, access=members)
    before = len(fake.writes())
    report = _apply(client, specs, connection, access=members)
    assert not report.created and not report.updated
    assert len(fake.writes()) == before
    assert {(c.kind, c.action) for c in report.changes if c.kind in ("group", "membership", "permissions")} == {
        ("group", "unchanged"),
        ("membership", "unchanged"),
        ("permissions", "unchanged"),
    }
    assert report.lines()[-1].startswith("0 created, 0 updated")


def test_a_permission_changed_by_hand_is_put_back_with_one_put(fake, client, specs, connection, access):
    _apply(client, specs, connection, access=access)
    (coll,) = fake.collections.values()
    fake.collection_perms[ALL_USERS_ID][str(coll["id"])] = "write"  # someone opens the collection to everyone
    fake.collection_revision += 1
    before = len(fake.requests)
    report = _apply(client, specs, connection, access=access)
    writes = [r for r in fake.requests[before:] if r.method != "GET"]
    assert [(w.method, w.template) for w in writes] == [("PUT", "/api/collection/graph")]
    assert writes[0].body == {"revision": fake.collection_revision - 1, "groups": {"1": {str(coll["id"]): "none"}}}
    assert writes[0].query == {"skip-graph": ["true"]}
    assert [c.name for c in report.updated] == [f"collection {coll['name']}"]


def test_members_are_exactly_the_listed_users(fake, client, specs, connection, access):
    cfo = fake.add_user("cfo@example.com")
    fake.add_user("Intern@Example.com")
    _apply(client, specs, connection, access=access)
    executives = fake.group_id("Executives")
    fake._add_membership(executives, cfo + 1)  # the intern was added by hand
    listed = _with_members(access, Executives=["CFO@example.com", "ghost@example.com"])
    report = _apply(client, specs, connection, access=listed)
    assert fake.members(executives) == {"cfo@example.com"}
    changes = {(c.action, c.detail) for c in report.changes if c.kind == "membership"}
    assert changes == {
        ("update", "+cfo@example.com, -intern@example.com"),
        ("skipped", "no Metabase user with email ghost@example.com"),
    }
    assert report.lines()[-1].endswith("1 skipped")
    # Analysts lists no members: left to Metabase's admin screens
    assert fake.members(fake.group_id("Analysts")) == set()


def test_dry_run_plans_permissions_without_writing(fake, client, specs, connection, access):
    plan = _apply(client, specs, connection, dry_run=True, access=access)
    assert fake.writes() == []
    assert {c.name for c in plan.of("create", "group")} == {"Executives", "Analysts"}
    assert {c.kind for c in plan.of("update")} == {"permissions"}
    offline = apply_specs(None, specs, connection, dry_run=True, access=access)
    assert {c.name for c in offline.of("create", "group")} == {"Executives", "Analysts"}


def test_a_stale_graph_revision_fails_clearly(fake, client, specs, connection, access, monkeypatch):
    _apply(client, specs, connection)
    real = fake.get_collection_graph

    def stale(**kwargs):
        status, graph = real(**kwargs)
        fake.collection_revision += 1  # someone saves the graph between our read and our write
        return status, graph

    monkeypatch.setattr(fake, "get_collection_graph", stale)
    fake.routes = [(m, t, p, stale if t == "/api/collection/graph" and m == "GET" else h) for m, t, p, h in fake.routes]
    with pytest.raises(MetabaseError) as err:
        _apply(client, specs, connection, access=access)
    assert "409" in str(err.value) and "/api/collection/graph" in str(err.value)


def test_update_password_sends_it_again(fake, client, specs, connection):
    _apply(client, specs, connection)
    rotated = WarehouseConnection(**{**connection.__dict__, "password": "rotated-pw"})
    assert not _apply(client, specs, rotated).updated  # Metabase masks passwords: a plain apply cannot tell
    report = _apply(client, specs, rotated, update_password=True)
    assert [(c.kind, c.detail) for c in report.updated] == [("database", "changed: password")]
    (db,) = fake.databases.values()
    assert db["details"]["password"] == "rotated-pw"


# ------------------------------------------------------------------------------------------------ one tenant


def test_a_tenants_dashboards_for_embedding(fake, client, specs, connection, access, contract):
    from dashboards.spec import documented_tables, for_tenant, reporting_tables

    tenant_connection = WarehouseConnection(
        **{**connection.__dict__, "name": "execmetrics warehouse (tenant ten_1)", "user": "t_tenant", "tenant": "ten_1"}
    )
    tenant_specs = [s for s in (for_tenant(spec, "ten_1") for spec in specs) if s is not None]
    options = {"collection_name": "execmetrics (tenant ten_1)", "access": access.admins_only(), "embed": True}
    _apply(client, specs, connection, access=access)  # the leadership dashboards exist beside
    report = _apply(client, tenant_specs, tenant_connection, **options)
    db = next(d for d in fake.databases.values() if d["name"] == tenant_connection.name)
    assert db["details"]["user"] == "t_tenant"
    assert db["details"]["additional-options"] == "options=-c%20execmetrics.tenant_id%3Dten_1"
    coll = next(c for c in fake.collections.values() if c["name"] == "execmetrics (tenant ten_1)")
    with_tenant = {name for name, columns in documented_tables().items() if "tenant_id" in columns}
    cards = [c for c in fake.cards.values() if c["collection_id"] == coll["id"]]
    assert cards and len(cards) < sum(len(s.cards) for s in specs)  # the company-wide cards stay out
    for card in cards:
        assert card["dataset_query"]["database"] == db["id"]
        assert reporting_tables(card["dataset_query"]["native"]["query"]) <= with_tenant, card["name"]
    for dash in (d for d in fake.dashboards.values() if d["collection_id"] == coll["id"]):
        assert dash["enable_embedding"] is True
        assert dash["embedding_params"]["tenant"] == "locked"
        assert {p["slug"]: p.get("default") for p in dash["parameters"]}["tenant"] is None  # row-level security filters
    # nobody but the admins sees the tenant's collection or queries its connection
    for gid in (ALL_USERS_ID, fake.group_id("Executives"), fake.group_id("Analysts")):
        assert fake.collection_perms[gid][str(coll["id"])] == "none"
        assert fake._db_perms(gid, db["id"])["create-queries"] == "no"
    assert report.of("create", "dashboard")
    before = len(fake.writes())
    again = _apply(client, tenant_specs, tenant_connection, **options)
    assert not again.created and not again.updated and len(fake.writes()) == before
    for req in fake.requests:
        template = contract.template_for(req.path, req.method)
        if req.method not in ("GET", "DELETE") and contract.has_body_schema(template, req.method):
            assert not contract.body_errors(template, req.method, req.body), (req.method, req.path)
