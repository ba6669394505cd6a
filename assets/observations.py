"""Stages 2–3, raw exports → parsed → validated observations, and the quarantine of what failed."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl

from assets.metadata import markdown_table, outs, table_spec
from pipelines.ingest.collect import ParsedFolder, parse_folder
from pipelines.provenance import hashed_files
from pipelines.pupils.aggregate import PupilFolder, read_pupil_folder
from pipelines.pupils.read import pupil_files
from pipelines.resources import UtvalgSettings
from pipelines.settings import code_version
from pipelines.storage.warehouse import RunWarehouse
from pipelines.validate.observations import validate_observations
from pipelines.validate.tables import QUARANTINE, RAW_FILES

PARSED = [
    table_spec(
        "raw_files",
        "raw",
        "The export files found under the raw folder: path, SHA-256, size, source "
        "(recognised from the header) and encoding.",
    ),
    table_spec(
        "parsed_observations",
        "observations",
        "Every value cell of every export as one row per unit × value, as published, with the "
        "file's hash. Files whose hash is unchanged are not parsed again.",
    ),
    table_spec(
        "parse_quarantine",
        "observations",
        "Cells and lines the parser could not use, with file, line, column and reason.",
        may_be_empty=True,
    ),
]
PUPILS = [
    table_spec(
        "pupil_figures",
        "observations",
        "Figures computed in DuckDB from the pupil-level datasets under the raw folder's elevdata/ "
        "(docs/pupil_data.md): every school, kommune, fylke and the nation, with exact standard errors and "
        "pupil counts, not suppressed. Empty without pupil-level data.",
        may_be_empty=True,
    ),
    table_spec(
        "pupil_quarantine",
        "observations",
        "Pupil-level rows left out, one per broken rule, with file, row number (from 0), column and reason.",
        may_be_empty=True,
    ),
    table_spec(
        "pupil_files",
        "raw",
        "Every file under the raw folder's elevdata/: path, SHA-256 and size, named in the provenance of "
        "every output beside the exports. Empty without pupil-level data.",
        may_be_empty=True,
    ),
]
VALIDATED = [
    table_spec(
        "observations",
        "observations",
        "Validated observations as published: one row per unit × school year × indicator × "
        "grade × subject × measure, with value, std_error, n, suppressed, break_note and the file and line "
        "it came from.",
    ),
    table_spec(
        "quarantine",
        "observations",
        "Every row left out, with the reason, file, line and stage (parse, duplicate, validate). "
        "Nothing is dropped silently.",
        may_be_empty=True,
    ),
]


def _previous(warehouse: RunWarehouse) -> ParsedFolder | None:
    """The last run's parse, so that files whose hash is unchanged are not parsed again: only when the
    same code made it, since a file an older parser accepted may be one the current one refuses."""
    store = warehouse.warehouse()
    if not {"raw_files", "parsed_observations", "parse_quarantine", "provenance"} <= set(store.tables()):
        return None
    if store.read("provenance", ["code_version"])["code_version"].unique().to_list() != [code_version()]:
        return None
    return ParsedFolder(
        observations=store.read("parsed_observations"),
        quarantine=store.read("parse_quarantine"),
        files=store.read("raw_files"),
        parsed=[],
        reused=[],
    )


@dg.multi_asset(outs=outs(PARSED))
def parsed_exports(utvalg: UtvalgSettings, warehouse: RunWarehouse) -> Iterator[dg.MaterializeResult]:
    """Find, hash and parse every export under the raw folder (one pass gives all three tables)."""
    parsed = parse_folder(Path(utvalg.raw_dir), utvalg.registers, _previous(warehouse), utvalg.progress)
    RAW_FILES.validate(parsed.files)
    yield dg.MaterializeResult(
        asset_key="raw_files",
        value=parsed.files,
        metadata={
            "raw_dir": utvalg.raw_dir,
            "files": parsed.files.height,
            "files_parsed": len(parsed.parsed),
            "files_unchanged": len(parsed.reused),
            "by_source": markdown_table(parsed.files.group_by("source").len().sort("source")),
        },
    )
    yield dg.MaterializeResult(asset_key="parsed_observations", value=parsed.observations)
    yield dg.MaterializeResult(
        asset_key="parse_quarantine",
        value=parsed.quarantine,
        metadata={"cells_quarantined": parsed.quarantine.height},
    )


@dg.multi_asset(outs=outs(PUPILS))
def pupil_data(utvalg: UtvalgSettings) -> Iterator[dg.MaterializeResult]:
    """Check and aggregate the pupil-level datasets in DuckDB, straight from their parquet files (one
    pass per dataset gives the figures and the quarantine), and hash the files for provenance."""
    raw_dir = Path(utvalg.raw_dir)
    pupils = read_pupil_folder(raw_dir)
    yield dg.MaterializeResult(
        asset_key="pupil_figures",
        value=pupils.figures,
        metadata={
            "figures": pupils.figures.height,
            "by_source": markdown_table(
                pupils.figures.group_by("source")
                .agg(
                    pl.col("school_year").min().alias("from"),
                    pl.col("school_year").max().alias("to"),
                    pl.len(),
                )
                .sort("source")
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key="pupil_quarantine",
        value=pupils.quarantine,
        metadata={"rows_quarantined": pupils.quarantine.height, "sample": markdown_table(pupils.quarantine)},
    )
    hashed = hashed_files(pupil_files(raw_dir), raw_dir)
    yield dg.MaterializeResult(
        asset_key="pupil_files",
        value=hashed,
        metadata={"files": hashed.height, "bytes": int(hashed["bytes"].sum())},
    )


@dg.multi_asset(outs=outs(VALIDATED))
def validated_observations(
    utvalg: UtvalgSettings,
    parsed_observations: pl.DataFrame,
    parse_quarantine: pl.DataFrame,
    pupil_figures: pl.DataFrame,
    pupil_quarantine: pl.DataFrame,
) -> Iterator[dg.MaterializeResult]:
    """Deduplicate and validate the parsed rows with the pandera schema, the pupil figures in place of
    the exports for every source and year they cover (one pass gives both tables)."""
    observations, quarantine = validate_observations(
        parsed_observations,
        parse_quarantine,
        utvalg.registers,
        PupilFolder(pupil_figures, pupil_quarantine),
    )
    QUARANTINE.validate(quarantine)
    summary = (
        observations.group_by("source", "school_year")
        .agg(pl.len().alias("rows"), pl.col("suppressed").sum().alias("suppressed"))
        .join(quarantine.group_by("source").len().rename({"len": "quarantined"}), on="source", how="left")
        .sort("source", "school_year")
    )
    yield dg.MaterializeResult(
        asset_key="observations",
        value=observations,
        metadata={
            "by_source_and_year": markdown_table(summary, 100),
            "suppressed": int(observations["suppressed"].sum()),
        },
    )
    yield dg.MaterializeResult(
        asset_key="quarantine",
        value=quarantine,
        metadata={
            "by_reason": markdown_table(
                quarantine.group_by("stage", "reason").len().sort("len", descending=True)
            ),
            "sample": markdown_table(quarantine),
        },
    )
