"""Extract assets: one asset per raw table, daily partitioned, loaded by the extractors in `extract/`.

The asset keys are `raw/<table>`; the dbt translator maps the dbt sources `app.*` / `stripe.*` to the same keys,
so the dbt models hang off these assets in the graph. A run over a partition range (a single-run backfill)
extracts the whole window at once.
"""

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from extract.warehouse import STRIPE_OBJECT_TABLES
from orchestration.resources import (
    AppSourceResource,
    StripeSourceResource,
    WarehouseResource,
    partition_locks,
    retry_transient,
)

APP_TABLES = ("tenants", "users", "jobs", "events", "api_requests")  # extract/tables.py APP_TABLES, load order
RAW_APP_GROUP = "raw_app"
RAW_STRIPE_GROUP = "raw_stripe"


def app_asset_key(table: str) -> AssetKey:
    return AssetKey(["raw", f"app_{table}"])


def stripe_asset_key(kind: str) -> AssetKey:
    return AssetKey(["raw", f"stripe_{kind}"])


APP_KEYS = {table: app_asset_key(table) for table in APP_TABLES}
STRIPE_KEYS = {kind: stripe_asset_key(kind) for kind in STRIPE_OBJECT_TABLES}
RAW_KEYS = [*APP_KEYS.values(), *STRIPE_KEYS.values()]


class ExtractConfig(Config):  # type: ignore[misc]
    full_refresh: bool = False


class ExtractError(RuntimeError):
    pass


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "(open)"


def _window(context: AssetExecutionContext) -> tuple[datetime, datetime]:
    window = context.partition_time_window
    return window.start, window.end


