"""Derive the school structure the sample generator uses from Udir's real 2024-25 national-test
exports (NLOD 2.0): per kommune, its schools and their 5th- and 8th-grade participant counts (empty
where Udir suppressed them). Organisation numbers and names are not kept: the generator invents them.

Usage: .venv/bin/python scripts/derive_school_structure.py  (writes data/reference/skolestruktur_2024-25.csv)
"""

from __future__ import annotations

import polars as pl

from pipelines.ingest.portal_format import read_export
from pipelines.settings import PROJECT_ROOT, REFERENCE_DIR

SAMPLES = PROJECT_ROOT / "tests" / "fixtures" / "udir-export-samples"
FILES = {
    "5": SAMPLES / "2024-25_20260224-1157_Nasjonale_proever_5._trinn.csv",
    "8": SAMPLES / "2024-25_20260224-1156_Nasjonale_proever_ungdomstrinn.csv",
}


def main() -> None:
    frames = []
    for grade, path in FILES.items():
        export = read_export(path)
        lesing = export.cells.filter(
            (pl.col("measure") == "Antall elever deltatt") & (pl.col("dimensions").list.get(0) == "Lesing")
        ).select("source_line", pl.col("value").cast(pl.Int64).alias("pupils"))
        rows = export.rows.join(lesing, on="source_line").filter(pl.col("EnhetNivaa").is_in(["3", "4"]))
        frames.append(
            rows.select(
                pl.lit(grade).alias("grade"),
                pl.col("Kommunekode").alias("municipality_code"),
                pl.when(pl.col("EnhetNivaa") == "3")
                .then(pl.lit("kommune"))
                .otherwise(pl.lit("skole"))
                .alias("unit"),
                "pupils",
            )
        )
    table = pl.concat(frames).sort("grade", "municipality_code", "unit", "pupils", nulls_last=True)
    table.write_csv(REFERENCE_DIR / "skolestruktur_2024-25.csv")
    print(table.group_by("grade", "unit").agg(pl.len(), pl.col("pupils").null_count().alias("suppressed")))


if __name__ == "__main__":
    main()
