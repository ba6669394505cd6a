"""Stages 5–6, indicators and selection: Udir's rule, the holistic method, sensitivity, candidates."""

from pathlib import Path

import dagster as dg
import polars as pl

from assets.metadata import markdown_table
from pipelines.outputs.candidate_files import write_candidate_files
from pipelines.provenance import provenance_document
from pipelines.resources import UtvalgSettings
from pipelines.selection.candidates import run_selection


@dg.multi_asset(
    outs={
        "indicator_values": dg.AssetOut(
            group_name="indicators",
            description="Kommune indicator values per school year of the window beside the national "
            "level, with standard errors (figures from fewer than minimum_pupils count as missing).",
            kinds={"polars", "duckdb"},
            metadata={"allow_empty": True},
        ),
        "school_indicator_values": dg.AssetOut(
            group_name="indicators",
            description="The same for schools (Udir's category 2).",
            kinds={"polars", "duckdb"},
            metadata={"allow_empty": True},
        ),
        "fylke_indicator_values": dg.AssetOut(
            group_name="indicators",
            description="Fylkeskommune indicators: gjennomføring and the Vg1 survey.",
            kinds={"polars", "duckdb"},
            metadata={"allow_empty": True},
        ),
        "udir_risk_points": dg.AssetOut(
            group_name="selection",
            description="Udir's rule: risk points, share of possible points, rank, category 1 and 2.",
            kinds={"polars", "duckdb"},
            metadata={"allow_empty": True},
        ),
        "holistic_scores": dg.AssetOut(
            group_name="selection",
            description="The holistic method: shrunken, pooled indicator scores per kommune.",
            kinds={"polars", "duckdb"},
            metadata={"allow_empty": True},
        ),
        "rank_uncertainty": dg.AssetOut(
            group_name="selection",
            description="Composite score, P(among the N weakest), 90 % rank interval, tier, persistence.",
            kinds={"polars", "duckdb"},
            metadata={"allow_empty": True},
        ),
        "sensitivity": dg.AssetOut(
            group_name="selection",
            description="Per kommune and method: share of alternative choices selecting it, and the "
            "choices that change the decision.",
            kinds={"polars", "duckdb"},
            metadata={"allow_empty": True},
        ),
        "candidates": dg.AssetOut(
            group_name="selection",
            description="One row per kommune of the target structure: Udir's rule and the holistic "
            "method side by side, with a plain Norwegian explanation.",
            kinds={"polars", "duckdb"},
        ),
        "fylkeskommune_candidates": dg.AssetOut(
            group_name="selection",
            description="The ranked list of fylkeskommuner.",
            kinds={"polars", "duckdb"},
            metadata={"allow_empty": True},
        ),
    },
)
def selection(
    context: dg.AssetExecutionContext,
    utvalg: UtvalgSettings,
    harmonised_observations: pl.DataFrame,
    kommune_register: pl.DataFrame,
):
    """Run Udir's rule and the holistic method for the configured school year."""
    config = utvalg.selection_config()
    result = run_selection(harmonised_observations, kommune_register, config)
    preview = ["municipality_code", "municipality_name", "udir_category", "holistic_rank", "p_top_n", "tier"]
    listed = result.candidates.filter(
        pl.col("udir_category").is_not_null() | (pl.col("tier") == "klar kandidat")
    )
    context.add_output_metadata(
        {
            "school_year": config.selection.school_year,
            "window": ", ".join(result.window),
            "udir_category_1": int((result.candidates["udir_category"] == 1).sum()),
            "udir_category_2": int((result.candidates["udir_category"] == 2).sum()),
            "klar_kandidat": int((result.candidates["tier"] == "klar kandidat").sum()),
            "grensetilfelle": int((result.candidates["tier"] == "grensetilfelle").sum()),
            "on_a_list": listed.height,
            "top_10": markdown_table(result.candidates.select(preview), 10),
        },
        output_name="candidates",
    )
    context.add_output_metadata(
        {
            "top_10": markdown_table(
                result.udir.select("unit_code", "risk_share", "udir_rank", "udir_category"), 10
            )
        },
        output_name="udir_risk_points",
    )
    context.add_output_metadata(
        {
            "top_10": markdown_table(
                result.county_candidates.select("county_code", "county_name", "holistic_rank", "tier"), 10
            )
        },
        output_name="fylkeskommune_candidates",
    )
    previews = {
        "rank_uncertainty": result.holistic.scores.select(
            "unit_code", "holistic_rank", "p_top_n", "rank_low", "rank_high", "tier", "persistence"
        ),
        "holistic_scores": result.holistic.indicator_scores.sort("score", descending=True),
        "sensitivity": result.sensitivity.filter(pl.col("deciding_choices").is_not_null()),
        "indicator_values": result.municipal_values.group_by("indicator_id", "school_year")
        .agg(pl.len().alias("kommuner"), pl.col("value").null_count().alias("missing"))
        .sort("indicator_id", "school_year"),
    }
    for name, frame in previews.items():
        context.add_output_metadata(
            {"rows": frame.height, "top_10": markdown_table(frame, 10)}, output_name=name
        )
    return (
        result.municipal_values,
        result.school_values,
        result.county_values,
        result.udir,
        result.holistic.indicator_scores,
        result.holistic.scores,
        result.sensitivity,
        result.candidates,
        result.county_candidates,
    )


@dg.asset(group_name="outputs", kinds={"csv", "parquet"})
def candidate_files(
    context: dg.AssetExecutionContext,
    utvalg: UtvalgSettings,
    candidates: pl.DataFrame,
    fylkeskommune_candidates: pl.DataFrame,
    raw_files: pl.DataFrame,
) -> dg.MaterializeResult:
    """candidates.csv, fylkeskommuner.csv and their parquet copies in reports/<school-year>/."""
    config = utvalg.selection_config()
    out = Path(utvalg.reports_dir) / config.selection.school_year
    provenance = provenance_document(
        raw_files, {"settings": utvalg.model_dump(), "selection": config.as_dict()}
    )
    written = write_candidate_files(candidates, fylkeskommune_candidates, out, provenance)
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(out)),
            "files": dg.MetadataValue.json({p.name: p.stat().st_size for p in written}),
        }
    )
