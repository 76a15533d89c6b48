"""dbt models as Dagster assets (dagster-dbt): daily-partitioned and monthly-partitioned sets, selected by tag.

- The dbt project is a dagster-dbt `DbtProject` whose manifest lives in `target/dagster/<database>/`. Under
  `dagster dev` it is re-parsed on every load (`prepare_if_dev`); elsewhere (the CLI, `execmetrics ui`, run workers)
  it is prepared at load time when missing or older than the dbt project's files, so a fresh clone needs no committed
  manifest.
- Grain is dbt config: every model, seed and snapshot carries exactly one tag, `daily` or `monthly`, set per folder in
  dbt_project.yml. `dbt_daily` builds `tag:daily` in daily partitions and `dbt_monthly` builds `tag:monthly` in
  monthly ones; a test that reads both a daily and a monthly node is tagged `monthly` (it can only run once the month
  is built). `check_grains` refuses a manifest that breaks these rules, naming what to fix.
- The translator maps the dbt sources `app.*` / `stripe.*` to the extract assets' keys (`raw/<table>`) and the
  models to `<schema>/<model>` (`staging/stg_app__events`, `marts/fct_daily_metrics`, ...); dbt tags become Dagster
  asset tags (`daily` / `monthly`), which the jobs select.
- Each run calls dbt once with the run's partition window (inclusive dates) in the environment variables
  EXECMETRICS_MIN_DATE / EXECMETRICS_MAX_DATE, whatever the number of partitions (BackfillPolicy.single_run()).
  Not as `--vars`: dbt hashes those into its partial-parse check, and a new window every run would re-parse the
  project every run. The run starts from the manifest's saved parse (`partial_parse.msgpack` next to it), which
  dagster-dbt copies into the run's own target folder.
- dbt tests are Dagster asset checks (dagster-dbt's default). The tests tagged `enforced_at_load` (what the app
  extractor enforces on every row it loads: required columns, keys, allowed values, known tenants) are left out of
  both sets: CI and an analyst's `dbt build` run them, a partition run does not re-read its largest tables for them.
  So are those tagged `full_build_only`: the uniqueness of an append-only row's id alone, where the load enforces
  its id and moment together (a source that moved an event in time), which would re-read days of the largest tables.
- A seed is loaded when it changed: its file or its config differs from what the last load of its table recorded in
  `audit.seed_loads` (a load is recorded once the seed's tests passed), or its table is missing, or the run is a full
  refresh. An unchanged seed (and its tests, which passed when it was loaded) is left out of the run's `dbt build`;
  its asset still gets the partition's materialization, saying since when it is unchanged. The seeds and their tests
  were 24 of a daily run's 202 dbt nodes.
- dbt's own log file (`dbt.log` in the run's target folder) is not written unless DBT_LOG_LEVEL_FILE asks for it
  (`debug`, `info`): at dbt's default (debug, every SQL statement) it took about a tenth of dbt's CPU in a daily run.
  dbt's info lines still reach the run's log in Dagster, and the SQL each node ran stays under the target folder.
"""

import hashlib
import json
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetMaterialization, Config, Output, get_dagster_logger
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from extract.settings import PROJECT_ROOT, Settings
from extract.warehouse import Warehouse, create_schema_sql
from orchestration.dbt_cli import dbt_base_env, environ, spark_engine_problem
from orchestration.partitions import dbt_window_env
from orchestration.resources import WarehouseResource, partition_locks

