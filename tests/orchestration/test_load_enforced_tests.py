"""The staging tests tagged `enforced_at_load` are left out of the partition runs because the app extractor already
enforces what they check on every row it loads; those tagged `checked_in_batch` because the GE step checks the same
rule on every partition run's rows before dbt runs. Each tag is held here to the raw declaration (extract/tables.py)
or the GE suite (orchestration/checks/suites.py) it relies on: a tag on a test neither backs, or a test they back
left untagged, fails."""

from __future__ import annotations

import re
from typing import Any

from dagster import AssetKey

from extract.tables import APP_TABLES, AppTable, Column
from orchestration.assets.dbt import (
    CHECKED_IN_BATCH,
    ENFORCED_AT_LOAD,
    FULL_BUILD_ONLY,
    LEFT_TO_FULL_BUILDS,
    dbt_project,
    load_manifest,
)
from orchestration.checks.suites import app_suites

# `id::{{ text_type() }} as event_id`, `coalesce(is_staff, false)::boolean as is_staff`: a staging column and the raw
# column it is cast from.
RENAMED = re.compile(r"^\s*(?:coalesce\()?(\w+)(?:,\s*\w+\))?::[^,]*?\s+as\s+(\w+),?\s*$", re.MULTILINE)
# The versioned views keep the latest version of each key (macros/latest_versions.sql, every version read: no
# `since`): `latest_versions(source('app', 'app_users'))` (raw's id), `latest_versions(ref(...), key='job_id')`.
LATEST_VERSION = re.compile(r"latest_versions\(\s*(?:source|ref)\([^()]*\)\s*(?:,\s*key\s*=\s*'(\w+)')?\s*\)")


def _resolved(model: dict[str, Any], nodes: dict[str, Any]) -> dict[str, Any]:
    """A staging model with the app table it reads (`app_table`) and the code that casts its columns from raw's
    (`renames_code`): its own, or, for a view over another staging view (stg_app__jobs over stg_app__job_versions),
    that one's."""
    table, code = None, model["raw_code"]
    for parent in model["depends_on"]["nodes"]:
        if parent.startswith("source.execmetrics.app.app_"):
            table = parent.removeprefix("source.execmetrics.app.app_")
        elif parent.startswith("model.execmetrics.stg_app__"):
            inner = _resolved(nodes[parent], nodes)
            table = inner["app_table"]
            code = code if RENAMED.search(code) else inner["renames_code"]
    return {**model, "app_table": table, "renames_code": code}


def _keeps_latest_of(model: dict[str, Any]) -> str | None:
    """The key a versioned view keeps the latest version of (raw's name or its own), None when it keeps them all."""
    found = LATEST_VERSION.search(model["raw_code"])
    return (found.group(1) or "id") if found else None


def _raw_column(test: dict[str, Any], model: dict[str, Any]) -> tuple[AppTable, Column] | None:
    """The app table and raw column an app staging test's column is cast from (None: not such a test)."""
    table = APP_TABLES.get(model["app_table"] or "")
    if table is None or not test.get("column_name"):
        return None
    raw_of = {staged: raw for raw, staged in RENAMED.findall(model["renames_code"])}
    column = next((c for c in table.columns if c.name == raw_of.get(test["column_name"])), None)
    return None if column is None else (table, column)


def enforced_at_load(test: dict[str, Any], model: dict[str, Any]) -> str | None:
    """Why the load makes this staging test pass whatever the data (None: it does not)."""
    found = _raw_column(test, model)
    if found is None:
        return None
    table, column = found
    kind = test["test_metadata"]["name"]
    kwargs = test["test_metadata"].get("kwargs") or {}
    if kind == "not_null" and column.required:
        return f"{table.raw_table}.{column.name} is required (not null)"
    key_names = {column.name, test["column_name"]}  # raw's name of the key and the view's
    if kind == "unique" and table.key == (column.name, "updated_at") and _keeps_latest_of(model) in key_names:
        return f"{table.raw_table} is unique on {table.key} and the view keeps the latest version of each id"
    if kind == "accepted_values" and column.allowed and set(column.allowed) <= set(kwargs.get("values") or ()):
        return f"{table.raw_table}.{column.name} must be one of {', '.join(column.allowed)}"
    if (
        kind == "relationships"
        and column.tenant
        and kwargs.get("to") == "ref('stg_app__tenants')"
        and kwargs.get("field") == "tenant_id"
    ):
        return f"{table.raw_table}.{column.name} must be a tenant already in raw.app_tenants"
    return None


