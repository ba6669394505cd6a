from __future__ import annotations

from pathlib import Path

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