DAILY = "daily"
MONTHLY = "monthly"
GRAINS = (DAILY, MONTHLY)
# Tests of what the app extractor enforces on every row it loads (dbt_project/models/staging/_app__models.yml): run by
# CI and an analyst's `dbt build`, left out of the partition runs.
ENFORCED_AT_LOAD = "enforced_at_load"
# Tests of what the GE step checks on every partition run's batch before dbt runs (orchestration/checks/suites.py):
# the same rule on the same rows, so the partition runs leave them to that step.
CHECKED_IN_BATCH = "checked_in_batch"
# Tests too costly for a partition run that the load does not enforce either: CI and `dbt build` run them.
FULL_BUILD_ONLY = "full_build_only"
LEFT_TO_FULL_BUILDS = (ENFORCED_AT_LOAD, CHECKED_IN_BATCH, FULL_BUILD_ONLY)
BUILDABLE = ("model", "seed", "snapshot")
PARSE_WAIT_SECONDS = 600  # how long a process waits for another one's dbt parse of the same project
DBT_PROJECT_FILES = (PROJECT_ROOT / "dbt_project.yml", PROJECT_ROOT / "profiles.yml", PROJECT_ROOT / "dbt_project")


class DbtManifestError(RuntimeError):
    pass


class DbtGrainError(DbtManifestError):
    pass


class DbtBuildError(RuntimeError):
    """`dbt build` failed: the message names each failed model, test or seed and dbt's log."""


def _failed_nodes(invocation: Any) -> str:
    log: Any = invocation.target_path / "dbt.log"
    if not log.exists():  # not kept (DBT_LOG_LEVEL_FILE): the SQL each node ran is in the run's target folder
        ran = invocation.target_path / "run"
        log = f"not kept, set DBT_LOG_LEVEL_FILE=debug to keep it; the SQL each node ran: {ran}"
    try:
        results = invocation.get_artifact("run_results.json").get("results", [])
    except (OSError, ValueError):
        results = []
    failed = []
    for node in results:
        if node.get("status") in ("error", "fail", "runtime error"):
            kind, _, name = str(node.get("unique_id", "?")).partition(".")
            message = " ".join(str(node.get("message") or "").split())
            failed.append(f"{kind} {name.partition('.')[2] or name} {node['status']}: {message}")
    listed = "; ".join(failed) or f"exit code {invocation.process.returncode}"
    return f"dbt build failed: {listed} (dbt's log: {log})"


# ------------------------------------------------------------------------------------------------ project


def dbt_project(settings: Settings) -> DbtProject:
    """The dbt project, with one manifest per warehouse database (relation names in it carry the database) and
    engine (a manifest parsed for Postgres names Postgres relations and macros: not valid on Spark)."""
    warehouse = Warehouse(settings)
    # personal-data models exist only when included (INCLUDE_PERSONAL_DATA): one manifest for each choice
    folder = warehouse.target.dbname + ("-personal" if settings.include_personal_data else "")
    if settings.dbt_target != "warehouse":
        folder += f"-{settings.dbt_target}"
    return DbtProject(
        project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT, target_path=Path("target", "dagster", folder)
    )


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


