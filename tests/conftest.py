from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import Config, load_config
from pipelines.flow import FlowRun, materialise
from pipelines.reference.registers import Registers, load_registers
from pipelines.settings import REFERENCE_DIR

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = FIXTURES / "udir-export-samples"
# A configuration the samples fit (the shipped one asks for figures they do not have).
SAMPLES_CONFIG = FIXTURES / "udir-export-samples.toml"
NP5 = SAMPLES / "2024-25_20260224-1157_Nasjonale_proever_5._trinn.csv"
NP8 = SAMPLES / "2024-25_20260224-1156_Nasjonale_proever_ungdomstrinn.csv"
GSP = SAMPLES / "grunnskolepoeng_2015-16_til_2020-21_utdrag.xlsx"
SLUTTA = SAMPLES / "20220505-1453_Slutta_VGO.csv"
MOBBING = SAMPLES / "20220928-1012_Elevundersoekelsen_-_mobbing.csv"
SKOLEPORTEN = SAMPLES / "skoleporten_nedlasting_stavanger_utdrag.csv"


@pytest.fixture(scope="session")
def registers() -> Registers:
    return load_registers(REFERENCE_DIR)


SAMPLE_SEED = 2026
SCHOOL_YEAR = "2025-26"


@pytest.fixture(scope="session")
def national_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic national sample, generated once per test session."""
    from pipelines.sample.generate import generate_sample

    folder = tmp_path_factory.mktemp("national-sample")
    generate_sample(SAMPLE_SEED, folder, REFERENCE_DIR)
    return folder


def run_sample(folder: Path, raw: Path, *assets: str, register: Path | None = None) -> FlowRun:
    """``assets`` (every asset when none) materialised on the raw folder ``raw`` for the tests' school
    year, the way `utvalg run` does it, with the warehouse and reports in ``folder``. The register is
    ``register``, else an empty one of its own: a test run never reads the machine's records."""
    return materialise(
        folder / "warehouse.duckdb",
        assets,
        raise_on_error=True,
        raw_dir=str(raw),
        school_year=SCHOOL_YEAR,
        reports_dir=str(folder / "reports"),
        register_path=str(register or folder / "register.duckdb"),
    )


@pytest.fixture(scope="session")
def national_run(national_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> FlowRun:
    """Every asset materialised on the national sample, the way `utvalg run` does it."""
    return run_sample(tmp_path_factory.mktemp("national-run"), national_sample)


@pytest.fixture(scope="session")
def national_config() -> Config:
    return load_config().with_year(SCHOOL_YEAR)


@pytest.fixture(scope="session")
def published(national_run: FlowRun) -> dict[str, Path]:
    """Every published output for the national sample, as `make run` writes them."""
    root = Path(national_run.metadata("candidate_files")["folder"])
    return {"root": root, "dashboard": root / "dashboard", "workbooks": root / "statsforvaltere"}
