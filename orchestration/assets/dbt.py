"""dbt models as Dagster assets (dagster-dbt): daily-partitioned and monthly-partitioned sets.

- The manifest is prepared at load time (`dbt parse` into `target/dagster/<database>/`) when it is missing or older than
  the dbt project files, so a fresh clone needs no committed manifest.
- The translator maps the dbt sources `app.*` / `stripe.*` to the extract assets' keys (`raw/<table>`) and the
  models to `<schema>/<model>` (`staging/stg_app__events`, `marts/fct_daily_metrics`, ...).
- Monthly models: tagged `monthly`, or with `cohort` in their path, or `fct_*` under `marts/revenue/` without
  `daily` in their name (tag `daily` overrides) — and anything
  downstream of one of those. Everything else (staging, intermediate, daily marts, seeds, snapshots) is daily.
- Each run calls dbt once with the run's partition window as `--vars {min_date, max_date}` (inclusive dates),
  whatever the number of partitions (BackfillPolicy.single_run()).
- dbt tests are Dagster asset checks (dagster-dbt's default).
"""

import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetMaterialization, Config, Output
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from extract.settings import PROJECT_ROOT
from orchestration.dbt_cli import environ as _environ
from orchestration.partitions import backfill_policy, daily_partitions, dbt_vars_for_window, monthly_partitions
from orchestration.resources import WarehouseResource, file_lock, partition_locks

MANIFEST_ROOT = PROJECT_ROOT / "target" / "dagster"
DBT_PROJECT_FILES = (PROJECT_ROOT / "dbt_project.yml", PROJECT_ROOT / "profiles.yml", PROJECT_ROOT / "dbt_project")
MONTHLY_TAG = "monthly"
DAILY_TAG = "daily"


class DbtManifestError(RuntimeError):
    pass


# ------------------------------------------------------------------------------------------------ manifest


def _newest_project_mtime() -> float:
    newest = 0.0
    for path in DBT_PROJECT_FILES:
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for child in path.rglob("*"):
                if child.is_file() and child.suffix in (".sql", ".yml", ".yaml", ".csv", ".md", ".py"):
                    newest = max(newest, child.stat().st_mtime)
    return newest


def prepare_manifest(force: bool = False) -> Path:
    """`dbt parse` into target/dagster/<database>/ when the manifest is missing or older than the project.

    One manifest per warehouse database: relation names in it carry the database (row counts query them).
    File-locked, so the webserver, the daemon and run workers starting together parse once.
    """
    from extract.settings import get_settings
    from extract.warehouse import Warehouse

    target = Warehouse(get_settings()).target
    manifest_dir = MANIFEST_ROOT / target.dbname
    manifest_path = manifest_dir / "manifest.json"
    with file_lock(manifest_dir / ".parse.lock"):
        if not force and manifest_path.exists() and manifest_path.stat().st_mtime >= _newest_project_mtime():
            return manifest_path
        from orchestration.dbt_cli import DbtError, run_dbt

        try:
            run_dbt(["parse", "--quiet"], target, target_path=manifest_dir)
        except DbtError as exc:
            raise DbtManifestError(f"dbt parse failed; the dbt project does not load:\n{exc}") from exc
        if not manifest_path.exists():
            raise DbtManifestError(f"dbt parse wrote no manifest at {manifest_path}")
        os.utime(manifest_path)
        return manifest_path


def load_manifest() -> dict[str, Any]:
    return json.loads(prepare_manifest().read_text())


# ------------------------------------------------------------------------------------------------ translator


class ExecmetricsTranslator(DagsterDbtTranslator):
    """Sources → the extract assets' keys (`raw/<table>`); models → `<schema>/<name>`, grouped by folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(["raw", dbt_resource_props["name"]])
        schema = dbt_resource_props.get("schema") or dbt_resource_props.get("config", {}).get("schema") or "marts"
        return AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props["resource_type"] == "model" and len(fqn) > 2:
            return "dbt_" + "_".join(fqn[1:-1])  # dbt_staging, dbt_marts_revenue, ...
        if dbt_resource_props["resource_type"] in ("seed", "snapshot"):
            return "dbt_" + dbt_resource_props["resource_type"] + "s"
        return "dbt"


def translator() -> ExecmetricsTranslator:
    return ExecmetricsTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


# ------------------------------------------------------------------------------------------------ daily / monthly


def _is_monthly_root(node: Mapping[str, Any]) -> bool:
    tags = set(node.get("tags") or []) | set((node.get("config") or {}).get("tags") or [])
    fqn = [part.lower() for part in node.get("fqn") or []]
    if MONTHLY_TAG in tags:
        return True
    if DAILY_TAG in tags:
        return False
    if any("cohort" in part for part in fqn[1:]):
        return True
    # marts/revenue facts are monthly, except the explicitly daily ones (fct_mrr_daily); dimensions are daily
    return fqn[1:3] == ["marts", "revenue"] and fqn[-1].startswith("fct_") and "daily" not in fqn[-1]


def split_models(manifest: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(daily, monthly) unique ids of the buildable nodes (models, seeds, snapshots).

    A node downstream of a monthly model is monthly too: a daily partition never reads a month still being built.
    """
    nodes = {
        uid: node
        for uid, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") in ("model", "seed", "snapshot")
    }
    monthly = {uid for uid, node in nodes.items() if node["resource_type"] == "model" and _is_monthly_root(node)}
    children = manifest.get("child_map", {})
    frontier = list(monthly)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child in nodes and child not in monthly:
                monthly.add(child)
                frontier.append(child)
    daily = sorted(uid for uid in nodes if uid not in monthly)
    return daily, sorted(monthly)


