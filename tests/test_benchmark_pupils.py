"""The survey aggregation benchmark on a tiny scale: its data are valid pupil data and its three
aggregations (the product's, pandas', a bare DuckDB query's) give the same figures. Speed is not tested."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import duckdb
import polars as pl
import pytest

from pipelines.pupils.read import checked

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "benchmark_pupils.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_pupils", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data = tmp_path_factory.mktemp("benchmark")
    finished = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--years",
            "1",
            "--scale",
            "0.002",
            "--repeat",
            "1",
            "--data",
            str(data),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr
    return data, finished.stdout


def test_the_three_aggregations_agree(quick_run: tuple[Path, str]) -> None:
    data, output = quick_run
    assert "figures agree: yes" in output, output
    for method in ("product", "pandas", "duckdb"):
        assert f"  {method} " in output
    assert pl.read_parquet(data / "scratch-1" / "product.parquet").height > 100


def test_a_changed_figure_is_a_difference(quick_run: tuple[Path, str]) -> None:
    data, _ = quick_run
    benchmark = load_script()
    figures = pl.read_parquet(data / "scratch-1" / "duckdb.parquet")
    assert benchmark.differences(figures, figures).is_empty()
    changed = figures.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.col("value") + 1e-6).otherwise(pl.col("value"))
    )
    assert benchmark.differences(changed, figures).height == 1
    assert benchmark.differences(figures.slice(1), figures).height == 1


def test_the_generated_answers_pass_the_products_checks(quick_run: tuple[Path, str]) -> None:
    data, _ = quick_run
    root = data / "years-1"
    with duckdb.connect() as connection:
        broken = checked(connection, root / "elevdata" / "elevundersokelsen").broken
        assert broken.aggregate("count(*)").fetchall() == [(0,)]


def test_the_median_of_the_runs_and_data_used_again(quick_run: tuple[Path, str], monkeypatch) -> None:
    data, _ = quick_run
    benchmark = load_script()
    assert benchmark.median([3.0, 1.0, 2.0]) == 2.0 and benchmark.median([4.0, 1.0]) == 2.5
    monkeypatch.setattr(benchmark, "generate", lambda *args: pytest.fail("generated again"))
    benchmark.generated(data / "years-1", 1, 0.002, benchmark.question_table())  # there: not generated
    asked = []
    monkeypatch.setattr(benchmark, "generate", lambda *args: asked.append(args[1:3]) or 0)
    benchmark.generated(data / "years-1", 1, 0.003, benchmark.question_table())  # another scale
    assert asked == [(1, 0.003)]
