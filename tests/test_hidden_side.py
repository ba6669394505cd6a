"""Issue 14: nothing published tells on which side of the country a hidden figure lies.

With pupil-level data every kommune has figures, many from 1-9 pupils, and all are hidden. Udir's rule
and the explanations compare single figures with the country or a limit: counted on a hidden figure,
their points, shares, categories and "x av y år" would tell its side. Two runs on pupil-level data that
differ only in which of two small kommuner got which grunnskolepoeng (one worse than the country, one
better) must publish the same files.

The holistic method uses the small figures (docs/privacy.md says why its smoothed outputs are not a
subtraction), so its smoothed outputs differ between the runs. The second run is given the first run's
(``hold_model``); everything the model returns that is not smoothed (the yearly counts) is the second
run's own. With that, every published file is byte for byte the same, but for the hashes that name the
inputs (the run id and the input files' fingerprint), which differ because the pupil files do.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.config import Config, load_config
from pipelines.flow import FlowRun
from pipelines.provenance import input_files, provenance_line
from pipelines.sample.generate import SCHOOL_YEARS, generate_sample
from pipelines.selection import holistic, sensitivity
from pipelines.selection.holistic import FittedPosterior, HolisticResult
from pipelines.settings import REFERENCE_DIR
from tests.conftest import SAMPLE_SEED, SCHOOL_YEAR, run_sample

CONFIG = load_config().with_year(SCHOOL_YEAR)
MINIMUM = CONFIG.selection.minimum_pupils
POINTS = Path("elevdata/grunnskolepoeng") / f"school_year={SCHOOL_YEAR}" / "part-0.parquet"


def opposite_pair(pupils: pl.DataFrame) -> tuple[str, str]:
    """Two kommuner of one fylke with the same number (under the minimum) of pupils with grunnskolepoeng,
    the first worse than the country, the second better: exchanging their pupils leaves every fylke, the
    country and every pupil count as they were."""
    scored = pupils.filter(pl.col("points").is_not_null())
    national = scored["points"].mean()
    small = (
        scored.group_by("municipality_code")
        .agg(pl.len().alias("n"), pl.col("points").mean().alias("mean"))
        .filter(pl.col("n") < MINIMUM)
        .with_columns(pl.col("municipality_code").str.slice(0, 2).alias("fylke"))
        .sort("n", "fylke", "municipality_code")
    )
    worse = small.filter(pl.col("mean") < national)
    better = small.filter(pl.col("mean") > national)
    pair = worse.join(better, on=["fylke", "n"], suffix="_better").sort("n", "fylke", "municipality_code")
    first = pair.row(0, named=True)
    return first["municipality_code"], first["municipality_code_better"]


def exchange_pupils(pupils: pl.DataFrame, one: str, other: str) -> pl.DataFrame:
    """``pupils`` with ``one``'s pupils and ``other``'s exchanged: each row keeps its place and its points
    and takes its counterpart's pupil, school and kommune. Every fylke and the country then sum the
    same points, in the same order, as before."""
    rows = pupils.with_row_index("row")
    mine = rows.filter(pl.col("municipality_code") == one)["row"].to_list()
    theirs = rows.filter(pl.col("municipality_code") == other)["row"].to_list()
    order = list(range(pupils.height))
    for i, j in zip(mine, theirs, strict=True):
        order[i], order[j] = j, i
    identity = pupils.select("pupil_id", "organisation_number", "municipality_code")[order]
    return pupils.with_columns(identity.get_columns())


class ModelHolder:
    """Wraps ``scores_from`` (the one function every use of the holistic model ends in): records the
    smoothed outputs of each call in the first run and gives them back to the same call in the second,
    keeping the second run's unsmoothed yearly counts (``years``, ``years_worse``)."""

    def __init__(self) -> None:
        self.held: dict[tuple[object, ...], list[HolisticResult]] = {}
        self.replaying = False
        self.calls = 0
        self.largest_change = 0.0  # between a composite held and the second run's own

    def __call__(self, fitted: FittedPosterior | None, config: Config, shrinkage: bool) -> HolisticResult:
        result = REAL_SCORES_FROM(fitted, config, shrinkage)
        key = (repr(config), shrinkage, None if fitted is None else tuple(fitted.arrays.units))
        if not self.replaying:
            self.held.setdefault(key, []).append(result)
            return result
        held = self.held[key].pop(0)
        self.calls += 1
        own = result.scores.join(held.scores, on="unit_code", suffix="_held")
        change = (own["composite"] - own["composite_held"]).abs().max()
        self.largest_change = max(self.largest_change, float(change or 0.0))
        counts = result.indicator_scores.select("unit_code", "indicator_id", "years", "years_worse")
        indicator_scores = (
            held.indicator_scores.drop("years", "years_worse")
            .join(counts, on=["unit_code", "indicator_id"], how="left", maintain_order="left")
            .select(held.indicator_scores.columns)
        )
        return replace(held, indicator_scores=indicator_scores)


