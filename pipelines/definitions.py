"""The Dagster code location: assets by stage, checks, resources."""

from __future__ import annotations

from typing import Any

import dagster as dg

import assets.automation
import assets.checks
import assets.followup
import assets.harmonised
import assets.indicators
import assets.observations
import assets.outputs
import assets.provenance
import assets.publication
import assets.reference
import assets.selection
from pipelines import settings
from pipelines.memo import RunMemo
from pipelines.resources import UtvalgSettings
from pipelines.storage.warehouse import RunWarehouse, WarehouseIOManager

ASSET_MODULES = [
    assets.reference,
    assets.observations,
    assets.harmonised,
    assets.indicators,
    assets.provenance,
    assets.selection,
    assets.outputs,
    assets.followup,
]


def build_definitions(
    database: str | None = None, memo: RunMemo | None = None, **utvalg: Any
) -> dg.Definitions:
    """Definitions with an optional warehouse path, the run's plan of reused steps (none: everything is
    computed) and settings (tests use temporary ones)."""
    database = database or str(settings.warehouse_path())
    stages = dg.load_assets_from_modules(ASSET_MODULES)
    keys = [
        key for definition in stages if isinstance(definition, dg.AssetsDefinition) for key in definition.keys
    ]
    return dg.Definitions(
        assets=[*stages, assets.publication.publication_asset(keys)],
        asset_checks=dg.load_asset_checks_from_modules([assets.checks]),
        jobs=[assets.automation.everything],
        schedules=[assets.automation.autumn_schedule],
        sensors=[assets.automation.new_raw_files, assets.automation.review_inbox],
        resources={
            "io_manager": WarehouseIOManager(database=database),
            "warehouse": RunWarehouse(database=database),
            "utvalg": UtvalgSettings(**utvalg),
            "memo": memo or RunMemo.unplanned(),
        },
        executor=dg.in_process_executor,
    )


defs = build_definitions()
