"""Why a unit is where it is: the indicators and years that drive its position, in numbers and in one
plain Norwegian sentence."""

from __future__ import annotations

import polars as pl

from pipelines.config import Config
from pipelines.vocabulary import (
    CLEAR_CANDIDATE,
    CLEARLY_NOT,
    NOT_ASSESSED,
    UDIR_TIED_AT_CUTOFF,
    UDIR_TOO_LITTLE_DATA,
)

YEARS_SCHEMA = pl.Schema(
    {"unit_code": pl.String(), "indicator_id": pl.String(), "years": pl.Int64(), "years_worse": pl.Int64()}
)


def published_years(published: pl.DataFrame, level: str, config: Config) -> pl.DataFrame:
    """Per unit of ``level`` × indicator: the school years with a published figure (``years``), and how
    many of them are worse than the published national figure (``years_worse``). ``published``: the
    ``published_figures`` table. Counted on shown figures only, so that a count beside the charts tells
    nothing about a hidden figure, not even on which side of the country it lies."""
    worse_sign = {i.id: -1.0 if i.higher_is_better else 1.0 for i in config.indicators}
    national = published.filter(pl.col("level") == "national").select(
        "indicator_id", "school_year", pl.col("value").alias("national")
    )
    shown = published.filter(
        (pl.col("level") == level) & ~pl.col("hidden") & pl.col("value").is_not_null()
    ).join(national.filter(pl.col("national").is_not_null()), on=["indicator_id", "school_year"])
    sign = pl.col("indicator_id").replace_strict(worse_sign, return_dtype=pl.Float64)
    return (
        shown.group_by("unit_code", "indicator_id")
        .agg(
            pl.len().alias("years"),
            ((pl.col("value") - pl.col("national")) * sign > 0).sum().alias("years_worse"),
        )
        .cast(YEARS_SCHEMA)
        .sort("unit_code", "indicator_id")
    )


def drivers(
    indicator_scores: pl.DataFrame, years: pl.DataFrame, config: Config, top: int = 3
) -> pl.DataFrame:
    """The ``top`` indicators pulling each unit toward the weak end (largest positive scores): as words
    for the sentence (``driver_texts``) and as numbers for the lists (``drivers``: pooled score in SD and
    years worse). ``years``: :func:`published_years`; the pooled score is the model's, the years are the
    published figures' (a unit whose figures are all hidden has none)."""
    labels = {i.id: i.label for i in config.indicators}
    counted = pl.col("years") > 0
    return (
        indicator_scores.filter(pl.col("score") > 0)
        .drop("years", "years_worse")
        .join(years, on=["unit_code", "indicator_id"], how="left")
        .with_columns(pl.col("years", "years_worse").fill_null(0))
        .sort(["unit_code", "score", "indicator_id"], descending=[False, True, False])
        .group_by("unit_code", maintain_order=True)
        .head(top)
        .with_columns(
            pl.col("indicator_id").replace_strict(labels, default=pl.col("indicator_id")).alias("label")
        )
        .group_by("unit_code", maintain_order=True)
        .agg(
            pl.when(counted)
            .then(pl.format("{} ({} av {} år svakere enn landet)", "label", "years_worse", "years"))
            .otherwise(pl.format("{} (ingen publiserte tall)", "label"))
            .alias("driver_texts"),
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


def _listing(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " og " + items[-1] if len(items) > 1 else "".join(items)


def disagreement(row: dict[str, object], config: Config) -> str | None:
    """Why Udir's rule and the holistic method disagree about a kommune (one ``candidates`` row), in one
    sentence in bokmål; None where they do not. They disagree when one puts the kommune on the list and
    the other clearly not (a borderline case is the holistic method's own doubt, not a disagreement),
    or when one of them cannot assess it and the other lists it."""
    name = row["municipality_name"]
    category = row["udir_category"]
    tier = row["tier"] or NOT_ASSESSED
    top_n = config.holistic.top_n
    p = None if row["p_top_n"] is None else _percent(float(row["p_top_n"]))  # type: ignore[arg-type]
    if category is not None and tier == NOT_ASSESSED:
        return (
            f"Udirs regel setter {name} i kategori {category} på de tallene som finnes, mens den helhetlige "
            "vurderingen har for få tall for kommunen til å vurdere den."
        )
    if category == 1 and tier == CLEARLY_NOT:
        return (
            f"Udirs regel setter {name} i kategori 1 fordi mange av tallene er svakere enn landet eller "
            "den absolutte grensen, uansett hvor lite svakere og hvor få elever de bygger på, mens den "
            "helhetlige vurderingen veier hvert tall etter hvor usikkert det er og gir kommunen bare "
            f"{p} sannsynlighet for å være blant de {top_n} svakeste."
        )
    if category == 2 and tier == CLEARLY_NOT:
        return (
            f"Udirs regel setter {name} i kategori 2 fordi kommunens egne skoler er svært ulike og minst én "
            "skole er blant de svakeste i landet, mens den helhetlige vurderingen ser på kommunens samlede "
            f"nivå og gir den bare {p} sannsynlighet for å være blant de {top_n} svakeste."
        )
    if row["udir_status"] == UDIR_TOO_LITTLE_DATA and tier != NOT_ASSESSED and tier != CLEARLY_NOT:
        return (
            f"Udirs regel rangerer ikke {name} fordi kommunen har tall for færre enn "
            f"{_percent(config.selection.minimum_possible_share)} av de mulige risikopoengene, mens den "
            "helhetlige vurderingen bruker tallene som finnes og fyller ut de som mangler fra kommunens "
            f"andre tall, med større usikkerhet, og gir {p} sannsynlighet for å være blant de {top_n} "
            "svakeste."
        )
    if category is None and tier == CLEAR_CANDIDATE:
        outside = [i.label for i in config.for_owner("kommune") if not i.udir_rule]
        extra = (
            f" og tar også med {_listing([f'«{label}»' for label in outside])}, som regelen ikke har"
            if outside
            else ""
        )
        tied = (
            ", og kommunen har like stor andel som den siste i kategori 1, men står etter den på "
            "kommunenummer"
            if row["udir_status"] == UDIR_TIED_AT_CUTOFF
            else ""
        )
        return (
            f"Den helhetlige vurderingen gir {name} {p} sannsynlighet for å være blant de {top_n} svakeste "
            f"fordi den teller hvor mye svakere tallene er{extra}, mens Udirs regel bare teller om hvert "
            f"tall er svakere enn landet eller grensen, og det gir for lite andel risikopoeng til kategori 1"
            f"{tied}."
        )
    return None