REAL_SCORES_FROM = holistic.scores_from
TwoRuns = tuple[FlowRun, FlowRun, ModelHolder, tuple[str, str]]


def run_marks(run: FlowRun) -> dict[bytes, bytes]:
    """What names the run's inputs by hash, each with a stand-in: the run id (a hash of provenance.json,
    on every workbook) and the fingerprint of the input files (on every page and workbook). A hash of
    thousands of pupils' files tells nothing about one figure's side; it differs because the inputs do."""
    line = provenance_line(input_files(run.table("raw_files"), run.table("pupil_files")))
    fingerprint = line.split("fingeravtrykk ")[1][:16]
    run_id = run.metadata("statsforvalter_workbooks")["run_id"]
    return {run_id.encode(): b"<run id>", fingerprint.encode(): b"<fingerprint>"}


def _marked(data: bytes, marks: dict[bytes, bytes]) -> bytes:
    for mark, stand_in in marks.items():
        data = data.replace(mark, stand_in)
    return data


def published_files(run: FlowRun) -> dict[str, bytes]:
    """Every file the run published for the school year, by path within the year's folder (a workbook by
    each of its parts), with the run's marks (:func:`run_marks`) replaced; the provenance files, which
    list the inputs' hashes, are left out."""
    root, marks = Path(run.metadata("candidate_files")["folder"]), run_marks(run)
    found: dict[str, bytes] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith("provenance.json")):
        name = str(path.relative_to(root))
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                found |= {f"{name}:{part}": _marked(book.read(part), marks) for part in book.namelist()}
        else:
            found[name] = _marked(path.read_bytes(), marks)
    return found


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoRuns]:
    """Run A on the sample with pupils of the window's school years; run B with the grunnskolepoeng of
    two small kommuner exchanged, the model's smoothed outputs held at run A's."""
    folder = tmp_path_factory.mktemp("hidden-side")
    raw_a, raw_b = folder / "raw-a", folder / "raw-b"
    generate_sample(SAMPLE_SEED, raw_a, REFERENCE_DIR, pupil_years=SCHOOL_YEARS[-3:])
    shutil.copytree(raw_a, raw_b)
    pupils = pl.read_parquet(raw_a / POINTS)
    pair = opposite_pair(pupils)
    exchange_pupils(pupils, *pair).write_parquet(raw_b / POINTS)
    holder = ModelHolder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(holistic, "scores_from", holder)
        patch.setattr(sensitivity, "scores_from", holder)
        run_a = run_sample(folder / "a", raw_a)
        holder.replaying = True
        run_b = run_sample(folder / "b", raw_b)
    yield run_a, run_b, holder, pair


def test_the_runs_differ_only_in_two_hidden_figures_on_either_side_of_the_country(two_runs):
    run_a, run_b, holder, (worse, better) = two_runs
    key = ["unit_code", "indicator_id", "school_year"]

    def figure(run: FlowRun, unit: str) -> dict[str, object]:
        rows = run.table("indicator_values").filter(
            (pl.col("unit_code") == unit)
            & (pl.col("indicator_id") == "grunnskolepoeng")
            & (pl.col("school_year") == SCHOOL_YEAR)
        )
        return rows.row(0, named=True)

    for run, first, second in ((run_a, worse, better), (run_b, better, worse)):
        below, above = figure(run, first), figure(run, second)
        assert below["n"] == above["n"] < MINIMUM  # the same pupils, fewer than the minimum
        assert below["value"] < below["national"] < above["value"]  # higher is better: worse, better
    # The pupil figures are sums kept in whole units, the same to the last bit between runs.
    a, b = run_a.table("indicator_values"), run_b.table("indicator_values")
    moved = pl.col("value").ne_missing(pl.col("value_b"))
    differ = a.join(b, on=[*key, "level"], suffix="_b").filter(moved)
    assert sorted(differ["unit_code"]) == sorted([worse, better])
    published = run_a.table("published_figures")
    assert_frame_equal(published, run_b.table("published_figures"))
    hidden = published.filter(pl.col("unit_code").is_in([worse, better]))
    assert hidden.filter(pl.col("indicator_id") == "grunnskolepoeng")["hidden"].all()
    # The model did see the exchange: holding its smoothed outputs is what the test chooses.
    assert holder.calls >= 3 and holder.largest_change > 1e-6


def test_no_published_file_tells_which_small_kommune_was_worse_than_the_country(two_runs):
    run_a, run_b, _, _ = two_runs
    files_a, files_b = published_files(run_a), published_files(run_b)
    assert files_a.keys() == files_b.keys()
    assert len(files_a) > 100  # lists, figures, workbooks, the dashboard's pages
    differ = [name for name in files_a if files_a[name] != files_b[name]]
    assert differ == [], differ[:10]
    # The marks set aside are the inputs' hashes, and they do differ: provenance names the pupil files.
    assert run_marks(run_a).keys().isdisjoint(run_marks(run_b).keys())
