"""What every source's mapping is made of, and the column-dimension vocabulary the sources share."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from pipelines.ingest.portal_format import PortalExport

# Dimension values that mean "everyone": they add nothing to a row's key.
TOTALS = {
    "Alle eierformer",
    "Alle kjønn",
    "Begge kjønn",
    "Alle utdanningsprogram",
    "Alle trinn",
    "Alle skoler",
    "Offentlig og privat",
}
SUBJECTS = {"Lesing": "lesing", "Regning": "regning", "Engelsk": "engelsk"}
GRADE = re.compile(r"^(?:(\d{1,2})\. ?(?:årstrinn|trinn)|Trinn (\d{1,2})|(Vg\d))$", re.IGNORECASE)


@dataclass(frozen=True)
class Measure:
    """What one of Udir's measure names is in a source."""

    role: str  # "value", "std_error" or "count"
    indicator: str | None = None  # value: the indicator (None: taken from the dimensions)
    unit: str | None = None  # value: the unit, e.g. "percent"
    applies_to: str | None = None  # std_error: the indicator it belongs to
    standard_errors: float = 1.0  # std_error: how many standard errors the published figure is


COUNT = Measure("count")


def no_partners(measures: frozenset[str], dimensions: tuple[str, ...]) -> tuple[str, ...]:
    """A source whose values may stand alone (Udir publishes some shares without counts)."""
    return ()


@dataclass(frozen=True)
class SourceMapping:
    """One source: how its reports are recognised and what their measures mean."""

    source: str
    # Recognises the source from a parsed export's header; file names are not trusted.
    recognises: Callable[[PortalExport], bool]
    measures: dict[str, Measure]
    default_grade: str | None = None
    measure_patterns: tuple[tuple[re.Pattern[str], Measure], ...] = field(default=())
    # The measures missing from one column group (a school year × dimensions) that its values need
    # beside them: a report whose columns were cut would otherwise lose figures or counts silently.
    missing_partners: Callable[[frozenset[str], tuple[str, ...]], tuple[str, ...]] = no_partners

    def measure(self, name: str) -> Measure | None:
        if name in self.measures:
            return self.measures[name]
        for pattern, measure in self.measure_patterns:
            match = pattern.match(name)
            if match:
                indicator = measure.indicator.format(*match.groups()) if measure.indicator else None
                return replace(measure, indicator=indicator)
        return None


def classify_dimensions(dimensions: list[str], indicators: Mapping[str, str]) -> dict[str, str | None]:
    """Grade, subject, indicator (a value named in ``indicators``) and the remaining breakdown of one
    column's dimensions."""
    grade = subject = indicator = None
    rest = []
    for value in dimensions:
        match = GRADE.match(value)
        if match:
            number, trinn, vg = match.groups()
            grade = (number or trinn or vg).lower()
        elif value in SUBJECTS:
            subject = SUBJECTS[value]
        elif value in indicators:
            indicator = indicators[value]
        elif value not in TOTALS:
            rest.append(value)
    return {
        "grade": grade,
        "subject": subject,
        "dim_indicator": indicator,
        "breakdown": " / ".join(rest),
    }
