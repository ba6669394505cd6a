"""Validation on known truth: recall of the truly weakest 30, small kommuner among false positives,
and calibration (Brier score, reliability), for the raw composite, Udir's rule and the holistic method,
over several generated samples.

Usage: .venv/bin/python scripts/evaluate_methods.py --seeds 1 2 3 4 5
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import polars as pl

from pipelines.config import load_config
from pipelines.flow import materialise
from pipelines.sample.generate import generate_sample
from pipelines.selection.evaluate import evaluate
from pipelines.settings import REFERENCE_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--year", default="2025-26")
    args = parser.parse_args()
    config = load_config().with_year(args.year)
    metrics, reliability = [], []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as folder:
            raw = Path(folder) / "raw"
            generate_sample(seed, raw, REFERENCE_DIR)
            truth = pl.read_csv(raw / "truth.csv", schema_overrides={"municipality_code": pl.String})
            # The graph up to the selection tables, as `utvalg run` computes them.
            run = materialise(
                Path(folder) / "warehouse.duckdb",
                ["rank_uncertainty", "udir_risk_points"],
                raise_on_error=True,
                raw_dir=str(raw),
                school_year=args.year,
            )
            evaluation = evaluate(
                run.table("indicator_values"),
                run.table("school_indicator_values"),
                run.table("udir_risk_points"),
                run.table("rank_uncertainty"),
                config,
                truth,
            )
        metrics.append(evaluation.metrics.with_columns(pl.lit(seed).alias("seed")))
        reliability.append(evaluation.reliability.with_columns(pl.lit(seed).alias("seed")))
        print(f"seed {seed}:\n{evaluation.metrics}")
    all_metrics = pl.concat(metrics)
    with pl.Config(tbl_rows=50, tbl_cols=20, float_precision=3):
        print("\nmean over seeds:")
        print(all_metrics.group_by("method").agg(pl.exclude("seed").mean()).sort("method"))
        print("\nholistic reliability, pooled over seeds:")
        print(
            pl.concat(reliability)
            .group_by("bin")
            .agg(
                (pl.col("predicted") * pl.col("kommuner")).sum() / pl.col("kommuner").sum(),
                (pl.col("observed") * pl.col("kommuner")).sum() / pl.col("kommuner").sum(),
                pl.col("kommuner").sum(),
            )
            .sort("bin")
        )


if __name__ == "__main__":
    main()
