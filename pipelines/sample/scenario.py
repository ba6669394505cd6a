"""A scenario: the knobs of the synthetic sample, read from a strict TOML file (``data/scenarios/*.toml``).

Every knob has a default; the defaults are the ``standard`` scenario, calibrated to the real national
tests 2022-23 to 2025-26 (see ``pipelines/sample/calibration.py`` and the README). Effects are in the
national tests' scale points (pupil SD 10); the other sources read the same qualities through their own
unit per scale point (``pipelines/sample/simulate.py``, ``SOURCE_UNITS``).

What a kommune's true quality is (the estimand) is a decision, not a fact of the data:

- ``kommune_and_schools`` (default): a kommune's quality in an area INCLUDES the persistent effects of
  its grunnskoler, weighted by the pupils the area's figures measure (completion: the 10th graders'
  schools; ``generate.TRUTH_COHORTS``). The kommune is the school owner and answers for its schools: a
  kommune whose one school is weak is a kommune whose pupils need support, whatever the cause. Private
  schools count too: Udir's kommune figures are its pupils' in every school (all owner forms), and no
  export says who owns a school, so no method could tell their part from the kommune's.
- ``kommune_only``: the kommune's own effect alone; the schools' persistent effects become noise that a
  method must see through (a stress case).

Never part of the truth: the transient components (kommune-year, school-year, the pupils' own results)
and which pupils happened to take part.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, get_args

SchoolEffects = Literal["normal", "heavy_tailed"]
Estimand = Literal["kommune_and_schools", "kommune_only"]
# The truth's areas: the configuration's names, and the latent domains behind them.
AREAS = {"laeringsresultater": "learning", "laeringsmiljo": "environment", "gjennomforing": "completion"}
SCENARIO_FILE = "scenario.toml"  # written beside truth.csv; not an export suffix, so never ingested
TOTAL_VARIANCE = 100.0  # national tests: pupil SD 10 in the base year, split into its sources


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Scenario:
    """The knobs of one synthetic sample (all SDs in national-test scale points)."""

    name: str = "standard"
    # Persistent kommune effect: SD of a kommune's own quality in each area.
    kommune_sd: float = 1.2
    # Transient kommune effect: a fresh draw per kommune, school year and area, shared by all the
    # kommune's schools that year and by every source of the area.
    kommune_year_sd: float = 0.2
    # Per-kommune linear trend: SD of a kommune's change per school year, per area (centred on 2024-25).
    kommune_trend_sd: float = 0.0
    # Persistent school effect and its distribution: "normal", or "heavy_tailed" (Student t, 3 df,
    # scaled to unit variance).
    school_sd: float = 2.4
    school_effects: SchoolEffects = "normal"
    # Transient school effect: a fresh draw per school, school year and area, shared by the area's tests.
    school_year_sd: float = 0.8
    # Transient school effect per national test (grade and subject) on top of the school-year one.
    school_test_sd: float = 2.4
    # Correlation of one pupil's results across the subjects of a test round (an assumption).
    pupil_subject_correlation: float = 0.7
    # Udir's suppression threshold in the files: fewer pupils than this are shown as "*".
    suppression_minimum: int = 10
    # The truth's weights of the areas (any non-negative numbers, not all zero).
    truth_area_weights: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(AREAS, 1.0), hash=False, compare=True
    )
    # Whether the schools' persistent effects are part of a kommune's quality (see the module).
    estimand: Estimand = "kommune_and_schools"
    # The true effect of support under Oppfølgingsordningen on the learning quality of the kommuner the
    # sample's past cohorts select (scale points), from their second support year on and lasting. 0 by
    # default: the committed validation of the selection was measured on samples without it;
    # ``med_effekt.toml`` sets 2 scale points (0.2 of a pupil SD, large for a kommune: kommune_sd 1.2).
    support_effect: float = 0.0

    @property
    def pupil_sd(self) -> float:
        """The national tests' pupil SD within a school: what is left of the total variance."""
        rest = TOTAL_VARIANCE - sum(
            sd**2
            for sd in (
                self.kommune_sd,
                self.kommune_year_sd,
                self.school_sd,
                self.school_year_sd,
                self.school_test_sd,
            )
        )
        return math.sqrt(rest)