def checked_in_batch(test: dict[str, Any], model: dict[str, Any]) -> str | None:
    """Why the GE step has checked this staging test's rule on the run's rows before dbt runs (None: it has not):
    the table's suite holds the same allowed values for the same raw column, and the test reads only the days a run
    builds (its `where` names the window)."""
    found = _raw_column(test, model)
    if found is None or test["test_metadata"]["name"] != "accepted_values":
        return None
    if "__window_start__" not in (test["config"].get("where") or ""):
        return None
    table, column = found
    values = set((test["test_metadata"].get("kwargs") or {}).get("values") or ())
    suite = next(s for s in app_suites("2025-01-01", "2026-01-01") if s.table == f"app_{table.name}")
    for rule in suite.rules:
        if (
            rule.expectation == "ExpectColumnValuesToBeInSet"
            and rule.kwargs["column"] == column.name
            and set(rule.kwargs["value_set"]) == values
        ):
            return f"GE's {suite.table} suite checks {column.name} against the same values ({rule.level})"
    return None


def _app_staging_tests(manifest: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    nodes = manifest["nodes"]
    return [
        (node, _resolved(nodes[node["attached_node"]], nodes))
        for node in nodes.values()
        if node["resource_type"] == "test"
        and (node.get("attached_node") or "").startswith("model.execmetrics.stg_app__")
        and node.get("test_metadata")
    ]


def test_a_test_is_left_to_the_load_exactly_when_the_load_enforces_it(definitions_env) -> None:  # noqa: ANN001
    manifest = load_manifest(definitions_env.settings, dbt_project(definitions_env.settings))
    tests = _app_staging_tests(manifest)
    assert len(tests) >= 20
    tagged = {test["name"] for test, _ in tests if ENFORCED_AT_LOAD in test["tags"]}
    enforced = {test["name"] for test, model in tests if enforced_at_load(test, model)}
    assert tagged == enforced
    # the ids of the two largest tables, the costliest tests of a large company's daily run: the load enforces an
    # append-only row's id and moment together, not its id alone, so these are left to full builds instead
    ids = {"unique_stg_app__events_event_id", "unique_stg_app__api_requests_request_id"}
    assert not ids & enforced
    assert ids <= {test["name"] for test, _ in tests if FULL_BUILD_ONLY in test["tags"]}
    # the event types are not enforced: unknown ones are loaded and kept; GE checks them in each run's batch
    event_types = [(test, model) for test, model in tests if test["name"].startswith("accepted_values_stg_app__events")]
    assert len(event_types) == 1
    assert event_types[0][0]["name"] not in tagged
    checked = {
        test["name"] for test, model in tests if checked_in_batch(test, model) and not enforced_at_load(test, model)
    }
    assert checked == {test["name"] for test, _ in tests if CHECKED_IN_BATCH in test["tags"]}
    assert checked == {event_types[0][0]["name"]}
    # the reason follows the suite's values: a value the suite lacks (or one more in the test) loses it
    test, model = event_types[0]
    values = test["test_metadata"]["kwargs"]["values"]
    fewer = {**test, "test_metadata": {**test["test_metadata"], "kwargs": {"values": values[1:]}}}
    assert checked_in_batch(test, model) and checked_in_batch(fewer, model) is None

    # the reasons follow the declarations: a column that stops being required loses its reason
    (occurred_at,) = [(test, model) for test, model in tests if test["name"] == "not_null_stg_app__events_occurred_at"]
    assert enforced_at_load(*occurred_at) == "raw.app_events.occurred_at is required (not null)"
    test, model = occurred_at
    renamed = {**model, "renames_code": model["renames_code"].replace("occurred_at::", "occured::")}
    assert enforced_at_load(test, renamed) is None
    # a view of every version is not unique on the id: only one that keeps the latest version of it
    (job_id,) = [(test, model) for test, model in tests if test["name"] == "unique_stg_app__jobs_job_id"]
    assert (
        enforced_at_load(*job_id)
        == "raw.app_jobs is unique on ('id', 'updated_at') and the view keeps the latest version of each id"
    )
    test, model = job_id
    every = {**model, "raw_code": model["raw_code"].replace("latest_versions(", "all_versions(")}
    assert enforced_at_load(test, every) is None


def test_the_partition_runs_leave_out_the_tests_of_what_the_load_enforces(definitions_env) -> None:  # noqa: ANN001
    from orchestration.definitions import build_definitions

    manifest = load_manifest(definitions_env.settings, dbt_project(definitions_env.settings))
    left = set(LEFT_TO_FULL_BUILDS)
    assert left == {ENFORCED_AT_LOAD, CHECKED_IN_BATCH, FULL_BUILD_ONLY}
    tagged = {test["name"] for test, _ in _app_staging_tests(manifest) if left & set(test["tags"])}
    assert "unique_stg_app__events_event_id" in tagged
    assert any(name.startswith("accepted_values_stg_app__events_event_type") for name in tagged)
    definitions = build_definitions(definitions_env.settings)
    daily = definitions.resolve_assets_def(AssetKey(["staging", "stg_app__events"]))
    checks = {key.name for key in daily.check_keys}
    assert not tagged & checks
    # the tests that neither the load nor the GE step covers remain checks of the daily run
    assert "unique_stg_stripe__charges_charge_id" in checks
