"""Dagster assets: the extracts (raw.*), the dbt models and the alert delivery."""

from __future__ import annotations

from functools import lru_cache

from dagster import AssetKey, AssetsDefinition, Definitions


@lru_cache(maxsize=1)
def extract_assets() -> tuple[AssetsDefinition, ...]:
    from orchestration.assets.extract import build_extract_assets

    return tuple(build_extract_assets())


@lru_cache(maxsize=1)
def dbt_assets_by_name() -> dict[str, AssetsDefinition]:
    """{"dbt_daily": ..., "dbt_monthly": ...} (a set is absent when the dbt project has no node of that kind)."""
    from orchestration.assets.dbt import build_dbt_assets

    return {definition.op.name: definition for definition in build_dbt_assets()}


@lru_cache(maxsize=1)
def delivery_asset() -> AssetsDefinition:
    from orchestration.assets.delivery import build_delivery_asset

    return build_delivery_asset()


def dbt_keys(name: str) -> list[AssetKey]:
    definition = dbt_assets_by_name().get(name)
    return sorted(definition.keys) if definition is not None else []


def reset_assets() -> None:
    from orchestration.assets.dbt import dbt_project

    extract_assets.cache_clear()
    dbt_assets_by_name.cache_clear()
    dbt_project.cache_clear()
    delivery_asset.cache_clear()


def assets_definitions() -> Definitions:
    return Definitions(assets=[*extract_assets(), *dbt_assets_by_name().values(), delivery_asset()])