def build_extract_assets(daily: Any, backfill: Any) -> list:
    """The two extract multi-assets on the daily partitions `daily`, with the backfill policy `backfill`."""

    @multi_asset(
        name="extract_app",
        specs=[
            AssetSpec(
                key,
                group_name=RAW_APP_GROUP,
                kinds={"postgres", "python"},
                description=f"raw.app_{table}: the app's `{table}` rows, loaded by extract/app",
                skippable=True,
            )
            for table, key in APP_KEYS.items()
        ],
        partitions_def=daily,
        backfill_policy=backfill,
        can_subset=True,
        op_tags={"execmetrics/stage": "extract"},
    )
    def extract_app_assets(
        context: AssetExecutionContext,
        config: ExtractConfig,
        warehouse: WarehouseResource,
        app_source: AppSourceResource,
    ) -> Iterator[MaterializeResult]:
        from extract.app.extractor import extract_app
        from extract.app.sources import open_source

        spec = app_source.spec()
        if not spec:
            raise ExtractError("no app source configured: set APP_DATABASE_URL (SQLAlchemy URL) or APP_SOURCE_DIR")
        tables = [table for table, key in APP_KEYS.items() if key in context.selected_asset_keys]
        start, end = _window(context)
        wh = warehouse.get(app_source).as_role("loader")
        began = time.monotonic()
        with retry_transient(context), partition_locks(wh, "extract_app", context.partition_keys):
            result = extract_app(
                wh, open_source(spec), start=start, end=end, tables=tables, full_refresh=config.full_refresh
            )
        duration = round(time.monotonic() - began, 3)
        for table in tables:
            table_result = result.tables.get(table)
            if table_result is not None and table_result.error:
                continue  # rolled back alone; reported below
            loaded = table_result.loaded if table_result else 0
            rejected = table_result.rejected if table_result else 0
            loaded_window = table_result.window if table_result else (start, end)
            yield MaterializeResult(
                asset_key=APP_KEYS[table],
                metadata={
                    "dagster/row_count": MetadataValue.int(loaded),
                    "rows_loaded": MetadataValue.int(loaded),
                    "rows_rejected": MetadataValue.int(rejected),
                    "partition_window": f"{start.isoformat()}..{end.isoformat()}",
                    "loaded_window": f"{_iso(loaded_window[0])}..{_iso(loaded_window[1])}",
                    "duration_s": MetadataValue.float(duration),
                    "batch_id": result.batch_id,
                    "source": result.source,
                },
            )
        if result.failed:
            failed = "; ".join(f"app.{name}: {message}" for name, message in result.failed.items())
            raise ExtractError(f"these tables did not load (the others did): {failed}")

    @multi_asset(
        name="extract_stripe",
        specs=[
            AssetSpec(
                key,
                group_name=RAW_STRIPE_GROUP,
                kinds={"postgres", "stripe"},
                description=f"raw.stripe_{kind}: Stripe `{kind}` objects (versions by payload hash)",
                skippable=True,
            )
            for kind, key in STRIPE_KEYS.items()
        ],
        partitions_def=daily,
        backfill_policy=backfill,
        can_subset=False,
        op_tags={"execmetrics/stage": "extract"},
    )
    def extract_stripe_assets(
        context: AssetExecutionContext,
        config: ExtractConfig,
        warehouse: WarehouseResource,
        stripe_source: StripeSourceResource,
    ) -> Iterator[MaterializeResult]:
        """The Stripe API when STRIPE_API_KEY is set (incremental), else the Stripe JSON dump in STRIPE_DUMP_DIR.

        Both loads are idempotent (a version is added only when an object's payload changed), so re-running any
        partition is safe; the partition window is recorded, the objects are not filtered by it.
        """
        start, end = _window(context)
        wh = warehouse.get(stripe_source).as_role("loader")
        began = time.monotonic()
        result: Any
        with retry_transient(context), partition_locks(wh, "extract_stripe", ["all"]):
            if stripe_source.stripe_api_key:
                from extract.stripe.api import extract_stripe

                result = extract_stripe(wh, full_refresh=config.full_refresh)
                origin = "stripe api"
            elif stripe_source.stripe_dump_dir:
                from extract.stripe.dump import load_dump

                dump_dir = Path(stripe_source.stripe_dump_dir)
                with wh.connect() as conn:
                    result = load_dump(conn, dump_dir, full_refresh=config.full_refresh)
                    conn.commit()
                origin = f"dump {dump_dir}"
                if result.skipped:
                    context.log.info(
                        f"not read, unchanged since a load that took every object in them: {', '.join(result.skipped)}"
                    )
            else:
                raise ExtractError("no Stripe source configured: set STRIPE_API_KEY (live API) or STRIPE_DUMP_DIR")
        duration = round(time.monotonic() - began, 3)
        loaded_by_table = _per_table(result, "loaded")
        unchanged_by_table = _per_table(result, "unchanged")
        for kind, key in STRIPE_KEYS.items():
            loaded = loaded_by_table.get(kind, loaded_by_table.get(f"stripe_{kind}", 0))
            unchanged = unchanged_by_table.get(kind, unchanged_by_table.get(f"stripe_{kind}", 0))
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    "dagster/row_count": MetadataValue.int(int(loaded)),
                    "rows_loaded": MetadataValue.int(int(loaded)),
                    "rows_unchanged": MetadataValue.int(int(unchanged)),
                    "rows_rejected_all_tables": MetadataValue.int(int(getattr(result, "rejected", 0) or 0)),
                    "partition_window": f"{start.isoformat()}..{end.isoformat()}",
                    "duration_s": MetadataValue.float(duration),
                    "source": origin,
                },
            )
        failed = getattr(result, "failed", None)
        if failed:
            listed = "; ".join(f"{name}: {message}" for name, message in failed.items())
            raise ExtractError(f"these Stripe object types did not load (the others did): {listed}")

    return [extract_app_assets, extract_stripe_assets]


def _per_table(result: object, attribute: str) -> dict[str, int]:
    value = getattr(result, attribute, None)
    if value is None:
        inner = getattr(result, "load", None) or getattr(result, "result", None)
        value = getattr(inner, attribute, None) if inner is not None else None
    return dict(value) if isinstance(value, dict) else {}
