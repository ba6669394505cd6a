"""The scheme's register tables: historic cohorts, applications and Udir's decisions, read from the
lists Udir keeps (:mod:`pipelines.review.records`), and the cohorts a run reads back.

- ``cohorts`` (``utvalg scheme import FILE``): columns ``kommunenummer`` and ``første skoleår`` (the
  first school year of the kommune's support, e.g. ``2021-22``). A number of an earlier kommune
  structure (the one in force when that school year began) is mapped to today's kommune
  (:mod:`pipelines.reference.mapping`): a recode or a merge to its one successor; a **split** (1507
  Ålesund → Ålesund and Haram) to every successor, since the support went to the whole former kommune.
  The original number and the kind of link are kept. The whole table is one list: the latest import is
  in force.
- ``cohort_lists`` (``utvalg scheme import FILE --lists LISTS``): the lists the cohorts were chosen
  from, every ranked kommune with its rank: ``første skoleår``, ``kommunenummer``, ``rangering``.
  Mapped to today's kommuner as the cohorts are; of former kommuner merged into one, today's keeps the
  best (lowest) rank. The follow-up's discontinuity needs these ranks: a list remade from today's
  figures is not the one the cohort was chosen from. The latest import is in force.
- ``applications`` (``utvalg applications import FILE``): ``eier`` (a kommune's four-digit number or a
  fylkeskommune's two-digit one, today's structure), ``dato`` (when the owner applied) and
  ``begrunnelse`` (a short reason, at most :data:`MAX_REASON` characters). Every date must fall in the
  school year the list is for. One list per school year.
- ``decisions`` (``utvalg decide FILE``): ``skoleår``, ``kommunenummer`` and ``beslutning`` (``tilbud``
  or ``ikke tilbud``), or the summary workbook returned with its decision column filled in
  (:mod:`pipelines.review.summary`). Every kommune must be on the year's published list or an applicant;
  a fylkeskommune (two digits) must have applied. One list per school year; an owner offered a place
  starts its support the next school year: a fylkeskommune too, with the same periods, since the scheme
  is for school owners.
- ``decided_lists`` (written by ``utvalg decide``): the published list the decided cohort was chosen
  from, in the shape of ``cohort_lists``. It outranks an imported list for the same cohort: it is the
  list Udir decided on.
"""

from __future__ import annotations

import polars as pl

from pipelines.reference.registers import STRUCTURES, RegisterError, nominal_structure
from pipelines.register.store import Register
from pipelines.review.records import (
    RecordError,
    Row,
    date,
    latest,
    municipality_code,
    no_duplicates,
    owner_code,
    read_rows,
    record,
    school_year,
    school_year_of,
    sha256,
)
from pipelines.selection.scheme import (
    COHORT_LIST_SCHEMA,
    COHORT_SCHEMA,
    next_school_year,
    ranked_without,
    school_year_from,
    start_of,
)
from pipelines.vocabulary import DECISIONS

COHORTS, LISTS, APPLICATIONS, DECISIONS_TABLE = "cohorts", "cohort_lists", "applications", "decisions"
DECIDED_LISTS = "decided_lists"
HISTORIC, DECIDED = "historisk", "besluttet"
OFFERED = DECISIONS[0]
MAX_REASON = 300
EARLIEST_COHORT = "2009-10"  # Veilederkorpset began in 2009

COHORT_COLUMNS = ("kommunenummer", "første skoleår")
LIST_COLUMNS = ("første skoleår", "kommunenummer", "rangering")
APPLICATION_COLUMNS = ("eier", "dato", "begrunnelse")
DECISION_COLUMNS = ("skoleår", "kommunenummer", "beslutning")

COHORT_RECORD = {
    "municipality_code": pl.String,
    "first_school_year": pl.String,
    "source_code": pl.String,
    "link": pl.String,
    "file_name": pl.String,
    "file_sha256": pl.String,
    "source_line": pl.String,
}
LIST_RECORD = {
    "first_school_year": pl.String,
    "municipality_code": pl.String,
    "rank": pl.UInt32,
    "source_code": pl.String,
    "link": pl.String,
    "file_name": pl.String,
    "file_sha256": pl.String,
    "source_line": pl.String,
}
APPLICATION_RECORD = {
    "school_year": pl.String,
    "owner_code": pl.String,
    "owner_kind": pl.String,
    "application_date": pl.Date,
    "reason": pl.String,
    "file_name": pl.String,
    "file_sha256": pl.String,
    "source_line": pl.String,
}
DECISION_RECORD = {
    "school_year": pl.String,
    "municipality_code": pl.String,
    "decision": pl.String,
    "file_name": pl.String,
    "file_sha256": pl.String,
    "source_line": pl.String,
}


