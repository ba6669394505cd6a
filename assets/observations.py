"""Stages 2–3, raw exports → parsed → validated observations, and the quarantine of what failed."""

from pathlib import Path

import dagster as dg
import polars as pl

from assets.metadata import markdown_table
from pipelines.ingest.collect import ParsedFolder, parse_folder
from pipelines.resources import UtvalgSettings
from pipelines.storage.warehouse import WarehouseResource
from pipelines.validate.observations import validate_observations
from pipelines.validate.tables import QUARANTINE, RAW_FILES


def _previous(warehouse: WarehouseResource) -> ParsedFolder | None:
    store = warehouse.warehouse()
    tables = set(store.tables())
    if not {"raw_files", "parsed_observations", "parse_quarantine"} <= tables:
        return None
    return ParsedFolder(
        observations=store.read("parsed_observations"),
        quarantine=store.read("parse_quarantine"),
        files=store.read("raw_files"),
        parsed=[],
        reused=[],
    )


@dg.multi_asset(
    outs={
        "raw_files": dg.AssetOut(
            group_name="raw",
            description="The export files found under the raw folder: path, SHA-256, size, source "
            "(recognised from the header) and encoding.",
            kinds={"polars", "duckdb"},
        ),
        "parsed_observations": dg.AssetOut(
            group_name="observations",
            description="Every value cell of every export as one row per unit × value, as published, "
            "with the file's hash. Files whose hash is unchanged are not parsed again.",
            kinds={"polars", "duckdb"},
        ),
        "parse_quarantine": dg.AssetOut(
            group_name="observations",
            description="Cells and lines the parser could not use, with file, line, column and reason.",
            kinds={"polars", "duckdb"},
            metadata={"allow_empty": True},
        ),
    },
)
def parsed_exports(context: dg.AssetExecutionContext, utvalg: UtvalgSettings, warehouse: WarehouseResource):
    """Find, hash and parse every export under the raw folder."""
    parsed = parse_folder(Path(utvalg.raw_dir), utvalg.registers(), _previous(warehouse))
    RAW_FILES.validate(parsed.files)
    context.add_output_metadata(
        {
            "raw_dir": utvalg.raw_dir,
            "files": parsed.files.height,
            "files_parsed": len(parsed.parsed),
            "files_unchanged": len(parsed.reused),
            "by_source": markdown_table(parsed.files.group_by("source").len().sort("source")),
        },
        output_name="raw_files",
    )
    context.add_output_metadata(
        {"cells_quarantined": parsed.quarantine.height}, output_name="parse_quarantine"
    )
    return parsed.files, parsed.observations, parsed.quarantine


@dg.multi_asset(
    group_name="observations",
    outs={
        "observations": dg.AssetOut(
            description="Validated observations as published: one row per unit × school year × "
            "indicator × grade × subject × measure, with value, std_error, n, suppressed, break_note "
            "and the file and line it came from.",
            kinds={"polars", "duckdb"},
        ),
        "quarantine": dg.AssetOut(
            description="Every row left out, with the reason, file, line and stage (parse, duplicate, "
            "validate). Nothing is dropped silently.",
            kinds={"polars", "duckdb"},
            metadata={"allow_empty": True},
        ),
    },
)
def validated_observations(
    context: dg.AssetExecutionContext,
    utvalg: UtvalgSettings,
    parsed_observations: pl.DataFrame,
    parse_quarantine: pl.DataFrame,
):
    """Deduplicate and validate the parsed rows with the pandera schema."""
    observations, quarantine = validate_observations(
        parsed_observations, parse_quarantine, utvalg.registers()
    )
    QUARANTINE.validate(quarantine)
    summary = (
        observations.group_by("source", "school_year")
        .agg(pl.len().alias("rows"), pl.col("suppressed").sum().alias("suppressed"))
        .join(
            quarantine.group_by("source").len().rename({"len": "quarantined"}),
            on="source",
            how="left",
        )
        .sort("source", "school_year")
    )
    context.add_output_metadata(
        {
            "by_source_and_year": markdown_table(summary, 100),
            "suppressed": int(observations["suppressed"].sum()),
        },
        output_name="observations",
    )
    context.add_output_metadata(
        {
            "by_reason": markdown_table(
                quarantine.group_by("stage", "reason").len().sort("len", descending=True)
            ),
            "sample": markdown_table(quarantine),
        },
        output_name="quarantine",
    )
    return observations, quarantine