_FLOAT_KNOBS = (
    "kommune_sd",
    "kommune_year_sd",
    "kommune_trend_sd",
    "school_sd",
    "school_year_sd",
    "school_test_sd",
    "pupil_subject_correlation",
    "support_effect",
)
_CHOICES = {"school_effects": get_args(SchoolEffects), "estimand": get_args(Estimand)}
KNOBS = tuple(f.name for f in fields(Scenario) if f.name != "name")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def scenario_from_mapping(values: dict[str, object], name: str, where: str) -> Scenario:
    """A scenario from parsed TOML; ``where`` (the file) names every error."""
    unknown = sorted(set(values) - set(KNOBS))
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(KNOBS)}")
    knobs: dict[str, object] = {}
    for key, value in values.items():
        if key in _FLOAT_KNOBS:
            if not _number(value) or float(value) < 0:  # type: ignore[arg-type]
                raise ScenarioError(f"{where}: {key} must be a non-negative number, not {value!r}")
            knobs[key] = float(value)  # type: ignore[arg-type]
        elif key == "suppression_minimum":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ScenarioError(f"{where}: {key} must be a whole number of pupils ≥ 1, not {value!r}")
            knobs[key] = value
        elif key in _CHOICES:
            if value not in _CHOICES[key]:
                choices = " or ".join(f'"{c}"' for c in _CHOICES[key])
                raise ScenarioError(f"{where}: {key} must be {choices}, not {value!r}")
            knobs[key] = value
        elif key == "truth_area_weights":
            knobs[key] = _area_weights(value, where)
    scenario = Scenario(name=name, **knobs)  # type: ignore[arg-type]
    if scenario.pupil_subject_correlation > 1:
        raise ScenarioError(f"{where}: pupil_subject_correlation must be at most 1")
    if (
        TOTAL_VARIANCE
        - (scenario.kommune_sd**2 + scenario.kommune_year_sd**2)
        - (scenario.school_sd**2 + scenario.school_year_sd**2 + scenario.school_test_sd**2)
        < 25
    ):
        raise ScenarioError(
            f"{where}: kommune_sd, kommune_year_sd, school_sd, school_year_sd and school_test_sd "
            "leave less than a pupil SD of 5 of the national tests' SD of 10"
        )
    return scenario


def _area_weights(value: object, where: str) -> dict[str, float]:
    key = "truth_area_weights"
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: {key} must be a table with {', '.join(AREAS)}")
    unknown = sorted(set(value) - set(AREAS))
    if unknown:
        raise ScenarioError(f"{where}: unknown key {key}.{unknown[0]}; the areas are {', '.join(AREAS)}")
    weights = dict.fromkeys(AREAS, 1.0)
    for area, weight in value.items():
        if not _number(weight) or weight < 0:
            raise ScenarioError(f"{where}: {key}.{area} must be a non-negative number, not {weight!r}")
        weights[area] = float(weight)
    if not any(weights.values()):
        raise ScenarioError(f"{where}: {key} are all zero; the truth would weigh nothing")
    return weights


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file; its name is the file's stem. Errors name the file and the key."""
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read the scenario file ({error.strerror})") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{path}: not valid TOML: {error}") from error
    return scenario_from_mapping(values, path.stem, str(path))


def scenario_toml(scenario: Scenario, seed: int) -> str:
    """The scenario as a TOML file ``load_scenario`` reads back to the same knobs."""
    lines = [f"# The scenario {scenario.name!r} that generated this sample (seed {seed})."]
    for key in KNOBS:
        value = getattr(scenario, key)
        if key == "truth_area_weights":
            continue
        lines.append(f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value!r}")
    lines += ["", "[truth_area_weights]"]
    lines += [f"{area} = {weight!r}" for area, weight in scenario.truth_area_weights.items()]
    return "\n".join(lines) + "\n"