def _structure_of(first_school_year: str) -> int:
    """The kommune structure in force when the school year began (the oldest known before 2013)."""
    try:
        return nominal_structure(first_school_year)
    except RegisterError:
        return min(STRUCTURES)


def _first_school_year(row: Row, file: str) -> str:
    first = school_year(row.cells["første skoleår"], row.where("første skoleår"), file)
    if first < EARLIEST_COHORT:
        raise RecordError(
            file, row.where("første skoleår"), f"{first} is before the scheme began ({EARLIEST_COHORT})"
        )
    return first


def _today(
    row: Row, first: str, file: str, mapping: pl.DataFrame, target_codes: set[str]
) -> list[tuple[str, str]]:
    """Today's kommuner (and the kind of link) for the row's kommune number of ``first``'s structure."""
    code = municipality_code(row.cells["kommunenummer"], row.where("kommunenummer"), file)
    row.cells["kommunenummer"] = code
    links = mapping.filter(
        (pl.col("source_code") == code) & (pl.col("source_structure") == _structure_of(first))
    )
    if links.is_empty() and code in target_codes:
        return [(code, "unchanged")]
    if links.is_empty():
        raise RecordError(
            file, row.where("kommunenummer"), f"{code} was not a kommune number in {first} nor is one today"
        )
    return list(links.select("target_code", "kind").unique().sort("target_code").iter_rows())


def _origin(file: str, data: bytes) -> tuple[str, str]:
    return file, sha256(data)


def _mapped(
    row: Row,
    first: str,
    origin: tuple[str, str],
    mapping: pl.DataFrame,
    target_codes: set[str],
    fields: dict[str, object],
) -> list[dict[str, object]]:
    """One register record per today's kommune of the row's kommune number: ``fields``, the mapping
    (the number in the file and the kind of link) and where the row came from."""
    file, file_sha256 = origin
    return [
        {
            **fields,
            "municipality_code": target,
            "source_code": row.cells["kommunenummer"],
            "link": kind,
            "file_name": file,
            "file_sha256": file_sha256,
            "source_line": f"line {row.line}",
        }
        for target, kind in _today(row, first, file, mapping, target_codes)
    ]


def cohort_rows(data: bytes, file: str, mapping: pl.DataFrame, target_codes: set[str]) -> pl.DataFrame:
    """The historic cohorts in a list, mapped to today's kommuner. ``mapping``: the kommune mapping to
    the target structure; ``target_codes``: the target structure's kommuner."""
    rows = read_rows(data, file, COHORT_COLUMNS)
    origin = _origin(file, data)
    records = []
    for row in rows:
        first = _first_school_year(row, file)
        records += _mapped(row, first, origin, mapping, target_codes, {"first_school_year": first})
    no_duplicates(rows, ("kommunenummer", "første skoleår"), "kommunenummer", file)
    # Two former kommuner merged into one with the same first school year are one cohort of today's.
    return (
        pl.DataFrame(records, schema=COHORT_RECORD)
        .sort("municipality_code", "first_school_year", "source_code")
        .unique(["municipality_code", "first_school_year"], keep="first", maintain_order=True)
    )


def list_rows(data: bytes, file: str, mapping: pl.DataFrame, target_codes: set[str]) -> pl.DataFrame:
    """The lists the cohorts were chosen from, every ranked kommune, mapped to today's kommuner."""
    rows = read_rows(data, file, LIST_COLUMNS)
    origin = _origin(file, data)
    records = []
    for row in rows:
        first = _first_school_year(row, file)
        rank = row.cells["rangering"]
        if not rank.isdigit() or int(rank) < 1:
            raise RecordError(file, row.where("rangering"), f"{rank!r} is not a rank (1, 2, 3, …)")
        fields = {"first_school_year": first, "rank": int(rank)}
        records += _mapped(row, first, origin, mapping, target_codes, fields)
    no_duplicates(rows, ("første skoleår", "kommunenummer"), "kommunenummer", file)
    no_duplicates(rows, ("første skoleår", "rangering"), "rangering", file)
    return (
        pl.DataFrame(records, schema=LIST_RECORD)
        .sort("first_school_year", "municipality_code", "rank")
        .unique(["first_school_year", "municipality_code"], keep="first", maintain_order=True)
    )