def cross_tests(manifest: Mapping[str, Any], monthly_ids: list[str]) -> list[str]:
    """Tests that read a monthly model and something else: they cannot run in a daily run (the month is not built
    yet), so daily runs exclude them; monthly runs build them once every parent is there."""
    monthly = set(monthly_ids)
    found = []
    for uid, node in manifest.get("nodes", {}).items():
        if node.get("resource_type") != "test":
            continue
        parents = set((node.get("depends_on") or {}).get("nodes") or [])
        if parents & monthly and parents - monthly:
            found.append(uid)
    return sorted(found)


def _selection(manifest: Mapping[str, Any], unique_ids: list[str]) -> str:
    return " ".join("fqn:" + ".".join(manifest["nodes"][uid]["fqn"]) for uid in unique_ids)


# ------------------------------------------------------------------------------------------------ assets


class DbtRunConfig(Config):  # type: ignore[misc]
    full_refresh: bool = False


def _dbt_env(warehouse: WarehouseResource) -> dict[str, str]:
    return warehouse.get().dbt_env()


def run_dbt_build(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtRunConfig,
    scope: str,
    exclude: str | None = None,
) -> Iterator[Any]:
    """One `dbt build` for the run's whole partition window; every materialization gets window + row count."""
    window = context.partition_time_window
    dbt_vars = dbt_vars_for_window(window.start, window.end)
    args = ["build", "--vars", json.dumps(dbt_vars)]
    if config.full_refresh:
        args.append("--full-refresh")
    if exclude:
        args += ["--exclude", exclude]
    wh = warehouse.get()
    extra: dict[str, Any] = {
        "partition_window": f"{dbt_vars['min_date']}..{dbt_vars['max_date']}",
        "partitions_in_run": len(context.partition_keys),
    }
    began = time.monotonic()
    # dbt builds shared tables: one dbt run at a time over the warehouse, whatever the partitions.
    # Tests run only when all their parents are in this run (a daily model's test on a monthly one waits for it).
    env = {**wh.dbt_env(), "DBT_INDIRECT_SELECTION": "buildable"}
    with _environ(env), partition_locks(wh, "dbt", ["build"]):
        context.log.info(f"dbt {' '.join(args)}")
        invocation = dbt.cli(args, context=context)
        for event in invocation.stream().fetch_row_counts():
            if isinstance(event, Output | AssetMaterialization):
                merged: dict[str, Any] = {**(event.metadata or {}), **extra}
                event = event.with_metadata(merged)
            yield event
    context.log.info(f"dbt {scope} build over {extra['partition_window']} took {time.monotonic() - began:.1f}s")


def _dbt_assets_for(
    manifest: Mapping[str, Any], unique_ids: list[str], scope: str, partitions_def: Any, exclude: str | None = None
) -> Any:
    """One `@dbt_assets` definition, `dbt_<scope>`, over the given nodes and partitions."""

    @dbt_assets(
        manifest=manifest,
        select=_selection(manifest, unique_ids),
        name=f"dbt_{scope}",
        partitions_def=partitions_def,
        backfill_policy=backfill_policy(),
        dagster_dbt_translator=translator(),
        op_tags={"execmetrics/stage": "dbt"},
    )
    def build(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: DbtRunConfig
    ) -> Iterator[Any]:
        yield from run_dbt_build(context, dbt, warehouse, config, scope, exclude=exclude)

    return build


def build_dbt_assets(manifest: Mapping[str, Any] | None = None) -> list:
    manifest = manifest if manifest is not None else load_manifest()
    daily_ids, monthly_ids = split_models(manifest)
    assets = []
    if daily_ids:
        daily_exclude = _selection(manifest, cross_tests(manifest, monthly_ids)) or None
        assets.append(_dbt_assets_for(manifest, daily_ids, "daily", daily_partitions(), exclude=daily_exclude))
    if monthly_ids:
        assets.append(_dbt_assets_for(manifest, monthly_ids, "monthly", monthly_partitions()))
    return assets
