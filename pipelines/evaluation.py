"""`utvalg evaluate`: the methods scored against known truth over scenarios × seeds.

For each scenario and seed: a synthetic sample generated into a temporary folder, the asset graph
materialised up to the selection tables (as `utvalg run` computes them), every method scored
(:func:`pipelines.selection.evaluate.evaluate`). The result is written as the one source of truth,
``validation.csv`` (per seed) with ``validation_reliability.csv``, ``validation_thresholds.csv`` (how
often each probability threshold was right) and a provenance sidecar, and rendered to
``validation.md``; written to the project's ``docs/`` (``settings.VALIDATION_DIR``), the README's block
is rewritten too.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from pipelines.config import Config, load_config
from pipelines.flow import materialise
from pipelines.provenance import provenance_document
from pipelines.sample.generate import TRUTH_FILE, generate_sample
from pipelines.sample.scenario import Scenario as SampleScenario
from pipelines.sample.scenario import load_scenario
from pipelines.selection.evaluate import evaluate
from pipelines.selection.holistic import holistic_scores
from pipelines.selection.validation import (
    MARKDOWN_FILE,
    METRICS_FILE,
    PER_SEED_SCHEMA,
    PROVENANCE_FILE,
    RELIABILITY_FILE,
    RELIABILITY_SCHEMA,
    THRESHOLD_SCHEMA,
    THRESHOLDS_FILE,
    ValidationResult,
    configuration_fingerprint,
    readme_block,
    report_markdown,
    with_readme_block,
)
from pipelines.settings import PROJECT_ROOT, REFERENCE_DIR, VALIDATION_DIR
from pipelines.storage.files import write_atomically

README = PROJECT_ROOT / "README.md"
STANDARD = "standard"  # the built-in generator's name, when no scenario file is given


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path | None  # None: the generator's defaults
    definition: SampleScenario | None = None


def load_scenarios(paths: list[Path] | None) -> list[Scenario]:
    """The scenarios to run, each file checked before any work is done."""
    if not paths:
        return [Scenario(STANDARD, None)]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"scenario file {path} does not exist; pass an existing .toml file")
    return [
        Scenario(definition.name, path, definition) for path in paths for definition in [load_scenario(path)]
    ]


def _generate(seed: int, folder: Path, scenario: Scenario) -> None:
    """The sample for ``seed`` into ``folder``: the one place the generator is called."""
    generate_sample(seed, folder, REFERENCE_DIR, scenario=scenario.definition)


def policy_config(config: Config, scenario: Scenario) -> Config:
    """The configuration the methods run with on a scenario: its truth's area weights and estimand are
    the policy's. Both are choices Udir states before the data are seen (how much each area counts,
    whether a kommune answers for its schools' persistent effects), so a scenario that makes them
    differently is a policy the method is told, not one it must guess."""
    if scenario.definition is None:
        return config
    weights = dict(scenario.definition.truth_area_weights)
    holistic = replace(config.holistic, area_weights=weights, estimand=scenario.definition.estimand)
    return replace(config, holistic=holistic)


def evaluate_seed(
    scenario: Scenario, seed: int, config: Config, config_file: Path
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One scenario × seed: per-method metrics, reliability and precision at the thresholds, keyed by
    scenario and seed. The holistic
    method's table is the run's own, recomputed only when the scenario's policy weights differ."""
    method_config = policy_config(config, scenario)
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "raw"
        _generate(seed, raw, scenario)
        truth = pl.read_csv(raw / TRUTH_FILE, schema_overrides={"municipality_code": pl.String})
        run = materialise(
            Path(folder) / "warehouse.duckdb",
            ["rank_uncertainty", "udir_risk_points"],
            raise_on_error=True,
            raw_dir=str(raw),
            school_year=config.selection.school_year,
            config_file=str(config_file),
        )
        values, schools = run.table("indicator_values"), run.table("school_indicator_values")
        ranks = (
            run.table("rank_uncertainty")
            if method_config == config
            else holistic_scores(values, method_config, school_values=schools).scores
        )
        evaluation = evaluate(values, schools, run.table("udir_risk_points"), ranks, method_config, truth)
    keys = [pl.lit(scenario.name).alias("scenario"), pl.lit(seed, pl.Int64).alias("seed")]
    return (
        evaluation.metrics.select(*keys, pl.all()),
        evaluation.reliability.select(*keys, pl.all()),
        evaluation.thresholds.select(*keys, pl.all()),
    )


def _relative(path: Path) -> str:
    """A scenario file named without the machine's folders: relative to the project when inside it."""
    resolved = path.resolve()
    return (
        resolved.relative_to(PROJECT_ROOT).as_posix() if resolved.is_relative_to(PROJECT_ROOT) else path.name
    )


def run_validation(
    scenarios: list[Scenario], seeds: list[int], config_file: Path, year: str | None = None
) -> ValidationResult:
    config = load_config(config_file)
    config = config.with_year(year) if year else config
    metrics, reliability, thresholds = [], [], []
    for scenario in scenarios:
        for seed in seeds:
            print(f"evaluate: scenario {scenario.name}, seed {seed}", file=sys.stderr, flush=True)
            seed_metrics, seed_reliability, seed_thresholds = evaluate_seed(
                scenario, seed, config, config_file
            )
            metrics.append(seed_metrics)
            reliability.append(seed_reliability)
            thresholds.append(seed_thresholds)
    inputs = pl.DataFrame(
        [
            {"source_file": _relative(s.path), "sha256": hashlib.sha256(s.path.read_bytes()).hexdigest()}
            for s in scenarios
            if s.path is not None
        ],
        schema={"source_file": pl.String(), "sha256": pl.String()},
    )
    provenance = json.loads(
        provenance_document(
            inputs,
            {
                "configuration_sha256": configuration_fingerprint(config),
                "school_year": config.selection.school_year,
                "top_n": config.holistic.top_n,
                "candidate_probability": config.holistic.candidate_probability,
                "scenarios": [s.name for s in scenarios],
                "seeds": seeds,
            },
        )
    )
    return ValidationResult(
        pl.concat(metrics).cast(PER_SEED_SCHEMA),  # type: ignore[arg-type]
        pl.concat(reliability).cast(RELIABILITY_SCHEMA),  # type: ignore[arg-type]
        pl.concat(thresholds).cast(THRESHOLD_SCHEMA),  # type: ignore[arg-type]
        provenance,
    )


def write_validation(result: ValidationResult, out: Path) -> list[Path]:
    """The CSVs, their provenance and the markdown report into ``out``; into the project's ``docs/``,
    the README's block as well."""
    files = {
        out / METRICS_FILE: result.metrics.write_csv(),
        out / RELIABILITY_FILE: result.reliability.write_csv(),
        out / THRESHOLDS_FILE: result.thresholds.write_csv(),
        out / PROVENANCE_FILE: json.dumps(result.provenance, indent=2, sort_keys=True, ensure_ascii=False)
        + "\n",
        out / MARKDOWN_FILE: report_markdown(result),
    }
    if out.resolve() == VALIDATION_DIR.resolve():
        files[README] = with_readme_block(README.read_text(encoding="utf-8"), readme_block(result))
    for path, text in files.items():
        write_atomically(path, text.encode("utf-8"))
    return list(files)
