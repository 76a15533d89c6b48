"""Dagster assets: the extracts (raw.*), the dbt models and the alert delivery."""

from __future__ import annotations

from collections.abc import Mapping

from dagster import AssetKey, AssetsDefinition, Definitions


def dbt_keys(dbt_assets: Mapping[str, AssetsDefinition], name: str) -> list[AssetKey]:
    """The asset keys of one dbt asset set (`dbt_daily`, `dbt_monthly`); none when the project has no such node."""
    definition = dbt_assets.get(name)
    return sorted(definition.keys) if definition is not None else []


def assets_definitions(
    extract_assets: list[AssetsDefinition],
    dbt_assets: Mapping[str, AssetsDefinition],
    delivery_asset: AssetsDefinition,
) -> Definitions:
    return Definitions(assets=[*extract_assets, *dbt_assets.values(), delivery_asset])
