"""The last step of every run: what it wrote becomes visible, all at once or not at all."""

from collections.abc import Sequence

import dagster as dg

from pipelines.memo import RunMemo, copy_reused, record, snapshot_unchanged
from pipelines.resources import UtvalgSettings
from pipelines.storage.publication import Step, publish
from pipelines.storage.warehouse import RunWarehouse, write_snapshot

# What notebooks and other tools can read without touching the pipeline's warehouse.
SNAPSHOT_TABLES = [
    "kommune_register",
    "observations",
    "quarantine",
    "harmonised_observations",
    "break_notes",
    "indicator_values",
    "school_indicator_values",
    "school_names",
    "udir_risk_points",
    "holistic_scores",
    "rank_uncertainty",
    "sensitivity",
    "candidates",
    "fylkeskommune_candidates",
    "published_figures",
    "raw_files",
    "provenance",
    "data_coverage",
]


def publication_asset(everything_else: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The publication step, after every other asset of the graph (it runs last in any run)."""

    @dg.asset(group_name="outputs", kinds={"duckdb"}, deps=list(everything_else))
    def publication(
        context: dg.AssetExecutionContext, warehouse: RunWarehouse, utvalg: UtvalgSettings, memo: RunMemo
    ) -> dg.MaterializeResult:
        """Makes the run's warehouse, its snapshot for notebooks and its reports visible together: the
        run's copy of the warehouse replaces the published one, a new snapshot replaces the old, and
        ``reports/<school-year>`` points at the run's folder. A run that fails before this step changes
        nothing that readers see. Steps the run reused (unchanged since the last run) have their files
        copied from the published folder, and every step's input key is recorded (``asset_versions``)."""
        working, live = warehouse.warehouse(), warehouse.published
        snapshot = live.path.with_name("snapshot.duckdb")
        present = set(working.tables())
        tables = [table for table in SNAPSHOT_TABLES if table in present]
        if memo.reused:
            copy_reused(memo, working, utvalg.year_folder)
        steps = [Step("rename", str(working.path), str(live.path))]
        # An unchanged snapshot stays as it is (notebooks may hold it open; rebuilding it costs seconds).
        if snapshot_unchanged(memo, working, snapshot, tables):
            record(memo, context, working, utvalg.year_folder, (snapshot.name, snapshot))
        else:
            new_snapshot = write_snapshot(
                working, snapshot.with_name(f".{snapshot.name}.{context.run.run_id}"), tables
            )
            record(memo, context, working, utvalg.year_folder, (snapshot.name, new_snapshot))
            steps.append(Step("rename", str(new_snapshot), str(snapshot)))
        if utvalg.year_folder.is_dir():
            steps.append(Step("link", str(utvalg.year_folder), str(utvalg.published_folder)))
        publish(live.path, steps)
        return dg.MaterializeResult(
            metadata={
                "warehouse": dg.MetadataValue.path(str(live.path)),
                "snapshot": dg.MetadataValue.path(str(snapshot)),
                "snapshot_tables": dg.MetadataValue.json(tables),
                "reports": dg.MetadataValue.path(str(utvalg.published_folder)),
                "reused": dg.MetadataValue.json(sorted(memo.reused)),
            }
        )

    return publication
