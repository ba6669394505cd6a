"""Stage 7, outputs: the governors' workbooks, the dashboard and the published snapshot."""

from pathlib import Path

import dagster as dg
import polars as pl

from pipelines import settings
from pipelines.outputs.build import break_notes, county_levels
from pipelines.outputs.dashboard import build_dashboard
from pipelines.outputs.workbooks import write_workbooks
from pipelines.provenance import provenance_line
from pipelines.resources import UtvalgSettings
from pipelines.storage.warehouse import WarehouseResource, publish_snapshot

GROUP = "outputs"
SNAPSHOT_TABLES = [
    "kommune_register",
    "observations",
    "quarantine",
    "harmonised_observations",
    "indicator_values",
    "school_indicator_values",
    "udir_risk_points",
    "holistic_scores",
    "rank_uncertainty",
    "sensitivity",
    "candidates",
    "fylkeskommune_candidates",
    "raw_files",
    "provenance",
]


def _files_metadata(paths: list[Path], root: Path) -> dict[str, dg.MetadataValue]:
    sizes = {p.relative_to(root).as_posix(): p.stat().st_size for p in paths}
    return {
        "folder": dg.MetadataValue.path(str(root)),
        "files": dg.MetadataValue.int(len(paths)),
        "bytes": dg.MetadataValue.int(sum(sizes.values())),
        "sizes": dg.MetadataValue.json(dict(list(sorted(sizes.items()))[:40])),
    }


@dg.asset(group_name=GROUP, kinds={"excel"})
def statsforvalter_workbooks(
    utvalg: UtvalgSettings,
    candidates: pl.DataFrame,
    indicator_values: pl.DataFrame,
    school_indicator_values: pl.DataFrame,
    school_names: pl.DataFrame,
    raw_files: pl.DataFrame,
) -> dg.MaterializeResult:
    """One Excel workbook per statsforvalter: candidates and borderline kommuner, for review."""
    config = utvalg.selection_config()
    out = Path(utvalg.reports_dir) / config.selection.school_year / "statsforvaltere"
    written = write_workbooks(
        candidates,
        indicator_values,
        school_indicator_values,
        school_names,
        config,
        out,
        provenance_line(raw_files),
    )
    return dg.MaterializeResult(metadata=_files_metadata(written, out))


@dg.asset(group_name=GROUP, kinds={"html", "plotly"})
def dashboard(
    utvalg: UtvalgSettings,
    candidates: pl.DataFrame,
    indicator_values: pl.DataFrame,
    school_indicator_values: pl.DataFrame,
    school_names: pl.DataFrame,
    harmonised_observations: pl.DataFrame,
    raw_files: pl.DataFrame,
) -> dg.MaterializeResult:
    """The static HTML dashboard: overview map and list, funnel plots, a profile per kommune, method."""
    config = utvalg.selection_config()
    out = Path(utvalg.reports_dir) / config.selection.school_year / "dashboard"
    written = build_dashboard(
        candidates,
        indicator_values,
        county_levels(harmonised_observations, config),
        school_indicator_values,
        school_names,
        break_notes(harmonised_observations),
        config,
        settings.REFERENCE_DIR / "geo" / "kommuner_2024.geojson",
        out,
        provenance_line(raw_files),
    )
    metadata = _files_metadata(written, out)
    metadata["index_bytes"] = dg.MetadataValue.int((out / "index.html").stat().st_size)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name=GROUP,
    kinds={"duckdb"},
    deps=["candidates", "fylkeskommune_candidates", "sensitivity", "quarantine", "provenance"],
)
def published_snapshot(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """A read-only copy of the warehouse's tables for notebooks and tools, replaced atomically."""
    store = warehouse.warehouse()
    target = store.path.with_name("snapshot.duckdb")
    present = [t for t in SNAPSHOT_TABLES if t in set(store.tables())]
    publish_snapshot(store, target, present)
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(target)), "tables": dg.MetadataValue.json(present)}
    )