def prepare_manifest(settings: Settings, project: DbtProject, force: bool = False) -> Path:
    """The project's manifest.json, parsed (`dbt parse`, by dagster-dbt's preparer) when needed.

    dagster-dbt's preparer guards the parse with a lock file, so the webserver, the daemon and run workers starting
    together parse once. dbt runs with the warehouse's connection settings and finds the `dbt` next to this Python.
    """
    if settings.dbt_target == "spark" and (problem := spark_engine_problem()) is not None:
        raise DbtManifestError(problem)
    warehouse = Warehouse(settings)
    manifest = project.manifest_path
    env = {
        **dbt_base_env(warehouse.target, warehouse.dbt_env()),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    try:
        with environ(env):
            project.prepare_if_dev()
            if force or not manifest.exists() or manifest.stat().st_mtime < _newest_project_mtime():
                _prepare_waiting_for_others(project)
                _reparse_seeds(project)
                manifest.touch()  # newer than every project file, even when dbt kept the previous file
    except Exception as exc:
        raise DbtManifestError(f"dbt parse failed; the dbt project does not load:\n{exc}") from exc
    if not manifest.exists():
        raise DbtManifestError(f"dbt parse wrote no manifest at {manifest}")
    return manifest


def _prepare_waiting_for_others(project: DbtProject) -> None:
    """dagster-dbt's preparer waits 60 s for another process's parse (its lock), then gives up; on a busy machine a
    parse can take longer. Wait again, up to PARSE_WAIT_SECONDS: once the other parse has written the manifest, the
    preparer skips its own."""
    from filelock import Timeout as LockTimeout

    deadline = time.monotonic() + PARSE_WAIT_SECONDS
    while True:
        try:
            project.preparer.prepare(project)
            return
        except LockTimeout:
            if time.monotonic() > deadline:
                raise


def _reparse_seeds(project: DbtProject) -> None:
    """Parse once more, so the saved parse is whole again.

    dagster-dbt's preparer marks every seed in `partial_parse.msgpack` as changed (a manifest prepared on one machine
    and used on another would otherwise keep the first machine's seed paths). Here the manifest is prepared in the
    checkout that uses it; with the seeds marked changed, every run would re-process the whole manifest instead of
    skipping parsing when nothing changed. A second `dbt parse` re-reads only the seeds and saves a parse with their
    real checksums.
    """
    from dagster_dbt import DbtCliResource

    DbtCliResource(project_dir=project).cli(["parse", "--quiet"], target_path=project.target_path).wait()


def load_manifest(settings: Settings, project: DbtProject) -> dict[str, Any]:
    return json.loads(prepare_manifest(settings, project).read_text())


# ------------------------------------------------------------------------------------------------ grain


def grain_of(node: Mapping[str, Any]) -> set[str]:
    return set(node.get("tags") or []) & set(GRAINS)


def check_grains(manifest: Mapping[str, Any]) -> None:
    """Raise DbtGrainError unless every model, seed and snapshot has exactly one grain tag, no daily node depends on a
    monthly one, and every test reading both a daily and a monthly node is tagged monthly."""
    nodes = manifest.get("nodes", {})
    problems = []
    for uid, node in sorted(nodes.items()):
        if node.get("resource_type") not in BUILDABLE:
            continue
        grains = grain_of(node)
        if len(grains) != 1:
            problems.append(
                f"{uid} has grain tags {sorted(grains)}: give its folder one of +tags: [daily] / [monthly] in"
                " dbt_project.yml (marts go into marts/<domain>/daily or marts/<domain>/monthly)"
            )
    for uid, node in sorted(nodes.items()):
        parents = [nodes[p] for p in (node.get("depends_on") or {}).get("nodes") or [] if p in nodes]
        parent_grains = set().union(*(grain_of(p) for p in parents if p.get("resource_type") in BUILDABLE))
        if node.get("resource_type") in BUILDABLE and grain_of(node) == {DAILY} and MONTHLY in parent_grains:
            problems.append(
                f"{uid} is daily but reads a monthly model: a daily partition would read a month not yet built"
                " (make it monthly, or read a daily model)"
            )
        if node.get("resource_type") == "test" and parent_grains == set(GRAINS) and MONTHLY not in grain_of(node):
            problems.append(f"{uid} reads a daily and a monthly node: tag it monthly (config: tags: [monthly])")
    if problems:
        raise DbtGrainError("the dbt project's grain tags are inconsistent:\n  " + "\n  ".join(problems))


# ------------------------------------------------------------------------------------------------ translator


class ExecmetricsTranslator(DagsterDbtTranslator):
    """Sources → the extract assets' keys (`raw/<table>`); models → `<schema>/<name>`, grouped by layer and domain."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(["raw", dbt_resource_props["name"]])
        schema = dbt_resource_props.get("schema") or dbt_resource_props.get("config", {}).get("schema") or "marts"
        return AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props["resource_type"] == "model" and len(fqn) > 2:
            folders = [part for part in fqn[1:-1] if part not in GRAINS][:2]
            return "dbt_" + "_".join(folders)  # dbt_staging, dbt_intermediate_daily_metrics, dbt_marts_revenue, ...
        if dbt_resource_props["resource_type"] in ("seed", "snapshot"):
            return "dbt_" + dbt_resource_props["resource_type"] + "s"
        return "dbt"


def translator() -> ExecmetricsTranslator:
    return ExecmetricsTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


# ------------------------------------------------------------------------------------------------ assets


class DbtRunConfig(Config):  # type: ignore[misc]
    full_refresh: bool = False


def run_dbt_build(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtRunConfig,
    grain: str,
    project: DbtProject,
) -> Iterator[Any]:
    """One `dbt build` for the run's whole partition window; every materialization gets window + row count."""
    window = context.partition_time_window
    window_env = dbt_window_env(window.start, window.end)
    args = ["build"]
    if config.full_refresh:
        args.append("--full-refresh")
    wh = warehouse.get()
    extra: dict[str, Any] = {
        "partition_window": "{}..{}".format(*window_env.values()),
        "partitions_in_run": len(context.partition_keys),
    }
    began = time.monotonic()
    # dbt builds shared tables: one dbt run at a time over the warehouse, whatever the partitions.
    # Tests run only when all their parents are in this run (a daily model's test on a monthly one waits for it).
    # DBT_TARGET_PATH: where dagster-dbt finds the saved parse to copy into the run's target folder.
    # Unit tests check the models' logic on fixed inputs: they run in CI and in an analyst's `dbt build`, not again
    # in every partition run (dbt's own advice).
    env = {
        **wh.as_role("transformer").dbt_env(),
        **window_env,
        "DBT_INDIRECT_SELECTION": "buildable",
        "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test",
        "DBT_TARGET_PATH": str(project.target_path),
        "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "none"),
    }
    with environ(env), partition_locks(wh, "dbt", ["build"]):
        seeds: dict[str, SeedLoad] = {}
        unchanged: list[SeedLoad] = []
        if wh.settings.dbt_target == "spark":
            land_for_spark(context, wh)
        else:
            seeds = selected_seeds(context)
            unchanged = [] if config.full_refresh else unchanged_seeds(wh.as_role("transformer"), seeds.values())
            if unchanged:
                args += ["--exclude", " ".join(seed.name for seed in unchanged)]  # dagster-dbt adds its selection
                context.log.info(
                    "seeds unchanged since their last load, not loaded again: "
                    + ", ".join(f"{seed.name} (loaded {seed.loaded()})" for seed in unchanged)
                )
        # first: Dagster takes a step's assets in the order of the graph, and these come before what reads them
        for seed in unchanged:
            yield Output(
                None,
                output_name=context.assets_def.get_output_name_for_asset_key(seed.asset_key),
                metadata={**extra, "seed": f"unchanged since its load at {seed.loaded()}: not loaded again"},
            )
        context.log.info(f"dbt {' '.join(args)} (target {wh.settings.dbt_target})")
        invocation = dbt.cli(args, context=context, raise_on_error=False)
        # row counts come from Postgres: on Spark its tables are not the ones this build wrote (left out there)
        if wh.settings.dbt_target == "warehouse":
            events = with_row_counts(invocation, wh.as_role("transformer"))
        else:
            events = invocation.stream()
        for event in events:
            if isinstance(event, Output | AssetMaterialization):
                merged: dict[str, Any] = {**(event.metadata or {}), **extra}
                event = event.with_metadata(merged)
            yield event
        if seeds:
            record_seed_loads(wh.as_role("transformer"), invocation, seeds, context.run.run_id)
        if not invocation.is_successful():
            raise DbtBuildError(_failed_nodes(invocation))
        if wh.settings.dbt_target == "spark":
            publish_from_spark(context, wh, project, grain)
    context.log.info(f"dbt {grain} build over {extra['partition_window']} took {time.monotonic() - began:.1f}s")


SEED_LOADS_DDL = f"""
{create_schema_sql("audit")};
create table if not exists audit.seed_loads (
    relation text primary key,
    fingerprint text not null,
    loaded_at timestamptz not null default now(),
    run_id text
)"""


@dataclass
class SeedLoad:
    """A seed of the run's selection: its relation, what its load depends on (`fingerprint`), its last load."""

    name: str
    relation: str
    fingerprint: str
    asset_key: AssetKey
    loaded_at: datetime | None = None

    def loaded(self) -> str:
        return f"{self.loaded_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if self.loaded_at else "never"


def seed_fingerprint(node: Mapping[str, Any]) -> str:
    """What a seed's table is made of: its file's checksum (dbt's), its config (column types, schema, hooks, ...) and
    its columns' declarations; any change to one of them loads the seed again."""
    parts = {"file": node.get("checksum"), "config": node.get("config"), "columns": node.get("columns")}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def selected_seeds(context: AssetExecutionContext) -> dict[str, SeedLoad]:
    """The seeds among the run's selected assets, by dbt unique id."""
    from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets

    manifest, dagster_translator, _ = get_manifest_and_translator_from_dbt_assets([context.assets_def])
    selected = set(context.selected_asset_keys)
    seeds = {}
    for uid, node in manifest.get("nodes", {}).items():
        if node.get("resource_type") != "seed":
            continue
        key = dagster_translator.get_asset_key(node)
        if key in selected:
            seeds[uid] = SeedLoad(node["name"], node["relation_name"], seed_fingerprint(node), key)
    return seeds


def unchanged_seeds(warehouse: Warehouse, seeds: Iterable[SeedLoad]) -> list[SeedLoad]:
    """The seeds whose table exists and whose last load (audit.seed_loads) had the same fingerprint."""
    seeds = list(seeds)
    if not seeds:
        return []
    with warehouse.connect() as conn:
        if conn.execute("select to_regclass('audit.seed_loads')").fetchone()[0] is None:  # type: ignore[index]
            return []
        loads = {
            relation: (fingerprint, loaded_at)
            for relation, fingerprint, loaded_at, exists in conn.execute(
                "select relation, fingerprint, loaded_at, to_regclass(relation) is not null from audit.seed_loads"
                " where relation = any(%s)",
                ([seed.relation for seed in seeds],),
            )
            if exists
        }
    unchanged = []
    for seed in seeds:
        fingerprint, loaded_at = loads.get(seed.relation, (None, None))
        if fingerprint == seed.fingerprint:
            seed.loaded_at = loaded_at
            unchanged.append(seed)
    return unchanged


def settled_seeds(results: list[Mapping[str, Any]], nodes: Mapping[str, Any], seeds: Iterable[str]) -> dict[str, bool]:
    """For each seed of `seeds` (dbt unique ids) this build ran: True when it loaded and every test of it in the build
    passed, so later runs may leave it out until it changes; False when its load failed or a test on it did not pass
    (failed, warned, errored or skipped), so the next run loads and tests it again."""
    status = {str(r.get("unique_id")): r.get("status") for r in results}
    settled = {}
    for uid in seeds:
        if uid not in status:
            continue
        tests = [
            test
            for test, node in nodes.items()
            if test in status and node.get("resource_type") == "test" and uid in node["depends_on"]["nodes"]
        ]
        settled[uid] = status[uid] == "success" and all(status[test] == "pass" for test in tests)
    return settled


def record_seed_loads(warehouse: Warehouse, invocation: Any, seeds: Mapping[str, SeedLoad], run_id: str) -> None:
    """Record the fingerprint of every seed this dbt build loaded and tested (`settled_seeds`); forget those it loaded
    whose load or tests did not pass."""
    try:
        results = invocation.get_artifact("run_results.json").get("results", [])
    except (OSError, ValueError):
        return
    settled = settled_seeds(results, invocation.manifest.get("nodes", {}), seeds)
    if not settled:
        return
    with warehouse.connect() as conn:
        conn.execute(SEED_LOADS_DDL)
        with conn.cursor() as cur:
            cur.executemany(
                """insert into audit.seed_loads (relation, fingerprint, loaded_at, run_id) values (%s, %s, now(), %s)
                   on conflict (relation) do update
                   set fingerprint = excluded.fingerprint, loaded_at = excluded.loaded_at, run_id = excluded.run_id""",
                [(seeds[uid].relation, seeds[uid].fingerprint, run_id) for uid, ok in settled.items() if ok],
            )
            forget = [seeds[uid].relation for uid, ok in settled.items() if not ok]
            if forget:
                cur.execute("delete from audit.seed_loads where relation = any(%s)", (forget,))
        conn.commit()


_END = object()


def with_row_counts(invocation: Any, warehouse: Warehouse) -> Iterator[Any]:
    """The Dagster events of `invocation.stream()`, in dbt's order, each model's and seed's Output or materialization
    with its table's row count (`dagster/row_count`, as dagster-dbt's `fetch_row_counts()` gives it; views are not
    counted, since counting one runs its query).

    Not `fetch_row_counts()`: its ordered map over a thread pool polls in a loop for as long as dbt is between two
    events, so the run process spent a core of CPU for the whole dbt step, taken from dbt and Postgres on a small
    machine. Here a thread reads dbt's events into a queue and this generator blocks on it; the counts run in order
    on one connection (a count that fails is logged and left out, as dagster-dbt does).

    A run terminated while dbt works interrupts this thread, not the reader, so dagster-dbt's own forwarding (in its
    reading of dbt's output) never sees it: when this generator is left before dbt's last event, dbt is sent SIGINT
    here and waited for, as dagster-dbt does, instead of building on after the run ended."""
    events: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        try:
            for event in invocation.stream():
                events.put(event)
        except BaseException as exc:  # handed to the consumer, which raises it in the step
            events.put(exc)
        finally:
            events.put(_END)

    threading.Thread(target=read, name="dbt_events", daemon=True).start()
    nodes = invocation.manifest.get("nodes", {})
    storage_kind = invocation.manifest.get("metadata", {}).get("adapter_type")
    counted: dict[str, int] = {}
    conn: Any = None
    ended = False
    try:
        while True:
            try:
                event = events.get(timeout=1.0)  # wakes once a second: a run's termination is never held up
            except queue.Empty:
                continue
            if event is _END:
                ended = True
                break
            if isinstance(event, BaseException):
                raise event
            node = nodes.get(str(getattr(event.metadata.get("unique_id"), "text", ""))) if event.metadata else None
            if isinstance(event, Output | AssetMaterialization) and node and node["config"]["materialized"] != "view":
                if node["unique_id"] not in counted:
                    try:
                        conn = conn or warehouse.connect(autocommit=True)
                        row = conn.execute(f"select count(*) from {node['relation_name']}").fetchone()
                        counted[node["unique_id"]] = int(row[0])
                    except Exception as exc:
                        get_dagster_logger().warning(f"row count of {node['unique_id']} not fetched: {exc}")
                        if conn is not None and conn.closed:
                            conn = None
                if node["unique_id"] in counted:
                    count = {"dagster/row_count": counted[node["unique_id"]]}
                    kind = {"dagster/storage_kind": storage_kind} if storage_kind else {}
                    event = event.with_metadata({**event.metadata, **count, **kind})
            yield event
    finally:
        if conn is not None:
            conn.close()
        if not ended and invocation.process.poll() is None:
            get_dagster_logger().info(f"stopping dbt (interrupted): {invocation.dbt_command}")
            invocation.process.send_signal(signal.SIGINT)
            invocation.process.wait(timeout=invocation.termination_timeout_seconds)


def land_for_spark(context: AssetExecutionContext, wh: Warehouse) -> None:
    """DBT_TARGET=spark: the raw schema as Parquet under SPARK_DIR (as `execmetrics warehouse land-parquet` does),
    which dbt's on-run-start hook registers as the raw source tables; then dbt builds on Spark."""
    if (problem := spark_engine_problem()) is not None:
        raise DbtBuildError(problem)
    from extract.parquet import land_raw_parquet

    began = time.monotonic()
    with wh.as_role("transformer").connect() as conn:
        counts = land_raw_parquet(conn, wh.settings.spark_dir)
    context.log.info(
        f"raw tables landed as Parquet in {wh.settings.spark_dir / 'raw'}: {sum(counts.values()):,} rows in"
        f" {len(counts)} tables ({time.monotonic() - began:.1f}s)"
    )


def publish_from_spark(context: AssetExecutionContext, wh: Warehouse, project: DbtProject, grain: str) -> None:
    """DBT_TARGET=spark: Spark computes, Postgres serves. Every marts and reporting table this step built is copied
    from its Parquet into the warehouse (one transaction per table, its contract's types when it has one), so the
    exports, alert deliveries, the board pack, Metabase and the summary read what Spark built."""
    from extract.access import READ_SCHEMAS
    from extract.parquet import ParquetLandingError, publish_spark_table

    nodes = json.loads(project.manifest_path.read_text()).get("nodes", {})
    tables = [
        node
        for node in nodes.values()
        if node.get("resource_type") == "model"
        and node.get("schema") in READ_SCHEMAS
        and grain_of(node) == {grain}
        and (node.get("config") or {}).get("materialized") in ("table", "incremental")
    ]
    began = time.monotonic()
    published = 0
    with wh.as_role("transformer").connect() as conn:
        for node in sorted(tables, key=lambda n: (n["schema"], n["name"])):
            enforced = ((node.get("config") or {}).get("contract") or {}).get("enforced")
            contract = [(c["name"], c["data_type"]) for c in node["columns"].values()] if enforced else None
            try:
                published += publish_spark_table(
                    conn,
                    wh.settings.spark_dir,
                    node["schema"],
                    node["name"],
                    contract,
                    indexes=(node.get("config") or {}).get("indexes") or (),
                )
            except ParquetLandingError as exc:
                raise DbtBuildError(f"publishing the Spark build to the warehouse failed: {exc}") from exc
    context.log.info(
        f"{len(tables)} marts and reporting tables ({published:,} rows) copied from Spark into the warehouse"
        f" ({time.monotonic() - began:.1f}s)"
    )


def _dbt_assets_for(
    project: DbtProject, manifest: Mapping[str, Any], grain: str, partitions_def: Any, backfill: Any
) -> Any:
    """One `@dbt_assets` definition, `dbt_<grain>`: the nodes tagged `grain` (daily leaves out monthly tests), without
    the tests of what the load enforces and those left to full builds."""

    @dbt_assets(
        manifest=manifest,
        project=project,
        select=f"tag:{grain}",
        exclude=" ".join(f"tag:{tag}" for tag in ((MONTHLY,) if grain == DAILY else ()) + LEFT_TO_FULL_BUILDS),
        name=f"dbt_{grain}",
        partitions_def=partitions_def,
        backfill_policy=backfill,
        dagster_dbt_translator=translator(),
        op_tags={"execmetrics/stage": "dbt"},
    )
    def build(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: DbtRunConfig
    ) -> Iterator[Any]:
        yield from run_dbt_build(context, dbt, warehouse, config, grain, project)

    return build


def build_dbt_assets(
    project: DbtProject, manifest: Mapping[str, Any], partitions: Mapping[str, Any], backfill: Any
) -> list:
    """`dbt_daily` and `dbt_monthly` over the manifest's nodes, on `partitions[grain]` (a set is left out when no
    node has its grain)."""
    check_grains(manifest)
    return [
        _dbt_assets_for(project, manifest, grain, partitions[grain], backfill)
        for grain in GRAINS
        if any(grain in grain_of(node) for node in manifest.get("nodes", {}).values())
    ]
