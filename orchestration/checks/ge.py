"""Great Expectations (GX Core 1.x) suites on the raw tables, run as Dagster asset checks after each extract.

One check op (`ge_raw_checks`) validates the partition window's batch of every raw table the run touched:
- `ge_errors` (blocking, severity ERROR): timestamps between the company's founding (COMPANY_FOUNDED_DATE,
  default the first partition) and now; for Stripe objects also ids not null and unique in the batch, amounts >= 0,
  ISO currencies, statuses in their allowed sets (an app table's keys, required columns, allowed values and bounds
  are the load's to enforce: suites.py). A failure
  stops the downstream dbt models in the same run, with the failed expectations in the check's metadata and
  description (what the UI shows).
- `ge_warnings` (severity WARN, not blocking): soft rules and the row count within a band of the trailing days.

Results are kept: the GX Data Docs site under `<output_dir>/ge_data_docs` (index.html, listing the newest
DATA_DOCS_INDEX_RESULTS results; every result keeps its page) and one row per suite run in
`audit.ge_validation_results`.
"""

import json
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    multi_asset_check,
)

from extract.settings import Settings
from extract.warehouse import STRIPE_OBJECT_TABLES, Warehouse, create_schema_sql
from orchestration.assets.extract import RAW_KEYS
from orchestration.checks.suites import Rule, TableSuite, app_suites, stripe_suites
from orchestration.partitions import partitions_start
from orchestration.resources import RawChecksResource, WarehouseResource, file_lock, retry_transient

ERRORS_CHECK = "ge_errors"
WARNINGS_CHECK = "ge_warnings"
BAND_TRAILING_DAYS = 7
BAND_LOW, BAND_HIGH = 0.2, 5.0  # a window's rows per day vs the trailing days' average
DATA_DOCS_SITE = "execmetrics"
# The Data Docs index lists the newest results only: GX reads every listed result's file and renders the index on
# every run, so an unbounded index made the check step grow with the days run (18 tables a day). Older results keep
# their pages, and every result has its row in audit.ge_validation_results.
DATA_DOCS_INDEX_RESULTS = 20 * 18
GX_URL_VARIABLE = "EXECMETRICS_GX_WAREHOUSE_URL"

RESULTS_DDL = f"""
{create_schema_sql("audit")};
create table if not exists audit.ge_validation_results (
    id bigserial primary key,
    validated_at timestamptz not null default now(),
    run_id text,
    asset_key text not null,
    suite text not null,
    level text not null,
    window_start timestamptz,
    window_end timestamptz,
    success boolean not null,
    evaluated integer not null,
    failed integer not null,
    row_count bigint,
    failures jsonb not null default '[]'::jsonb,
    data_docs text
)"""


def founded(settings: Settings) -> date:
    """The earliest valid timestamp's day: COMPANY_FOUNDED_DATE, else the first partition."""
    return settings.company_founded_date or partitions_start(settings)


def data_docs_dir(output_dir: Path) -> Path:
    return Path(output_dir).resolve() / "ge_data_docs"


def gx_project_dir(output_dir: Path) -> Path:
    return Path(output_dir).resolve() / "gx_project"


def all_suites(now: datetime, founded_day: date) -> dict[str, TableSuite]:
    founded_iso = datetime.combine(founded_day, datetime.min.time(), tzinfo=UTC).isoformat()
    now_iso = now.isoformat()
    suites = app_suites(founded_iso, now_iso) + stripe_suites(STRIPE_OBJECT_TABLES, now_iso)
    return {suite.table: suite for suite in suites}


@dataclass
class SuiteOutcome:
    table: str
    level: str
    success: bool
    evaluated: int = 0
    failures: list[str] = field(default_factory=list)
    row_count: int = 0


def _expectation(rule: Rule) -> Any:
    import great_expectations.expectations as gxe

    return getattr(gxe, rule.expectation)(**rule.kwargs, meta={"why": rule.why, "level": rule.level})


def _meta(result: Any) -> dict[str, Any]:
    config = result.expectation_config
    return dict(config.meta or {}) if config is not None else {}


def _failure_text(result: Any) -> str:
    config = result.expectation_config
    why = (config.meta or {}).get("why") or config.type
    details = result.result or {}
    count = details.get("unexpected_count")
    sample = details.get("partial_unexpected_list") or []
    text = why
    if count is not None:
        text += f": {count} unexpected"
    if sample:
        text += f" (e.g. {', '.join(map(str, sample[:3]))})"
    elif "observed_value" in details:
        text += f" (observed {details['observed_value']})"
    return text


