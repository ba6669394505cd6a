"""Why a unit is where it is: the indicators and years that drive its position, in numbers and in one
plain Norwegian sentence."""

from __future__ import annotations

import polars as pl

from pipelines.config import Config
from pipelines.vocabulary import UDIR_TOO_LITTLE_DATA


def drivers(indicator_scores: pl.DataFrame, config: Config, top: int = 3) -> pl.DataFrame:
    """The ``top`` indicators pulling each unit toward the weak end (largest positive scores): as words
    for the sentence (``driver_texts``) and as numbers for the lists (``drivers``: pooled score in SD and
    years worse)."""
    labels = {i.id: i.label for i in config.indicators}
    return (
        indicator_scores.filter(pl.col("score") > 0)
        .sort(["unit_code", "score"], descending=[False, True])
        .group_by("unit_code", maintain_order=True)
        .head(top)
        .with_columns(
            pl.col("indicator_id").replace_strict(labels, default=pl.col("indicator_id")).alias("label")
        )
        .group_by("unit_code", maintain_order=True)
        .agg(
            pl.format("{} ({} av {} år svakere enn landet)", "label", "years_worse", "years").alias(
                "driver_texts"
            ),
            pl.format(
                "{}: {} SD ({}/{} år)", "indicator_id", pl.col("score").round(2), "years_worse", "years"
            )
            .str.join("; ")
            .alias("drivers"),
        )
    )


def _percent(value: float) -> str:
    return f"{round(value * 100):d} %"


def sentence(
    name: str,
    tier: str,
    p_top_n: float,
    rank_low: int,
    rank_high: int,
    top_n: int,
    driver_texts: list[str] | None,
    udir_category: int | None,
    udir_status: str | None,
) -> str:
    """One sentence in bokmål for a governor. ``udir_status`` None: Udir's rule does not apply (the
    fylkeskommuner), and the sentence says nothing of it."""
    if driver_texts:
        if len(driver_texts) > 1:
            listed = ", ".join(driver_texts[:-1]) + " og " + driver_texts[-1]
        else:
            listed = driver_texts[0]
        why = f"svakest på {listed}"
    else:
        why = "ikke svakere enn landet på noen indikator samlet over perioden"
    if udir_status is None:
        udir = ""
    elif udir_category:
        udir = f"; Udirs regel: kategori {udir_category}"
    elif udir_status == UDIR_TOO_LITTLE_DATA:
        udir = "; Udirs regel: for lite data til å rangeres"
    else:
        udir = "; ikke på Udirs liste"
    return (
        f"{name} er {tier}: {why}. Sannsynligheten for å være blant de {top_n} svakeste er "
        f"{_percent(p_top_n)} (rangering {rank_low}–{rank_high} med 90 % sikkerhet){udir}."
    )
