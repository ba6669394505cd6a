"""The product's vocabulary, in one place: sources, levels, areas, owners, the holistic tiers, what "on
the list" means, and the Norwegian words a governor reads for each of them.

Every stage and every output takes these from here; none spells a tier or a label itself.
"""

from __future__ import annotations

import re
import unicodedata

import polars as pl

SOURCES = ("nasjonale_prover", "elevundersokelsen", "grunnskolepoeng", "gjennomforing")
SOURCE_LABELS = {
    "nasjonale_prover": "nasjonale prøver",
    "elevundersokelsen": "Elevundersøkelsen",
    "grunnskolepoeng": "grunnskolepoeng",
    "gjennomforing": "gjennomføring",
}
LEVELS = ("national", "county", "municipality", "school")
AREAS = ("laeringsresultater", "laeringsmiljo", "gjennomforing")
AREA_LABELS = {
    "laeringsresultater": "læringsresultater",
    "laeringsmiljo": "læringsmiljø",
    "gjennomforing": "gjennomføring",
}
OWNERS = ("kommune", "fylkeskommune")

# The holistic method's tiers, strongest first, and the word for a unit with too few figures.
CLEAR_CANDIDATE = "klar kandidat"
BORDERLINE = "grensetilfelle"
CLEARLY_NOT = "klart ikke"
TIERS = (CLEAR_CANDIDATE, BORDERLINE, CLEARLY_NOT)
NOT_ASSESSED = "ingen vurdering"
# How often the statements about the set (the head jointly among the N weakest, the tail of which none
# is) are made to hold; ``pipelines/selection/ranks.py`` makes them so.
JOINT_CONFIDENCE = 0.90


def joint_statement(top_n: int) -> pl.Expr:
    """The statement about the set, from the booleans ``sure_candidate`` / ``sure_not_candidate``: the
    kommuner that are jointly among the N weakest, and those of which none is, with the confidence the
    statements are made to hold with."""
    confidence = f"samlet {round(JOINT_CONFIDENCE * 100)} %"
    return (
        pl.when(pl.col("sure_candidate"))
        .then(pl.lit(f"blant de {top_n} svakeste ({confidence})"))
        .when(pl.col("sure_not_candidate"))
        .then(pl.lit(f"ikke blant de {top_n} svakeste ({confidence})"))
        .otherwise(None)
    )


# A kommune's place in Udir's rule: ranked; ranked with the same share of risk points as the last of
# category 1 (the order among them is by kommune code, not by the rule); or not ranked, because its
# possible risk points are below ``minimum_possible_share``.
UDIR_RANKED = "rangert"
UDIR_TIED_AT_CUTOFF = "lik andel ved grensen"
UDIR_TOO_LITTLE_DATA = "for lite data"
UDIR_STATUSES = (UDIR_RANKED, UDIR_TIED_AT_CUTOFF, UDIR_TOO_LITTLE_DATA)

# On the list: in one of Udir's categories, or a clear candidate or borderline case of the holistic
# method. This is what the governors review, the dashboard lists and `utvalg select` counts. A kommune
# only: a fylkeskommune that applied is reviewed beside the list (two-digit number), and its tier is
# among fylkeskommuner.
ON_LIST = (pl.col("municipality_code").str.len_chars() == 4) & (
    pl.col("udir_category").is_not_null() | pl.col("tier").is_in([CLEAR_CANDIDATE, BORDERLINE])
)

# The order a governor reviews the list in: category 1, clear candidates, category 2, borderline.
PRIORITY = (
    pl.when(pl.col("udir_category") == 1)
    .then(1)
    .when(pl.col("tier") == CLEAR_CANDIDATE)
    .then(2)
    .when(pl.col("udir_category") == 2)
    .then(3)
    .when(ON_LIST)
    .then(4)
    .otherwise(5)
)


# What each value of PRIORITY means, for the legend a governor reads.
PRIORITY_LABELS = {
    1: "Udir-kategori 1",
    2: f"{CLEAR_CANDIDATE} i den helhetlige vurderingen, ikke i Udir-kategori 1",
    3: "Udir-kategori 2",
    4: f"{BORDERLINE} i den helhetlige vurderingen, ikke i noen Udir-kategori",
    5: "søker om oppfølging, ikke på den statistiske listen",
}

# The governor's review of a listed kommune: the register's column, the workbook's heading and what to
# enter. The workbooks are written from these and the importer reads them back by the same headings.
RECOMMENDATIONS = ("anbefales", "anbefales ikke", "usikker")
REVIEW_FIELDS = {
    "recommendation": ("Anbefaling", f"velg fra listen: {' / '.join(RECOMMENDATIONS)}"),
    "office_priority": (
        "Prioritet i embetet",
        "embetets prioritering av kommunene det anbefaler: 1 er høyest, et helt tall",
    ),
    "justification": ("Begrunnelse", "fritekst: hva lokalkunnskapen sier om kommunen"),
    "contact": ("Kontaktperson", "navn på saksbehandleren hos statsforvalteren"),
    "review_date": ("Dato", "datoen vurderingen ble gjort (dd.mm.åååå)"),
}


def slug(text: str) -> str:
    """``Støtte fra lærerne (prosent)`` → ``stotte_fra_laererne``."""
    text = re.sub(r"\s*\((prosent|snitt)\)\s*$", "", text.strip(), flags=re.IGNORECASE)
    text = text.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


# Oppfølgingsordningen: a kommune's place in the scheme when a list is made (null: neither), and the
# statuses of the review as Udir follows it (:mod:`pipelines.review.status`).
IN_SCHEME = "i ordningen"
RECENTLY_OUT = "nylig ute"
SCHEME_STATUSES = (IN_SCHEME, RECENTLY_OUT)
CANDIDATE = "kandidat"
APPLICANT = "søker"
NOT_REVIEWED = "ikke vurdert"
RECOMMENDED = "anbefalt"
NOT_RECOMMENDED = "ikke anbefalt"
UNSURE = "usikker"
# Udir's decision on a listed kommune or an applicant: offered a place in the scheme, or not.
DECISIONS = ("tilbud", "ikke tilbud")
