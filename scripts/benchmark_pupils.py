"""Benchmark: the pupil survey's aggregation at national scale, against pandas and a bare DuckDB query.

Usage: .venv/bin/python scripts/benchmark_pupils.py [--years 1,10] [--scale 1.0] [--repeat 3] [--data DIR]

Generates Elevundersøkelsen answers (at scale 1.0 about 420,000 respondents a year, each answering
about 100 questions, a few left unanswered) in the layout the product reads, for the latest N school
years per data set, then aggregates each data set three ways, each in a subprocess of its own so that
its wall time and peak memory are its own: the product's function, a plain pandas script, and a bare
DuckDB query. Each is run ``--repeat`` times (interleaved; a method that fails is not run again) and
the median is reported. On the smallest data set it checks that the three give the same figures.
Prints figures; asserts nothing. Without --data the data go to a temporary folder, deleted at the end;
with it they are kept, and a data set already there (its ``generated.json`` says years and scale) is
used again instead of generated anew.

All three compute the same figures (FIGURE_SCHEMA) from the same files: per school year, level (school,
kommune, fylke, national), unit, indicator and grade, n, the mean of the pupils' values and its
standard error, from the 15 questions the indicators use. The bare query is one statement with no
checks: join the answers to the question mapping, group by pupil and indicator, then GROUPING SETS
over the levels. The product also checks every file's columns and every used row and finds repeated
answers (docs/pupil_data.md).

DuckDB runs on 2 threads. The product uses its own connection (``pupil_connection``: at most 3 GB,
spilling to a temporary folder of its own); the bare query DuckDB's defaults (a memory limit of 80 % of
RAM, spilling to .tmp in the working directory, the data set's scratch folder). pandas is capped
(PANDAS_CAP_BYTES); a run that leaves the machine less than GUARD_MB is stopped, and either is reported
in the table as the method's outcome.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The checkout this script is in, not the one the virtualenv was installed from (a git worktree shares
# the main checkout's .venv); the pipelines imports below are inside functions and resolve here.
sys.path.insert(0, str(PROJECT_ROOT))
SURVEY = Path("elevdata") / "elevundersokelsen"
LATEST_YEAR = 2025  # the school year 2025-26
SEED = 2026
THREADS = 2
# pandas holds everything in memory; a cap on its address space leaves room for the other work on the
# machine (24 GB shared) and turns "would need more" into a MemoryError, reported as a result.
PANDAS_CAP_BYTES = 16 * 1024**3
# DuckDB's default memory limit is 80 % of RAM; on a shared machine a run is stopped when less than this
# is left to the others rather than let the kernel's OOM killer pick a victim.
GUARD_MB = 2500
# Share of a grade's pupils who answer: grades 5–10 nearly all, upper secondary (VG2 and VG3 voluntary)
# fewer; with these the national total is about 420,000 respondents.
PARTICIPATION = {"grunnskole": 0.9, "vgs": 0.6}
SKIPPED_PER_MILLE = 30  # questions a pupil leaves unanswered
QUESTION_COUNT = 100
KEYS = ["school_year", "level", "unit_code", "indicator", "grade"]
TOLERANCE = 1e-9


def school_year(start: int) -> str:
    return f"{start}-{(start + 1) % 100:02d}"


# --------------------------------------------------------------------------------------------------
# Generation


def school_grades(scale: float) -> pl.DataFrame:
    """One row per school and surveyed grade (11–13 for vg1–vg3): organisation number, kommune, grade,
    respondents, and the school's and kommune's effects on the answers.

    The schools are the national sample's (real 2024-25 school sizes per kommune, about 400 upper
    secondary schools), so the many small rural schools and the few large ones are as in reality.
    """
    import numpy as np

    from pipelines.reference.registers import load_registers
    from pipelines.sample.population import build_population
    from pipelines.settings import REFERENCE_DIR

    population = build_population(np.random.default_rng(SEED), load_registers(REFERENCE_DIR), REFERENCE_DIR)
    schools = population.schools.join(
        population.kommuner.select("code", pl.col("latent_environment").alias("kommune_effect")), on="code"
    )
    frames: list[pl.DataFrame] = []
    for grades, size, kind in (
        ((5, 6, 7), "size_5", "grunnskole"),
        ((8, 9, 10), "size_8", "grunnskole"),
        ((11, 12, 13), "size_8", "vgs"),
    ):
        chosen = schools.filter((pl.col("kind") == kind) & (pl.col(size) > 0))
        frames.extend(
            chosen.select(
                pl.col("orgnr").alias("organisation_number"),
                pl.col("code").alias("municipality_code"),
                pl.lit(grade, pl.Int64).alias("grade"),
                (pl.col(size) * PARTICIPATION[kind] * scale).round().cast(pl.Int64).alias("pupils"),
                pl.col("effect_environment").alias("school_effect"),
                "kommune_effect",
            )
            for grade in grades
        )
    return pl.concat(frames).filter(pl.col("pupils") > 0)


def question_table() -> pl.DataFrame:
    """The survey's questions: the product's (its indexes' and the bullying questions) and others up to
    about 100, which the product reads and checks but does not use; the mean answer and spread the
    generator aims at (bullying questions mostly answered 1, "never")."""
    from pipelines.pupils.questions import QUESTIONS

    used = [
        {
            "question": question,
            "mean": 1.0 if rule == "bullied" else 4.1,
            "spread": 0.6 if rule == "bullied" else 0.8,
        }
        for question, (_, rule) in QUESTIONS.items()
    ]
    others = [
        {"question": f"sporsmal_{number:03d}", "mean": 3.0 + 0.2 * (number % 9), "spread": 0.8}
        for number in range(len(used) + 1, QUESTION_COUNT + 1)
    ]
    return pl.DataFrame(used + others)


def normal(arguments: str, stream: int) -> str:
    """SQL for a standard normal draw (Box–Muller) from two uniform hashes of ``arguments``."""
    uniform = f"((hash({arguments}, {stream}, {{}}) % 1000000) + 0.5) / 1000000"
    return f"sqrt(-2 * ln({uniform.format(0)})) * cos(2 * pi() * {uniform.format(1)})"


def generate(root: Path, years: int, scale: float, questions: pl.DataFrame) -> int:
    """Write ``years`` school years of answers under ``root``; the number of answer rows written.

    DuckDB draws every value from a hash of the pupil, question and year, so the data are the same on
    every run whatever the thread count, and 400 million rows take minutes, not the hours Python would.
    A question a pupil skipped has no row (a row's answer is 1–5, never empty).
    """
    connection = duckdb.connect()
    connection.execute(f"SET threads = {THREADS}")
    connection.register("school_grades", school_grades(scale).to_arrow())
    connection.register("questions", questions.to_arrow())
    # Respondent ids are pseudonymous and numbered afresh each year, as the survey's own are.
    connection.execute(
        """
        CREATE TABLE pupils AS
        SELECT 'E' || lpad(
                   CAST(row_number() OVER (ORDER BY organisation_number, grade, i) AS VARCHAR), 9, '0'
               ) AS pupil_id,
               organisation_number, municipality_code, grade, school_effect, kommune_effect
        FROM school_grades, range(pupils) AS places(i)
        """
    )
    rows = 0
    for start in range(LATEST_YEAR - years + 1, LATEST_YEAR + 1):
        folder = root / SURVEY / f"school_year={school_year(start)}"
        folder.mkdir(parents=True, exist_ok=True)
        # An answer is a latent score rounded and clipped to 1–5: the question's mean, the school's,
        # kommune's and pupil's parts (older pupils a little less content), and the answer's own noise.
        written = connection.execute(
            f"""
            COPY (
                WITH year_pupils AS (
                    SELECT pupil_id, organisation_number, municipality_code, grade,
                           0.25 * school_effect + 0.1 * kommune_effect
                           + 0.05 * {normal(f"organisation_number, {start}", 1)}
                           + 0.6 * {normal(f"pupil_id, {start}", 2)}
                           - 0.05 * (grade - 5) AS pupil_part
                    FROM pupils
                )
                SELECT p.pupil_id, p.organisation_number, p.municipality_code,
                       CASE WHEN p.grade <= 10 THEN CAST(p.grade AS VARCHAR) ELSE 'vg' || (p.grade - 10) END
                           AS grade,
                       q.question,
                       CAST(least(5, greatest(1, round(
                           q.mean + p.pupil_part + q.spread * {normal(f"p.pupil_id, q.question, {start}", 4)}
                       ))) AS TINYINT) AS answer
                FROM year_pupils AS p CROSS JOIN questions AS q
                WHERE hash(p.pupil_id, q.question, {start}, 3) % 1000 >= {SKIPPED_PER_MILLE}
                ORDER BY p.pupil_id, q.question
            ) TO '{folder}' (FORMAT parquet, PER_THREAD_OUTPUT, FILENAME_PATTERN 'part-{{i}}',
                             FILE_SIZE_BYTES '256MB', OVERWRITE)
            """
        ).fetchone()
        rows += int(written[0]) if written else 0
    connection.close()
    return rows


# --------------------------------------------------------------------------------------------------
# The three aggregations. Each returns the product's survey figures: per school year, level (school,
# municipality, county, national), unit, indicator and grade, the mean over pupils of each pupil's value
# (the mean of an index's questions the pupil answered, or 100/0 for bullied: any bullying question
# answered BULLIED_FROM or higher), the number of pupils and the standard error (SD/√n for a mean,
# √(p(100−p)/n) for a share). Upper-secondary figures have no municipality level (the product's rule).

FIGURE_SCHEMA = pl.Schema(
    {
        "school_year": pl.String,
        "level": pl.String,
        "unit_code": pl.String,
        "indicator": pl.String,
        "grade": pl.String,
        "n": pl.Int64,
        "value": pl.Float64,
        "std_error": pl.Float64,
    }
)
# Svalbard (2100) belongs to no fylke; the product places it under Troms (55) from 2024, Troms og
# Finnmark (54) from 2020.
COUNTY_SQL = (
    "CASE WHEN municipality_code <> '2100' THEN left(municipality_code, 2) "
    "WHEN school_year >= '2024' THEN '55' WHEN school_year >= '2020' THEN '54' ELSE '19' END"
)


def survey_folder(root: Path) -> Path:
    return root / SURVEY


def aggregate_product(root: Path) -> pl.DataFrame:
    """The product's function, on the product's connection (``read_pupil_folder`` opens the same)."""
    from pipelines.pupils.aggregate import survey_figures
    from pipelines.pupils.read import pupil_connection

    with pupil_connection() as connection:
        connection.execute(f"SET threads = {THREADS}")
        figures = survey_figures(connection, survey_folder(root)).pl()
    return figures.select(list(FIGURE_SCHEMA)).cast(FIGURE_SCHEMA)


def aggregate_duckdb(root: Path) -> pl.DataFrame:
    """The same figures as one bare query over the files: no checks, one GROUP BY per pupil, one with
    GROUPING SETS over the levels."""
    from pipelines.pupils.questions import BULLIED_FROM, QUESTIONS

    mapping = ", ".join(
        f"('{question}', '{indicator}', '{rule}')" for question, (indicator, rule) in QUESTIONS.items()
    )
    connection = duckdb.connect()
    connection.execute(f"SET threads = {THREADS}")
    return (
        connection.sql(
            f"""
        WITH mapping(question, indicator, rule) AS (VALUES {mapping}),
        pupils AS (
            SELECT school_year, organisation_number, municipality_code, {COUNTY_SQL} AS county_code,
                   grade, indicator, rule,
                   CASE rule WHEN 'mean' THEN avg(answer)
                             ELSE 100.0 * (max(answer) >= {BULLIED_FROM})::INTEGER END AS value
            FROM read_parquet('{survey_folder(root)}/*/*.parquet', hive_partitioning = true)
            JOIN mapping USING (question)
            GROUP BY school_year, pupil_id, organisation_number, municipality_code, grade, indicator, rule
        ),
        grouped AS (
            SELECT school_year, indicator, grade, rule,
                   CASE WHEN GROUPING(county_code) = 1 THEN 'national'
                        WHEN GROUPING(municipality_code) = 1 THEN 'county'
                        WHEN GROUPING(organisation_number) = 1 THEN 'municipality' ELSE 'school' END AS level,
                   coalesce(organisation_number, municipality_code, county_code, 'I') AS unit_code,
                   count(*) AS n, avg(value) AS value, stddev_samp(value) AS sd
            FROM pupils
            GROUP BY GROUPING SETS (
                (school_year, indicator, grade, rule, county_code, municipality_code, organisation_number),
                (school_year, indicator, grade, rule, county_code, municipality_code),
                (school_year, indicator, grade, rule, county_code),
                (school_year, indicator, grade, rule))
        )
        SELECT school_year, level, unit_code, indicator, grade, n, value,
               CASE rule WHEN 'mean' THEN sd / sqrt(n) ELSE sqrt(value * (100 - value) / n) END AS std_error
        FROM grouped
        WHERE NOT (level = 'municipality' AND grade LIKE 'vg%')
        """
        )
        .pl()
        .cast(FIGURE_SCHEMA)
    )


def aggregate_pandas(root: Path) -> pl.DataFrame:
    """The same figures as a plain pandas script would compute them: read everything, merge, group."""
    import pandas as pd

    from pipelines.pupils.questions import BULLIED_FROM, QUESTIONS

    answers = pd.read_parquet(survey_folder(root))
    mapping = pd.DataFrame(
        [(question, indicator, rule) for question, (indicator, rule) in QUESTIONS.items()],
        columns=["question", "indicator", "rule"],
    )
    answers = answers.merge(mapping, on="question")
    answers["school_year"] = answers["school_year"].astype(str)
    by_pupil = answers.groupby(
        ["school_year", "pupil_id", "organisation_number", "municipality_code", "grade", "indicator", "rule"],
        observed=True,
    )["answer"]
    pupils = pd.concat([by_pupil.mean(), by_pupil.max()], axis=1, keys=["mean", "max"]).reset_index()
    pupils["value"] = pupils["mean"].where(pupils["rule"] == "mean", 100.0 * (pupils["max"] >= BULLIED_FROM))
    svalbard = pupils["school_year"].map(
        lambda year: "55" if year >= "2024" else "54" if year >= "2020" else "19"
    )
    pupils["county_code"] = (
        pupils["municipality_code"].str[:2].where(pupils["municipality_code"] != "2100", svalbard)
    )
    frames = []
    for level, unit in (
        ("school", "organisation_number"),
        ("municipality", "municipality_code"),
        ("county", "county_code"),
        ("national", None),
    ):
        keys = ["school_year", "indicator", "grade", "rule", *([unit] if unit else [])]
        stats = pupils.groupby(keys, observed=True)["value"].agg(["count", "mean", "std"]).reset_index()
        stats["level"] = level
        stats["unit_code"] = stats[unit] if unit else "I"
        frames.append(stats)
    figures = pd.concat(frames, ignore_index=True)
    figures = figures[~((figures["level"] == "municipality") & figures["grade"].str.startswith("vg"))]
    figures["std_error"] = (figures["std"] / figures["count"] ** 0.5).where(
        figures["rule"] == "mean", (figures["mean"] * (100 - figures["mean"]) / figures["count"]) ** 0.5
    )
    figures = figures.rename(columns={"count": "n", "mean": "value"})
    return (
        pl.from_pandas(figures[list(FIGURE_SCHEMA)])
        .cast(FIGURE_SCHEMA)
        .with_columns(pl.col("std_error").fill_nan(None))
    )


AGGREGATIONS: dict[str, Callable[[Path], pl.DataFrame]] = {
    "product": aggregate_product,
    "pandas": aggregate_pandas,
    "duckdb": aggregate_duckdb,
}


def differences(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    """The figures that are in one frame only, or whose n differs or whose mean or SE differs by more
    than the tolerance."""
    joined = left.join(right, on=KEYS, how="full", coalesce=True, suffix="_other")
    return joined.filter(
        pl.col("n").is_null()
        | pl.col("n_other").is_null()
        | (pl.col("n") != pl.col("n_other"))
        | ((pl.col("value") - pl.col("value_other")).abs() > TOLERANCE)
        | (pl.col("std_error").is_null() != pl.col("std_error_other").is_null())
        | ((pl.col("std_error") - pl.col("std_error_other")).abs() > TOLERANCE)
    )


# --------------------------------------------------------------------------------------------------
# Measurement


@dataclass(frozen=True)
class Measurement:
    seconds: float | None  # the aggregation's wall time inside the subprocess; None if it failed
    peak_mb: float  # the subprocess's peak resident set size
    outcome: str  # "ok", or what stopped it
    load: str  # /proc/loadavg's 1, 5 and 15 minute figures when it started


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (PANDAS_CAP_BYTES, PANDAS_CAP_BYTES))


def available_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def measure(method: str, root: Path, figures: Path, scratch: Path) -> Measurement:
    """Run one aggregation in a subprocess of its own; its wall time and peak RSS.

    The peak comes from GNU time, not from wait4 here: Linux carries a process's peak RSS across fork
    and exec, so a child of this (large) process would report at least this one's size. A run that
    leaves the machine less than GUARD_MB is stopped and reported as such.
    """
    load = load_average()
    log, usage = scratch / f"{method}.log", scratch / f"{method}.time"
    command = ["/usr/bin/time", "-o", str(usage), "-f", "%M"]
    command += [sys.executable, __file__, "--measure", method, str(root), str(figures)]
    short_of_memory = None
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=scratch,  # where DuckDB spills (its default temp_directory is relative)
            preexec_fn=cap_memory if method == "pandas" else None,
        )
        while process.poll() is None:
            if short_of_memory is None and available_mb() < GUARD_MB:
                short_of_memory = available_mb()
                children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
                for child in children:
                    os.kill(int(child), signal.SIGKILL)
            time.sleep(0.2)
    text = log.read_text()
    timed = usage.read_text().splitlines()
    peak = int(timed[-1]) / 1024
    if process.returncode == 0:
        return Measurement(json.loads(text.splitlines()[-1])["seconds"], peak, "ok", load)
    if short_of_memory is not None:
        outcome = f"stopped: the machine had {short_of_memory:,} MB left"
    elif "MemoryError" in text or "std::bad_alloc" in text or "Out of Memory" in text:
        outcome = "out of memory"
    elif timed[0].startswith("Command terminated by signal"):
        outcome = f"killed by signal {timed[0].split()[-1]}"
    else:
        outcome = f"failed (exit {process.returncode}): {text.strip().splitlines()[-1][:80]}"
    return Measurement(None, peak, outcome, load)


def run_measured(method: str, dataset: Path, figures: Path) -> None:
    """The subprocess's side: aggregate, time it, keep the figures, print the time as JSON."""
    started = time.perf_counter()
    result = AGGREGATIONS[method](dataset)
    seconds = time.perf_counter() - started
    result.write_parquet(figures)
    print(json.dumps({"seconds": seconds, "figures": result.height}))


def disk_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*.parquet")) / 1024**2


def ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None:
        return "-"
    return f"{numerator / denominator:.2f}"


def generated(root: Path, years: int, scale: float, questions: pl.DataFrame) -> None:
    """Generate ``years`` school years under ``root`` unless its ``generated.json`` says they are there
    (the data are a function of years and scale: see :func:`generate`)."""
    marker = root / "generated.json"
    wanted = {"years": years, "scale": scale, "seed": SEED}
    if marker.exists() and {k: v for k, v in json.loads(marker.read_text()).items() if k in wanted} == wanted:
        print(f"using the {years} year(s) at scale {scale} already in {root}")
        return
    load = load_average()
    started = time.perf_counter()
    rows = generate(root, years, scale, questions)
    print(
        f"generated {years} year(s) at scale {scale}: {rows:,} answer rows in "
        f"{time.perf_counter() - started:.1f} s, {disk_mb(root):,.1f} MB of parquet (load {load})"
    )
    marker.write_text(json.dumps(wanted | {"rows": rows}))


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def benchmark(data: Path, years: list[int], scale: float, repeat: int) -> None:
    questions = question_table()
    print(f"machine: {os.cpu_count()} cores; DuckDB {duckdb.__version__} on {THREADS} threads")
    print(f"pandas capped at {PANDAS_CAP_BYTES / 1024**3:.0f} GB of address space (RLIMIT_AS)")
    longest = max(years)
    full = data / f"years-{longest}"
    generated(full, longest, scale, questions)
    datasets = {}
    for count in sorted(years):
        if count == longest:
            datasets[count] = full
            continue
        # A shorter data set is the latest years of the longest, hard-linked: no second generation.
        root = data / f"years-{count}"
        for start in range(LATEST_YEAR - count + 1, LATEST_YEAR + 1):
            source = full / SURVEY / f"school_year={school_year(start)}"
            target = root / SURVEY / source.name
            target.mkdir(parents=True, exist_ok=True)
            for part in source.iterdir():
                (target / part.name).unlink(missing_ok=True)
                os.link(part, target / part.name)
        datasets[count] = root

    header = (
        f"{'dataset':<10}{'rows':>14}  {'method':<8}{'wall s':>9}{'peak MB':>10}"
        f"{'÷ duckdb':>10}{'pandas ÷':>10}  {'runs (wall s)':<22}{'load avg (1 min)':<20}outcome"
    )
    table = [header, "-" * len(header)]
    for count, root in datasets.items():
        with duckdb.connect() as connection:
            counted = connection.execute(
                f"SELECT count(*) FROM read_parquet('{survey_folder(root)}/*/*.parquet')"
            ).fetchone()
        answers = counted[0] if counted else 0
        scratch = data / f"scratch-{count}"
        scratch.mkdir(exist_ok=True)
        runs: dict[str, list[Measurement]] = {method: [] for method in AGGREGATIONS}
        for _ in range(repeat):
            for method, measured in runs.items():
                if all(result.outcome == "ok" for result in measured):
                    measured.append(measure(method, root, scratch / f"{method}.parquet", scratch))
        walls = {
            method: median([r.seconds for r in measured if r.seconds is not None])
            if all(r.outcome == "ok" for r in measured)
            else None
            for method, measured in runs.items()
        }
        for method, measured in runs.items():
            table.append(
                f"{f'{count} year(s)':<10}{answers:>14,}  {method:<8}"
                f"{f'{walls[method]:.2f}' if walls[method] is not None else '-':>9}"
                f"{median([r.peak_mb for r in measured]):>10,.0f}"
                f"{ratio(walls[method], walls['duckdb']):>10}{ratio(walls['pandas'], walls[method]):>10}  "
                f"{' '.join(f'{r.seconds:.1f}' if r.seconds is not None else '-' for r in measured):<22}"
                f"{' '.join(r.load.split()[0] for r in measured):<20}{measured[-1].outcome}"
            )
            print(table[-1])
        if count == min(years):
            print(agreement(scratch, {method: measured[-1] for method, measured in runs.items()}))
    print()
    print("\n".join(table))
    print(
        "wall s: the median over the runs of the aggregation call inside its subprocess (reading the parquet "
        "files included, the interpreter's start not); peak MB: the median of those subprocesses' peak RSS; "
        "÷ duckdb: wall time over the bare DuckDB query's; pandas ÷: pandas' wall time over this one's (its "
        "speed-up over pandas); load avg: /proc/loadavg's 1-minute figure as each run started."
    )


def agreement(scratch: Path, results: dict[str, Measurement]) -> str:
    finished = [method for method, result in results.items() if result.outcome == "ok"]
    if len(finished) < len(results):
        return f"figures agree: not checked, only {', '.join(finished)} finished"
    frames = {method: pl.read_parquet(scratch / f"{method}.parquet") for method in finished}
    reference = frames["duckdb"]
    problems = {method: differences(frame, reference).height for method, frame in frames.items()}
    if any(problems.values()):
        return "figures agree: NO — " + ", ".join(
            f"{method}: {count} differ from the bare DuckDB query's" for method, count in problems.items()
        )
    return (
        f"figures agree: yes, all three give the same {reference.height:,} figures "
        f"(n exactly, mean and SE within {TOLERANCE:g})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--years", default="1,10", help="comma-separated data set lengths in years")
    parser.add_argument("--scale", type=float, default=1.0, help="share of the national respondents")
    parser.add_argument("--data", type=Path, help="folder for the generated data (kept, and used again)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each method; the median is reported")
    parser.add_argument(
        "--measure", nargs=3, metavar=("METHOD", "DATASET", "FIGURES"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.measure:
        method, dataset, figures = args.measure
        run_measured(method, Path(dataset), Path(figures))
        return
    # Each line as it is measured, also when the output goes to a file (a long run is followed live).
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    years = [int(part) for part in args.years.split(",")]
    if args.data:
        args.data.mkdir(parents=True, exist_ok=True)
        benchmark(args.data, years, args.scale, args.repeat)
    else:
        with tempfile.TemporaryDirectory() as folder:
            benchmark(Path(folder), years, args.scale, args.repeat)


if __name__ == "__main__":
    main()
