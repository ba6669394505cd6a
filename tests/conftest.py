from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines.harmonise.harmonise import Target, build_target
from pipelines.reference.mapping import load_changes
from pipelines.reference.registers import Registers, load_registers
from pipelines.settings import REFERENCE_DIR

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = FIXTURES / "udir-export-samples"
NP5 = SAMPLES / "2024-25_20260224-1157_Nasjonale_proever_5._trinn.csv"
NP8 = SAMPLES / "2024-25_20260224-1156_Nasjonale_proever_ungdomstrinn.csv"
GSP = SAMPLES / "grunnskolepoeng_2015-16_til_2020-21_utdrag.xlsx"
SLUTTA = SAMPLES / "20220505-1453_Slutta_VGO.csv"
MOBBING = SAMPLES / "20220928-1012_Elevundersoekelsen_-_mobbing.csv"
SKOLEPORTEN = SAMPLES / "skoleporten_nedlasting_stavanger_utdrag.csv"


@pytest.fixture(scope="session")
def registers() -> Registers:
    return load_registers(REFERENCE_DIR)


@pytest.fixture(scope="session")
def target(registers: Registers) -> Target:
    return build_target(registers, load_changes(REFERENCE_DIR), 2024)


SAMPLE_SEED = 2026
SCHOOL_YEAR = "2025-26"


@pytest.fixture(scope="session")
def national_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic national sample, generated once per test session."""
    from pipelines.sample.generate import generate_sample

    folder = tmp_path_factory.mktemp("national-sample")
    generate_sample(SAMPLE_SEED, folder, REFERENCE_DIR)
    return folder


@dataclass(frozen=True)
class NationalRun:
    parsed: Any
    observations: Any
    quarantine: Any
    harmonised: Any
    config: Any
    register: Any
    result: Any


@pytest.fixture(scope="session")
def national_run(national_sample: Path, registers: Registers) -> NationalRun:
    """Ingest and selection on the national sample, with the functions the assets call."""
    from pipelines.config import load_config
    from pipelines.harmonise.from_folder import harmonised_from_folder
    from pipelines.reference.registers import municipality_register
    from pipelines.selection.candidates import run_selection

    folder = harmonised_from_folder(national_sample, 2024)
    parsed, observations, quarantine, harmonised = (
        folder.parsed,
        folder.observations,
        folder.quarantine,
        folder.harmonised,
    )
    config = load_config().with_year(SCHOOL_YEAR)
    register = municipality_register(registers, 2024)
    result = run_selection(harmonised, register, config)
    return NationalRun(parsed, observations, quarantine, harmonised, config, register, result)


@pytest.fixture(scope="session")
def published(national_run: NationalRun, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every published output for the national sample, as `make run` writes them."""
    from pipelines.harmonise.harmonise import newest_school_names
    from pipelines.outputs.build import break_notes, county_levels
    from pipelines.outputs.candidate_files import write_candidate_files
    from pipelines.outputs.dashboard import build_dashboard
    from pipelines.outputs.workbooks import write_workbooks
    from pipelines.provenance import provenance_document, provenance_line

    root = tmp_path_factory.mktemp("reports") / SCHOOL_YEAR
    result, config, harmonised = national_run.result, national_run.config, national_run.harmonised
    provenance = provenance_document(national_run.parsed.files, {"selection": config.as_dict()})
    write_candidate_files(result.candidates, result.county_candidates, root, provenance)
    names = newest_school_names(harmonised)
    produced_by = provenance_line(national_run.parsed.files)
    write_workbooks(
        result.candidates,
        result.municipal_values,
        result.school_values,
        names,
        config,
        root / "statsforvaltere",
        produced_by,
    )
    build_dashboard(
        result.candidates,
        result.municipal_values,
        county_levels(harmonised, config),
        result.school_values,
        names,
        break_notes(harmonised),
        config,
        REFERENCE_DIR / "geo" / "kommuner_2024.geojson",
        root / "dashboard",
        produced_by,
    )
    return {"root": root, "dashboard": root / "dashboard", "workbooks": root / "statsforvaltere"}
