"""The per-source modules: every source is registered once, and reports are recognised in order."""

from __future__ import annotations

import pytest

from pipelines.ingest.portal_format import ExportFormatError, parse_export
from pipelines.ingest.sources import MAPPINGS, detect_source, mapping_for
from pipelines.ingest.sources.elevundersokelsen import survey_indicator
from pipelines.vocabulary import SOURCES
from tests.portal_files import national, portal_bytes


def export_with(*columns: str):
    return parse_export(portal_bytes(list(columns), [national(["1"] * len(columns))]), "made.csv")


def test_every_source_has_one_mapping():
    assert sorted(mapping.source for mapping in MAPPINGS) == sorted(SOURCES)
    assert all(mapping_for(source).source == source for source in SOURCES)


@pytest.mark.parametrize(
    ("measures", "source"),
    [
        (["Andel på mestringsnivå 2", "Grunnskolepoeng"], "nasjonale_prover"),
        (["Grunnskolepoeng", "Andel sluttet"], "grunnskolepoeng"),
        (["Andel fullført og bestått", "Snitt"], "gjennomforing"),
    ],
)
def test_a_measure_only_one_source_publishes_decides(measures, source):
    assert detect_source(export_with(*(f"2024-25.Alle kjønn.{m}" for m in measures))) == source


def test_the_survey_is_recognised_by_an_index_in_the_dimensions():
    assert detect_source(export_with("2024-25.Trivsel.Alle kjønn.Snitt")) == "elevundersokelsen"


def test_an_unrecognised_report_names_its_measures_and_the_sources():
    with pytest.raises(ExportFormatError) as error:
        detect_source(export_with("2024-25.Alle kjønn.Antall elever"))
    assert str(error.value) == (
        "made.csv: unrecognised report (measures: Antall elever); expected nasjonale prøver, "
        "Elevundersøkelsen, grunnskolepoeng or gjennomføring from the statistics portal"
    )


def test_an_unlisted_survey_index_still_gets_a_stable_name():
    assert survey_indicator("Trygt miljø (snitt)") == "trygt_miljo"
    assert survey_indicator("Arbeidsforhold og læring (snitt)") == "arbeidsforhold_og_laering"