def trailing_rows(conn: Any, suite: TableSuite, start: datetime) -> int:
    """The rows of the BAND_TRAILING_DAYS days before `start`. A day whose own window was checked (a daily partition
    run) counts as that check found it, its latest result in audit.ge_validation_results; a day inside a longer window
    that was checked (a backfill's run) counts as that window's average day; the other days are counted in raw.
    Counting the trailing week again in every daily run read seven days of each large table's index (2.7 s for a
    thousand tenants' events and API requests, ten times that at ten thousand), and the first daily run after a
    backfill did so for every table. Rows loaded into a day after its check (an extract outside the partition runs)
    are not in its recorded count until that day is checked again: the band is a coarse warning (0.2x to 5x)."""
    days = [
        (start - timedelta(days=back), start - timedelta(days=back - 1)) for back in range(BAND_TRAILING_DAYS, 0, -1)
    ]
    recorded: list[tuple[datetime, datetime, int]] = []  # newest first
    if conn.execute("select to_regclass('audit.ge_validation_results') is not null").fetchone()[0]:
        recorded = conn.execute(
            """select window_start, window_end, row_count
               from audit.ge_validation_results
               where asset_key = %s and level = 'error' and row_count is not null
                 and window_end > %s and window_end <= %s
               order by validated_at desc, id desc""",
            (f"raw/{suite.table}", days[0][0], start),
        ).fetchall()
    total = 0.0
    for day_start, day_end in days:
        own = next((rows for s, e, rows in recorded if (s, e) == (day_start, day_end)), None)
        if own is not None:
            total += own
            continue
        window = next(((s, e, rows) for s, e, rows in recorded if s <= day_start and e >= day_end), None)
        if window is not None:
            s, e, rows = window
            total += rows * (day_end - day_start) / (e - s)
            continue
        row = conn.execute(
            f"select count(*) from raw.{suite.table} where {suite.window_column} >= %s and {suite.window_column} < %s",
            (day_start, day_end),
        ).fetchone()
        total += int(row[0]) if row else 0
    return round(total)


def trailing_band(conn: Any, suite: TableSuite, start: datetime, end: datetime) -> Rule | None:
    """Row count of the window within BAND_LOW..BAND_HIGH × the trailing days' average (None: no history yet)."""
    trailing = trailing_rows(conn, suite, start)
    if trailing == 0:
        return None
    days = max(1, round((end - start).total_seconds() / 86400))
    per_day = trailing / BAND_TRAILING_DAYS
    low, high = int(per_day * BAND_LOW * days), int(per_day * BAND_HIGH * days) + 1
    return Rule(
        "ExpectTableRowCountToBeBetween",
        {"min_value": low, "max_value": high},
        "warning",
        f"row count within {BAND_LOW}-{BAND_HIGH}x of the trailing {BAND_TRAILING_DAYS} days ({per_day:.0f}/day)",
    )