def application_rows(data: bytes, file: str, year: str, kommuner: set[str], fylker: set[str]) -> pl.DataFrame:
    """The applications for school year ``year`` in a list; owners are today's kommuner and fylker."""
    rows = read_rows(data, file, APPLICATION_COLUMNS)
    records = []
    for row in rows:
        owner = row.cells["eier"]
        if owner.isdigit() and len(owner) in (3, 4) and owner.zfill(4) in kommuner:
            owner, kind = owner.zfill(4), "kommune"
        elif owner.isdigit() and len(owner) in (1, 2) and owner.zfill(2) in fylker:
            owner, kind = owner.zfill(2), "fylkeskommune"
        else:
            raise RecordError(
                file,
                row.where("eier"),
                f"{owner!r} is neither a kommune (four digits) nor a fylkeskommune (two digits) of today",
            )
        row.cells["eier"] = owner
        day = date(row.cells["dato"], row.where("dato"), file)
        if school_year_of(day) != year:
            raise RecordError(
                file,
                row.where("dato"),
                f"{day:%d.%m.%Y} is in school year {school_year_of(day)}; the list is for {year}",
            )
        reason = row.cells["begrunnelse"]
        if not reason or len(reason) > MAX_REASON or "\n" in reason:
            raise RecordError(
                file,
                row.where("begrunnelse"),
                f"expected a short reason on one line (1 to {MAX_REASON} characters), found {len(reason)}",
            )
        records.append(
            {
                "school_year": year,
                "owner_code": owner,
                "owner_kind": kind,
                "application_date": day,
                "reason": reason,
                "file_name": file,
                "file_sha256": sha256(data),
                "source_line": f"line {row.line}",
            }
        )
    no_duplicates(rows, ("eier",), "eier", file)
    return pl.DataFrame(records, schema=APPLICATION_RECORD)


def decision_frame(
    decisions: list[tuple[str, str, str]], year: str, file: str, data: bytes, listed: dict[str, str]
) -> pl.DataFrame:
    """Checked decisions (kommune, decision, where in the file) → register rows. ``listed``: the
    kommuner Udir may decide on (the year's list and applicants), number → name."""
    seen: dict[str, str] = {}
    for code, decision, where in decisions:
        if code not in listed:
            owner = "fylkeskommune" if len(code) == 2 else "kommune"
            raise RecordError(
                file,
                where,
                f"{owner} {code} is neither on the {year} list nor an applicant; nothing recorded",
            )
        if decision not in DECISIONS:
            raise RecordError(file, where, f"{decision!r} is not a decision: write {' or '.join(DECISIONS)}")
        if code in seen:
            raise RecordError(file, where, f"kommune {code} is decided twice (also at {seen[code]})")
        seen[code] = where
    if not decisions:
        raise RecordError(file, "", "no decision in the file")
    return pl.DataFrame(
        [
            {
                "school_year": year,
                "municipality_code": code,
                "decision": decision,
                "file_name": file,
                "file_sha256": sha256(data),
                "source_line": where,
            }
            for code, decision, where in decisions
        ],
        schema=DECISION_RECORD,
    )


def decision_rows(data: bytes, file: str, year: str, listed: dict[str, str]) -> pl.DataFrame:
    """Udir's decisions for ``year`` in a CSV list."""
    rows = read_rows(data, file, DECISION_COLUMNS)
    decisions = []
    for row in rows:
        found = school_year(row.cells["skoleår"], row.where("skoleår"), file)
        if found != year:
            raise RecordError(file, row.where("skoleår"), f"school year {found}; the list is for {year}")
        code = owner_code(row.cells["kommunenummer"], row.where("kommunenummer"), file)
        decisions.append((code, row.cells["beslutning"].lower(), row.where("kommunenummer")))
    return decision_frame(decisions, year, file, data, listed)


def import_cohorts(register: Register, rows: pl.DataFrame) -> int | None:
    """Record the historic cohorts (the new version, or None when the list in force is the same)."""
    return record(register, COHORTS, rows)


