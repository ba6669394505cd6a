"""The selection configuration (``utvalg.toml``): read, validated with clear errors, and typed."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pipelines.settings import PROJECT_ROOT
from pipelines.vocabulary import AREAS, OWNERS, SOURCES

DEFAULT_CONFIG = PROJECT_ROOT / "utvalg.toml"
# The holistic method's estimands (:attr:`Holistic.estimand`).
ESTIMANDS = ("kommune_and_schools", "kommune_only")
SECTIONS = ("selection", "holistic", "indicator", "scheme", "followup")


class ConfigError(ValueError):
    """The configuration file is wrong; the message names the file, the entry and what was expected."""


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    owner: str
    source: str
    indicator: str
    grade: str
    area: str
    higher_is_better: bool
    udir_rule: bool
    subject: str | None = None
    absolute_limit: float | None = None
    risk_point_weight: int = 1
    pupil_sd: float | None = None
    # An indicator published per kommune only, measured on the pupils of another indicator's schools
    # (fullført: the tenth graders grunnskolepoeng is measured on): the holistic method takes that one's
    # school shares for it.
    same_pupils_as: str | None = None


@dataclass(frozen=True)
class Selection:
    school_year: str
    window_years: int
    category_1_count: int
    category_2_max: int
    category_2_spread: float
    category_2_worst_school_share: float
    minimum_pupils: int
    # Udir's rule ranks a kommune only when its possible risk points are at least this share of those
    # possible with every rule indicator-year the country has figures for; below it: "for lite data".
    minimum_possible_share: float = 0.5
    # Run on the data there is when a source has no figures for a year of the window (the outputs then
    # say what is missing); by default such a run stops and names the source and years.
    allow_missing_data: bool = False
    minimum_pupils_override_reason: str | None = None


@dataclass(frozen=True)
class Holistic:
    top_n: int
    fylkeskommune_top_n: int
    draws: int
    seed: int
    shrinkage: bool
    candidate_probability: float
    not_candidate_probability: float
    area_weights: dict[str, float] = field(default_factory=dict)
    # Re-estimates of the model's parameters on data simulated from it (the parametric bootstrap that
    # carries their uncertainty into the draws).
    bootstraps: int = 40
    # What a kommune's quality is (see pipelines/selection/model.py): with its schools' persistent
    # effects ("kommune_and_schools", the school owner answers for its schools) or its own effect alone
    # ("kommune_only", the schools' persistent effects are error). A policy choice, like the weights.
    estimand: str = "kommune_and_schools"


@dataclass(frozen=True)
class Scheme:
    """The support periods of Oppfølgingsordningen, counted in school years from a cohort's first."""

    forfase_years: int = 1
    total_years: int = 3
    # A kommune whose support ended at most this many school years before the list's is "nylig ute".
    recently_out_years: int = 3


@dataclass(frozen=True)
class Followup:
    """How the kommuner in the scheme are followed up (:mod:`pipelines.followup`)."""

    pre_years: int = 3  # school years before a cohort's first: the window its list was made on
    post_years: int = 3  # school years followed from the gjennomføringsfase on
    confidence: float = 0.90  # of every interval
    matches: int = 5  # comparison kommuner per kommune in the scheme (difference-in-differences)
    bandwidth: int = 20  # ranks either side of the cut-off (regression discontinuity)
    minimum_units: int = 10  # fewer kommuner than this (per side) and an estimate says "for lite data"


@dataclass(frozen=True)
class Config:
    selection: Selection
    holistic: Holistic
    indicators: tuple[Indicator, ...]
    scheme: Scheme = field(default_factory=Scheme)
    followup: Followup = field(default_factory=Followup)

    def for_owner(self, owner: str) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.owner == owner)

    def with_year(self, school_year: str) -> Config:
        _check_school_year(school_year, "--year")
        return replace(self, selection=replace(self.selection, school_year=school_year))

    def with_missing_data_allowed(self) -> Config:
        """The configuration of a run asked (``--allow-missing``) to select on the data there is."""
        return replace(self, selection=replace(self.selection, allow_missing_data=True))

    def window(self) -> list[str]:
        """The school years of the window, oldest first."""
        end = int(self.selection.school_year[:4])
        return [
            f"{year}-{(year + 1) % 100:02d}" for year in range(end - self.selection.window_years + 1, end + 1)
        ]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_school_year(value: object, where: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}", value):
        raise ConfigError(f"{where}: expected a school year such as 2025-26, found {value!r}")
    if (int(value[:4]) + 1) % 100 != int(value[5:]):
        raise ConfigError(f"{where}: {value} is not two consecutive years")
    return value