def validate_raw(
    warehouse: Warehouse,
    tables: list[str],
    start: datetime,
    end: datetime,
    run_id: str | None = None,
    now: datetime | None = None,
    *,
    output_dir: Path,
    founded_day: date,
) -> list[SuiteOutcome]:
    """Validate the window's batch of each table against its error and warning suites; record the results.

    The GX project and its Data Docs live under `output_dir`; timestamps before `founded_day` are errors."""
    import great_expectations as gx

    now = now or datetime.now(UTC)
    suites = all_suites(now, founded_day)
    outcomes: list[SuiteOutcome] = []
    project = gx_project_dir(output_dir)
    with file_lock(project / ".lock"), warnings.catch_warnings():
        # GE suggests its Postgres datasource when its engine starts; that one refuses the embedded server's
        # unix-socket URL, so the generic SQL datasource is the deliberate choice here.
        warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")
        # Checkpoints and validation definitions are rebuilt every run (their batch is this window's query):
        # drop the previous run's, which point at query assets this run replaces.
        for folder in ("checkpoints", "validation_definitions"):
            for stale in (project / "gx" / folder).glob("*.json"):
                stale.unlink()
        # The project on disk names the variable, not the URL: the loader's password stays out of its files; the
        # context substitutes it from its runtime environment.
        context = gx.get_context(
            mode="file", project_root_dir=str(project), runtime_environment={GX_URL_VARIABLE: warehouse.target.url}
        )
        config: Any = context.get_config()
        site: Any = {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(data_docs_dir(output_dir)),
            },
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "validation_results_limit": DATA_DOCS_INDEX_RESULTS,
            },
        }
        sites = config.data_docs_sites or {}
        if DATA_DOCS_SITE not in sites:
            context.add_data_docs_site(site_name=DATA_DOCS_SITE, site_config=site)
        elif sites[DATA_DOCS_SITE] != site:
            context.update_data_docs_site(site_name=DATA_DOCS_SITE, site_config=site)
        if context.variables.progress_bars is None or context.variables.progress_bars.get("globally") is not False:
            context.variables.progress_bars = {"globally": False, "metric_calculations": False}  # type: ignore[assignment]
            context.variables.save()
        # create_temp_table: GX copies each batch into a temporary table on the server and computes its metrics there.
        # Without it, GX reads a query batch's column names by running the whole query on the client, which held
        # every row of the window in this process (about 150 bytes a row: 1.5 GB a table for a large company's day).
        datasource = context.data_sources.add_or_update_sql(
            "warehouse", connection_string="${" + GX_URL_VARIABLE + "}", create_temp_table=True
        )
        definitions = []
        with warehouse.connect(autocommit=True) as conn:
            for table in tables:
                suite_def = suites[table]
                query = suite_def.batch_query(start.isoformat(), end.isoformat())
                empty = not conn.execute(f"select exists ({query})").fetchone()[0]  # type: ignore[index]
                band = trailing_band(conn, suite_def, start, end) if suite_def.trailing_band else None
                rules = [*suite_def.rules, *([band] if band else [])]
                if empty and band is None:
                    # An empty batch satisfies every value rule: nothing to send to GX.
                    for level in ("error", "warning"):
                        outcomes.append(SuiteOutcome(table, level, True, 0, [], 0))
                    continue
                if table in {a.name for a in datasource.assets}:
                    datasource.delete_asset(table)
                asset = datasource.add_query_asset(table, query=query)
                batch_definition = asset.add_batch_definition_whole_table("window")
                suite = context.suites.add_or_update(
                    gx.ExpectationSuite(name=f"raw.{table}", expectations=[_expectation(rule) for rule in rules])
                )
                definitions.append(
                    context.validation_definitions.add_or_update(
                        gx.ValidationDefinition(name=f"raw.{table}", data=batch_definition, suite=suite)
                    )
                )
        if definitions:
            checkpoint = context.checkpoints.add_or_update(
                gx.Checkpoint(
                    name="raw_window",
                    validation_definitions=definitions,
                    result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
                )
            )
            result = checkpoint.run()
            build_data_docs(context, result)
            for validation in result.run_results.values():
                table = validation.suite_name.removeprefix("raw.")
                rows = _batch_rows(table, validation.results)
                for level in ("error", "warning"):
                    results = [r for r in validation.results if _meta(r).get("level") == level]
                    failures = [_failure_text(r) for r in results if not r.success]
                    outcomes.append(SuiteOutcome(table, level, not failures, len(results), failures, rows))
    record_results(warehouse, outcomes, start, end, run_id, data_docs_dir(output_dir) / "index.html")
    return outcomes


def _batch_rows(table: str, results: list[Any]) -> int:
    """The batch's rows, as GX counted them for a column rule (its `element_count`): counting the batch again cost a
    pass over the window's rows (half a second a table for a thousand tenants' day). Every suite has a column rule
    (tests/unit/test_table_declarations.py)."""
    for result in results:
        count = (result.result or {}).get("element_count")
        if count is not None:
            return int(count)
    raise RuntimeError(f"the GE suite of raw.{table} has no column rule to count its batch")


def build_data_docs(context: Any, result: Any) -> None:
    """The Data Docs of a checkpoint's results: each result's page and its suite's page, then the index, once.

    Not GX's UpdateDataDocsAction in the checkpoint: it builds the site once per validation result, index included,
    so a run of 18 tables rendered the index (which reads every result it lists) 18 times."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    suites = {validation.suite_name for validation in result.run_results.values()}
    identifiers = [*result.run_results, *(ExpectationSuiteIdentifier(name=name) for name in sorted(suites))]
    context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=identifiers)


def record_results(
    warehouse: Warehouse,
    outcomes: list[SuiteOutcome],
    start: datetime,
    end: datetime,
    run_id: str | None,
    data_docs: Path,
) -> None:
    docs = str(data_docs)
    with warehouse.connect() as conn:
        conn.execute(RESULTS_DDL)
        with conn.cursor() as cur:
            cur.executemany(
                """insert into audit.ge_validation_results (run_id, asset_key, suite, level, window_start, window_end,
                       success, evaluated, failed, row_count, failures, data_docs)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [
                    (
                        run_id,
                        f"raw/{o.table}",
                        f"raw.{o.table}.{o.level}s",
                        o.level,
                        start,
                        end,
                        o.success,
                        o.evaluated,
                        len(o.failures),
                        o.row_count,
                        json.dumps(o.failures),
                        docs,
                    )
                    for o in outcomes
                ],
            )
        conn.commit()