def import_lists(register: Register, rows: pl.DataFrame) -> int | None:
    """Record the lists the cohorts were chosen from (the new version, or None when the same)."""
    return record(register, LISTS, rows)


def decided_list_rows(candidates: pl.DataFrame, year: str, file: str, data: bytes) -> pl.DataFrame:
    """The list the cohort decided on for ``year`` is chosen from, as published in ``candidates`` (the
    file ``file`` with content ``data``): Udir's rule without the kommuner in the scheme or recently
    out, ranked as :func:`pipelines.selection.scheme.cohort_list` remakes it, the kommuner today's."""
    set_aside = candidates.filter(pl.col("scheme_status").is_not_null())["municipality_code"]
    ranked = ranked_without(candidates, set_aside, "municipality_code")
    return ranked.select(
        pl.lit(next_school_year(year)).alias("first_school_year"),
        "municipality_code",
        pl.col("rank").cast(pl.UInt32),
        pl.col("municipality_code").alias("source_code"),
        pl.lit("unchanged").alias("link"),
        pl.lit(file).alias("file_name"),
        pl.lit(sha256(data)).alias("file_sha256"),
        pl.format("udir_rank {}", pl.col("udir_rank")).alias("source_line"),
    ).cast(pl.Schema(LIST_RECORD))


def import_decided_list(register: Register, rows: pl.DataFrame) -> int | None:
    """Record the list a decided cohort was chosen from (one version per first school year)."""
    return record(register, DECIDED_LISTS, rows, ("first_school_year",))


def _as_list(found: pl.DataFrame) -> pl.DataFrame:
    if found.is_empty():
        return pl.DataFrame(schema=COHORT_LIST_SCHEMA)
    return found.select(
        "first_school_year", "municipality_code", "rank", pl.lit(None, pl.Float64).alias("risk_share")
    ).cast(COHORT_LIST_SCHEMA)


def recorded_lists(register: Register) -> pl.DataFrame:
    """The lists in force, in the shape of :data:`pipelines.selection.scheme.COHORT_LIST_SCHEMA` (no
    share of risk points: the rank is what was recorded): each decided year's list, and the imported
    historic lists for the other years."""
    decided, historic = (
        _as_list(latest(register.read(DECIDED_LISTS), ("first_school_year",))),
        _as_list(latest(register.read(LISTS))),
    )
    # A year Udir decided on in this product keeps the list it published, whatever a later import says.
    return pl.concat([decided, historic.join(decided, on="first_school_year", how="anti")]).sort(
        "first_school_year", "rank", "municipality_code"
    )


def import_applications(register: Register, rows: pl.DataFrame) -> int | None:
    return record(register, APPLICATIONS, rows, ("school_year",))


def import_decisions(register: Register, rows: pl.DataFrame) -> int | None:
    return record(register, DECISIONS_TABLE, rows, ("school_year",))


def cohorts(register: Register, up_to: str) -> pl.DataFrame:
    """Every cohort whose support began by school year ``up_to``: the historic list in force and each
    year's decision in force (those offered a place start the school year after)."""
    historic = latest(register.read(COHORTS))
    decided = latest(register.read(DECISIONS_TABLE), ("school_year",))
    frames = [pl.DataFrame(schema=COHORT_SCHEMA)]
    if not historic.is_empty():
        frames.append(
            historic.select("municipality_code", "first_school_year", pl.lit(HISTORIC).alias("origin"))
        )
    if not decided.is_empty():
        offered = decided.filter(pl.col("decision") == OFFERED)
        frames.append(
            offered.select(
                "municipality_code",
                school_year_from(start_of(pl.col("school_year")) + 1).alias("first_school_year"),
                pl.lit(DECIDED).alias("origin"),
            )
        )
    return (
        pl.concat(frames)
        .filter(pl.col("first_school_year") <= up_to)
        .unique()
        .sort("municipality_code", "first_school_year", "origin")
    )


def applications(register: Register, year: str) -> pl.DataFrame:
    """The applications in force for school year ``year``: owner, kind, date and reason."""
    columns = ["owner_code", "owner_kind", "application_date", "reason"]
    found = latest(register.read(APPLICATIONS), ("school_year",))
    if found.is_empty():
        return pl.DataFrame(schema={c: APPLICATION_RECORD[c] for c in columns})
    return found.filter(pl.col("school_year") == year).select(columns).sort("owner_code")