def _typed(table: dict[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(f"{where}: missing '{key}'")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: '{key}' must be {kind.__name__}, found {value!r}")
    return value


def _positive(value: float, name: str, where: str) -> None:
    if value <= 0:
        raise ConfigError(f"{where}: '{name}' must be positive, found {value}")


def _at_least(value: int, minimum: int, name: str, where: str) -> None:
    if value < minimum:
        raise ConfigError(f"{where}: '{name}' must be at least {minimum}, found {value}")


def _known_keys(table: dict[str, Any], allowed: Iterable[str], where: str, section: str) -> None:
    """A key the file may not have is an error, not ignored: a misspelt key would otherwise leave the
    default (or the whole section) silently in force. ``section`` is the table's own TOML name."""
    allowed = list(allowed)
    for key in table:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, allowed, n=1)
        if isinstance(table[key], dict):
            hint = f"; did you mean [{section}.{close[0]}]?" if close else ""
            raise ConfigError(f"{where}: unknown section [{section}.{key}]{hint}")
        hint = f"; did you mean '{close[0]}'?" if close else f"; expected one of {', '.join(allowed)}"
        raise ConfigError(f"{where}: unknown key '{key}'{hint}")


def _names(kind: type) -> list[str]:
    return [item.name for item in fields(kind)]


# Below 10 pupils a published figure starts to describe individuals (SSB's threshold for kommuner);
# lowering it takes a written reason in the file itself, so that the choice is reviewed and recorded
# with every run's outputs.
LOWEST_MINIMUM_PUPILS = 10


def _check_minimum_pupils(section: dict[str, Any], minimum: int, where: str) -> None:
    reason = section.get("minimum_pupils_override_reason")
    if reason is not None and (not isinstance(reason, str) or not reason.strip()):
        raise ConfigError(f"{where}: 'minimum_pupils_override_reason' must be a non-empty text")
    if minimum < LOWEST_MINIMUM_PUPILS and reason is None:
        raise ConfigError(
            f"{where}: 'minimum_pupils' = {minimum} is below {LOWEST_MINIMUM_PUPILS}; published figures "
            f"would rest on fewer than {LOWEST_MINIMUM_PUPILS} pupils. Set it to at least "
            f'{LOWEST_MINIMUM_PUPILS}, or add minimum_pupils_override_reason = "…" saying why'
        )


def parse_config(data: dict[str, Any], file: str) -> Config:
    """Validate a parsed TOML document."""
    for name, value in data.items():
        if name not in SECTIONS:
            close = difflib.get_close_matches(name, list(SECTIONS), n=1)
            hint = (
                f"; did you mean [{close[0]}]?"
                if close
                else "; expected [selection], [holistic], [[indicator]], [scheme], [followup]"
            )
            kind = "section" if isinstance(value, dict | list) else "key"
            shown = f"[{name}]" if kind == "section" else f"'{name}'"
            raise ConfigError(f"{file}: unknown {kind} {shown}{hint}")
    section = data.get("selection")
    if not isinstance(section, dict):
        raise ConfigError(f"{file}: missing [selection]")
    where = f"{file} [selection]"
    _known_keys(section, _names(Selection), where, "selection")
    selection = Selection(
        school_year=_check_school_year(section.get("school_year"), f"{where} school_year"),
        window_years=_typed(section, "window_years", int, where),
        category_1_count=_typed(section, "category_1_count", int, where),
        category_2_max=_typed(section, "category_2_max", int, where),
        category_2_spread=_typed(section, "category_2_spread", float, where),
        category_2_worst_school_share=_typed(section, "category_2_worst_school_share", float, where),
        minimum_pupils=_typed(section, "minimum_pupils", int, where),
        minimum_possible_share=_typed(
            section, "minimum_possible_share", float, where, Selection.minimum_possible_share
        ),
        allow_missing_data=_typed(section, "allow_missing_data", bool, where, False),
        minimum_pupils_override_reason=_typed(section, "minimum_pupils_override_reason", str, where, None),
    )
    # Upper limits that depend on the data (how many kommuner are scored, which school years each
    # source has) are checked against it before the selection (pipelines/indicators/coverage.py).
    for name in ("window_years", "category_1_count", "minimum_pupils"):
        _at_least(getattr(selection, name), 1, name, where)
    _at_least(selection.category_2_max, 0, "category_2_max", where)
    if not 0 <= selection.category_2_spread < 1:
        raise ConfigError(
            f"{where}: 'category_2_spread' is a difference of shares of risk points and must be at "
            f"least 0 and below 1, found {selection.category_2_spread}"
        )
    _check_minimum_pupils(section, selection.minimum_pupils, where)
    if not 0 < selection.category_2_worst_school_share < 1:
        raise ConfigError(f"{where}: 'category_2_worst_school_share' must be between 0 and 1")
    if not 0 <= selection.minimum_possible_share <= 1:
        raise ConfigError(
            f"{where}: 'minimum_possible_share' is a share of possible risk points and must be between "
            f"0 and 1, found {selection.minimum_possible_share}"
        )

    section = data.get("holistic")
    if not isinstance(section, dict):
        raise ConfigError(f"{file}: missing [holistic]")
    where = f"{file} [holistic]"
    _known_keys(section, _names(Holistic), where, "holistic")
    weights = section.get("area_weights", {})
    if not isinstance(weights, dict):
        raise ConfigError(f"{where}: 'area_weights' must be a table [holistic.area_weights]")
    unknown = set(weights) - set(AREAS)
    if unknown:
        raise ConfigError(f"{where}.area_weights: unknown area {sorted(unknown)}; expected {AREAS}")
    holistic = Holistic(
        top_n=_typed(section, "top_n", int, where),
        fylkeskommune_top_n=_typed(section, "fylkeskommune_top_n", int, where),
        draws=_typed(section, "draws", int, where),
        seed=_typed(section, "seed", int, where),
        shrinkage=_typed(section, "shrinkage", bool, where),
        candidate_probability=_typed(section, "candidate_probability", float, where),
        not_candidate_probability=_typed(section, "not_candidate_probability", float, where),
        area_weights={area: float(weights.get(area, 1.0)) for area in AREAS},
        bootstraps=_typed(section, "bootstraps", int, where, 40),
        estimand=_typed(section, "estimand", str, where, Holistic.estimand),
    )
    if holistic.estimand not in ESTIMANDS:
        choices = " or ".join(f'"{e}"' for e in ESTIMANDS)
        raise ConfigError(f"{where}: 'estimand' must be {choices}, found {holistic.estimand!r}")
    _at_least(holistic.top_n, 1, "top_n", where)
    _at_least(holistic.bootstraps, 1, "bootstraps", where)
    _at_least(holistic.fylkeskommune_top_n, 1, "fylkeskommune_top_n", where)
    _at_least(holistic.seed, 0, "seed", where)  # a random generator's seed is not negative
    if holistic.draws < 1000:
        raise ConfigError(f"{where}: 'draws' must be at least 1000 for stable probabilities")
    if not 0 < holistic.not_candidate_probability < holistic.candidate_probability < 1:
        raise ConfigError(f"{where}: expected 0 < not_candidate_probability < candidate_probability < 1")
    if any(w < 0 for w in holistic.area_weights.values()) or not any(holistic.area_weights.values()):
        raise ConfigError(f"{where}.area_weights: weights must be ≥ 0 and not all 0")

    entries = data.get("indicator")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{file}: expected at least one [[indicator]]")
    indicators = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        where = f"{file} [[indicator]] #{number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a table [[indicator]], found {entry!r}")
        ident = _typed(entry, "id", str, where)
        where = f"{file} [[indicator]] {ident!r}"
        _known_keys(entry, _names(Indicator), where, "indicator")
        if ident in seen:
            raise ConfigError(f"{where}: the id is used twice")
        seen.add(ident)
        indicator = Indicator(
            id=ident,
            label=_typed(entry, "label", str, where),
            owner=_typed(entry, "owner", str, where),
            source=_typed(entry, "source", str, where),
            indicator=_typed(entry, "indicator", str, where),
            grade=_typed(entry, "grade", str, where),
            area=_typed(entry, "area", str, where),
            higher_is_better=_typed(entry, "higher_is_better", bool, where),
            udir_rule=_typed(entry, "udir_rule", bool, where),
            subject=_typed(entry, "subject", str, where, None),
            absolute_limit=_typed(entry, "absolute_limit", float, where, None),
            risk_point_weight=_typed(entry, "risk_point_weight", int, where, 1),
            pupil_sd=_typed(entry, "pupil_sd", float, where, None),
            same_pupils_as=_typed(entry, "same_pupils_as", str, where, None),
        )
        if indicator.owner not in OWNERS:
            raise ConfigError(f"{where}: owner must be one of {OWNERS}, found {indicator.owner!r}")
        if indicator.source not in SOURCES:
            raise ConfigError(f"{where}: source must be one of {SOURCES}, found {indicator.source!r}")
        if indicator.area not in AREAS:
            raise ConfigError(f"{where}: area must be one of {AREAS}, found {indicator.area!r}")
        if indicator.udir_rule and indicator.absolute_limit is None:
            raise ConfigError(f"{where}: an indicator in Udir's rule needs an absolute_limit")
        if indicator.risk_point_weight < 1:
            raise ConfigError(f"{where}: risk_point_weight must be at least 1")
        if indicator.pupil_sd is not None:
            _positive(indicator.pupil_sd, "pupil_sd", where)
        indicators.append(indicator)
    owners = {i.id: i.owner for i in indicators}
    for indicator in indicators:
        peer = indicator.same_pupils_as
        if peer is not None and (owners.get(peer) != indicator.owner or peer == indicator.id):
            raise ConfigError(
                f"{file} [[indicator]] {indicator.id!r}: same_pupils_as must name another indicator of the "
                f"same owner ({indicator.owner}), found {peer!r}"
            )
    return Config(
        selection,
        holistic,
        tuple(indicators),
        _scheme(data.get("scheme", {}), file),
        _followup(data.get("followup", {}), file),
    )