# ------------------------------------------------------------------------------------------------ Dagster


def run_window(context: AssetCheckExecutionContext, daily: Any) -> tuple[datetime, datetime]:
    """The run's daily partition window, from its tags (a single partition or a range); the last complete day when
    the checks are executed on their own, outside a partitioned run.

    The check specs are deliberately not partitioned: a partitioned check writes one planned row per partition and
    check at run creation, which makes a 365-day single run spend minutes before its first step.
    """
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    tags = context.op_execution_context.run.tags
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        first, last = tags[ASSET_PARTITION_RANGE_START_TAG], tags[ASSET_PARTITION_RANGE_END_TAG]
    elif "dagster/partition" in tags:
        first = last = tags["dagster/partition"]
    else:
        keys = daily.get_partition_keys()
        first = last = keys[-2] if len(keys) > 1 else keys[-1]
    return daily.time_window_for_partition_key(first).start, daily.time_window_for_partition_key(last).end


def ge_check_specs() -> list[AssetCheckSpec]:
    specs = []
    for key in RAW_KEYS:
        specs.append(
            AssetCheckSpec(
                ERRORS_CHECK,
                asset=key,
                blocking=True,
                description="GX error suite (ids, timestamps, amounts, currencies, statuses): blocks dbt on failure",
            )
        )
        specs.append(
            AssetCheckSpec(
                WARNINGS_CHECK,
                asset=key,
                description="GX warning suite (soft value sets, row count vs trailing days): reported, not blocking",
            )
        )
    return specs


def build_ge_checks(daily: Any) -> list:
    """The one check op over every raw table; `daily` is the daily partitions definition its window comes from."""

    @multi_asset_check(
        name="ge_raw_checks",
        specs=ge_check_specs(),
        can_subset=True,
        op_tags={"execmetrics/stage": "checks"},
    )
    def ge_raw_checks(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, raw_checks: RawChecksResource
    ) -> Iterator[AssetCheckResult]:
        selected: set[AssetCheckKey] = set(context.selected_asset_check_keys)
        tables = sorted({key.asset_key.path[-1] for key in selected})
        start, end = run_window(context, daily)
        settings = raw_checks.settings()
        output_dir = settings.output_dir
        began = time.monotonic()
        with retry_transient(context):
            run_id = context.op_execution_context.run_id
            loader = warehouse.get().as_role("loader")
            outcomes = validate_raw(
                loader, tables, start, end, run_id, output_dir=output_dir, founded_day=founded(settings)
            )
        duration = round(time.monotonic() - began, 3)
        docs = data_docs_dir(output_dir) / "index.html"
        for outcome in outcomes:
            check = ERRORS_CHECK if outcome.level == "error" else WARNINGS_CHECK
            key = AssetCheckKey(AssetKey(["raw", outcome.table]), check)
            if key not in selected:
                continue
            description = (
                f"{len(outcome.failures)} of {outcome.evaluated} expectations failed: " + "; ".join(outcome.failures)
                if outcome.failures
                else f"{outcome.evaluated} expectations passed"
            )
            yield AssetCheckResult(
                asset_key=key.asset_key,
                check_name=check,
                passed=outcome.success,
                severity=AssetCheckSeverity.ERROR if outcome.level == "error" else AssetCheckSeverity.WARN,
                description=description[:2000],
                metadata={
                    "failures": MetadataValue.json(outcome.failures),
                    "expectations": MetadataValue.int(outcome.evaluated),
                    "batch_rows": MetadataValue.int(int(outcome.row_count)),
                    "window": f"{start.isoformat()}..{end.isoformat()}",
                    "duration_s": MetadataValue.float(duration),
                    "data_docs": MetadataValue.path(str(docs)),
                },
            )

    return [ge_raw_checks]