def _scheme(section: object, file: str) -> Scheme:
    """The optional [scheme] section: whole school years, the forfase shorter than the whole support."""
    where = f"{file} [scheme]"
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: expected a table [scheme]")
    _known_keys(section, _names(Scheme), where, "scheme")
    scheme = Scheme(
        forfase_years=_typed(section, "forfase_years", int, where, Scheme.forfase_years),
        total_years=_typed(section, "total_years", int, where, Scheme.total_years),
        recently_out_years=_typed(section, "recently_out_years", int, where, Scheme.recently_out_years),
    )
    _at_least(scheme.forfase_years, 1, "forfase_years", where)
    _at_least(scheme.recently_out_years, 0, "recently_out_years", where)
    if scheme.total_years <= scheme.forfase_years:
        raise ConfigError(
            f"{where}: 'total_years' ({scheme.total_years}) must be more than 'forfase_years' "
            f"({scheme.forfase_years}): the gjennomføringsfase follows the forfase"
        )
    return scheme


def _followup(section: object, file: str) -> Followup:
    """The optional [followup] section: whole school years and counts, a confidence strictly between 0
    and 1."""
    where = f"{file} [followup]"
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: expected a table [followup]")
    _known_keys(section, _names(Followup), where, "followup")
    kinds = {name: float if name == "confidence" else int for name in _names(Followup)}
    followup = Followup(
        **{name: _typed(section, name, kind, where, getattr(Followup, name)) for name, kind in kinds.items()}
    )
    for name in ("pre_years", "post_years", "matches", "minimum_units"):
        _at_least(getattr(followup, name), 1, name, where)
    _at_least(followup.bandwidth, 2, "bandwidth", where)
    if not 0 < followup.confidence < 1:
        raise ConfigError(f"{where}: 'confidence' must be between 0 and 1, found {followup.confidence}")
    return followup


def load_config(path: Path = DEFAULT_CONFIG) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"configuration file {path} does not exist") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    return parse_config(data, path.name)
