"""The ``utvalg`` command: the pipeline without the Dagster UI.

Exit codes: 0 success, 1 bad input (a file that cannot be parsed, a missing folder), 2 wrong usage,
3 a failed run or check.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from pipelines import settings
from pipelines.config import DEFAULT_CONFIG, ConfigError, load_config
from pipelines.ingest.portal_format import ExportFormatError
from pipelines.reference.registers import NEWEST_STRUCTURE, RegisterError
from pipelines.register.store import RegisterWriteError
from pipelines.review.records import RecordError
from pipelines.storage.files import write_atomically
from pipelines.vocabulary import ON_LIST

if TYPE_CHECKING:
    from pipelines.flow import FlowRun

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


class RunFailed(Exception):
    """A run failed; what went wrong has been printed. ``code`` is the command's exit code."""

    def __init__(self, code: int) -> None:
        self.code = code


def _log_dir(args: argparse.Namespace, warehouse: Path) -> Path:
    """Where Dagster's record of a run goes (the console gets one line per stage): beside the
    warehouse for `utvalg run`; for the commands that use a temporary warehouse, under $DAGSTER_HOME
    (else the system's temporary folder), so that it outlives the run."""
    if args.command == "run":
        return warehouse.parent / "logs"
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) / "logs" if home else Path(tempfile.gettempdir()) / "utvalg-logs"


def _stage(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _run_flow(args: argparse.Namespace, warehouse: Path, targets: list[str], reports: str) -> FlowRun:
    """Materialise ``targets`` of the asset graph (all when empty) for the command; the one way every
    command gets its tables. On failure, prints the errors and raises :class:`RunFailed`."""
    from pipelines.flow import materialise

    # A wrong configuration file or year fails here, plainly, before any work.
    config = load_config(Path(args.config))
    school_year = config.with_year(args.year).selection.school_year if args.year else ""
    if not Path(args.raw).is_dir():
        raise FileNotFoundError(f"raw folder {args.raw} does not exist; pass --raw DIR or set UTVALG_RAW")
    quiet = getattr(args, "quiet", False)
    run = materialise(
        warehouse,
        targets,
        persistent_instance=args.command == "run",
        log_dir=_log_dir(args, warehouse),
        on_stage=None if quiet else _stage,
        raw_dir=str(args.raw),
        target_structure=args.target_structure,
        config_file=str(args.config),
        school_year=school_year,
        allow_missing=args.allow_missing,
        reports_dir=reports,
        progress=args.command != "run" and not quiet,
        # `utvalg run` reuses what is unchanged since the last run it published; --full recomputes it all.
        reuse=args.command == "run" and not args.full,
    )
    if run.success:
        return run
    failures = run.failures()
    for failure in failures:
        hint = " Fix or remove the file and run again." if failure.error == "ExportFormatError" else ""
        print(f"utvalg {args.command}: {failure.message}{hint}", file=sys.stderr)
    failed = run.failed_checks()
    if failed:
        print(f"utvalg {args.command}: failed checks: {', '.join(failed)}", file=sys.stderr)
    bad_input = bool(failures) and all(f.bad_input for f in failures)
    if not bad_input and run.log_file is not None:
        print(f"utvalg {args.command}: the run's full log: {run.log_file}", file=sys.stderr)
    raise RunFailed(EXIT_BAD_INPUT if bad_input else EXIT_FAILED)


def quarantine_report(quarantine: pl.DataFrame, limit: int = 10) -> list[str]:
    """Rows left out, counted per stage and reason, each with the first file:line it happened at.

    Reasons that quote the value (``found '12,x'``) are counted together: a person wants the kinds of
    problem, not one line per bad cell.
    """
    if quarantine.is_empty():
        return ["quarantined: 0 rows"]
    stage = pl.col("stage") if "stage" in quarantine.columns else pl.lit("")
    kinds = (
        quarantine.with_columns(
            stage.alias("stage"),
            pl.col("reason")
            .str.replace_all(r"'[^']*'", "'…'")
            .str.replace_all(r"\(found [^)]*\)", "(found …)"),
            pl.format("{}:{}", "source_file", pl.col("source_line").fill_null(0)).alias("at"),
        )
        .sort("source_file", "source_line", nulls_last=True)
        .group_by("stage", "reason", maintain_order=True)
        .agg(pl.len().alias("rows"), pl.col("at").first())
        .sort("rows", "stage", "reason", descending=[True, False, False])
    )
    lines = [f"quarantined: {quarantine.height} rows"]
    lines += [
        f"  {rows:>7} {stage + ': ' if stage else ''}{reason} (first: {at.removesuffix(':0')})"
        for stage, reason, rows, at in kinds.head(limit).iter_rows()
    ]
    if kinds.height > limit:
        lines.append(f"  … and {kinds.height - limit} more kinds of reason")
    return lines


def command_export(args: argparse.Namespace) -> int:
    from pipelines.provenance import provenance_document

    if args.table != "observations":
        return _export_table(args)
    with tempfile.TemporaryDirectory() as folder:
        run = _run_flow(args, Path(folder) / "warehouse.duckdb", ["harmonised_observations"], folder)
        harmonised, files = run.table("harmonised_observations"), run.table("raw_files")
        quarantine = run.table("quarantine")
    out = Path(args.out)
    write_atomically(out, harmonised.write_csv().encode("utf-8"))
    # Written every time, empty or not, so that a file left by an earlier export cannot mislead.
    quarantine_file = out.with_suffix(".quarantine.csv")
    write_atomically(quarantine_file, quarantine.write_csv().encode("utf-8"))
    provenance = provenance_document(files, {"target_structure": args.target_structure})
    write_atomically(out.with_name(out.name + ".provenance.json"), provenance.encode("utf-8"))
    print(f"wrote {harmonised.height} harmonised rows from {files.height} files to {out}")
    print("\n".join(quarantine_report(quarantine)))
    if quarantine.height:
        print(f"every quarantined row, with file, line, column and reason: {quarantine_file}")
    return EXIT_OK


def _export_table(args: argparse.Namespace) -> int:
    """Any warehouse table to CSV (``observations`` is special: harmonised from the raw folder)."""
    from pipelines.storage.warehouse import Warehouse

    warehouse = Warehouse(Path(args.warehouse))
    tables = warehouse.tables()
    if args.table not in tables:
        known = ", ".join(tables) if tables else "none yet: run `utvalg run` first"
        print(f"utvalg export: no table {args.table!r} in {warehouse.path}; tables: {known}", file=sys.stderr)
        return EXIT_USAGE
    frame = warehouse.read(args.table)
    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    frame = frame.with_columns(pl.col(name).cast(pl.List(pl.String)).list.join("; ") for name in nested)
    write_atomically(Path(args.out), frame.write_csv().encode("utf-8"))
    print(f"wrote {frame.height} rows of {args.table} to {args.out}")
    return EXIT_OK


def command_list(args: argparse.Namespace) -> int:
    """What the pipeline has produced: warehouse tables, snapshot and reports."""
    from pipelines.storage.publication import recover
    from pipelines.storage.warehouse import Warehouse

    warehouse = Warehouse(Path(args.warehouse))
    recover(warehouse.path)  # a run killed while publishing is finished first
    if not warehouse.path.exists():
        print(f"no warehouse at {warehouse.path}: run `utvalg run` (or `make run`) first")
        return EXIT_OK
    print(f"warehouse {warehouse.path}")
    with warehouse.connect(read_only=True) as connection:
        for table in warehouse.tables():
            count = connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            print(f"  {table:<32}{count:>10} rows")
    snapshot = warehouse.path.with_name("snapshot.duckdb")
    print(f"snapshot {snapshot}" + ("" if snapshot.exists() else " (not published yet)"))
    reports = Path(args.reports)
    for folder in (
        sorted(p for p in reports.iterdir() if p.is_dir() and not p.name.startswith("."))
        if reports.exists()
        else []
    ):
        files = [p for p in folder.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files) / 1e6
        print(f"reports {folder}: {len(files)} files, {size:.1f} MB")
        for path in sorted(folder.glob("*.*")):
            print(f"  {path.name}")
    return EXIT_OK


def _summary(database: Path) -> str:
    from pipelines.storage.warehouse import Warehouse

    warehouse = Warehouse(database)
    files = warehouse.read("raw_files")
    observations = warehouse.read("observations", ["source", "school_year", "suppressed"])
    quarantine = warehouse.read("quarantine")
    quarantined_per_year = quarantine.group_by(
        "source", pl.col("source_column").str.extract(r"^(\d{4}-\d{2})").fill_null("–").alias("school_year")
    ).agg(pl.len().alias("quarantined"))
    per_year = (
        observations.group_by("source", "school_year")
        .agg(pl.len().alias("rows"), pl.col("suppressed").sum().alias("suppressed"))
        .join(quarantined_per_year, on=["source", "school_year"], how="full", coalesce=True)
        .with_columns(pl.col("rows", "suppressed", "quarantined").fill_null(0))
        .sort("source", "school_year")
    )
    quarantined = quarantine.group_by("source", "stage").len().sort("source", "stage")
    by_source = ", ".join(
        f"{source}: {count}" for source, count in files.group_by("source").len().sort("source").iter_rows()
    )
    lines = [
        f"files read: {files.height} ({by_source})",
        f"observations: {observations.height} rows, {int(observations['suppressed'].sum())} suppressed",
        *quarantine_report(quarantine),
        "",
        f"{'source':<20}{'school year':<13}{'rows':>10}{'suppressed':>12}{'quarantined':>13}",
    ]
    lines += [f"{s:<20}{y:<13}{r:>10}{p:>12}{q:>13}" for s, y, r, p, q in per_year.iter_rows()]
    if quarantined.height:
        lines += ["", "quarantine by source and stage (every row: `utvalg export quarantine --out FILE`):"]
        lines += [f"  {s:<20}{st:<12}{n:>8}" for s, st, n in quarantined.iter_rows()]
    lines += ["", f"warehouse: {database}"]
    return "\n".join(lines)


def command_run(args: argparse.Namespace) -> int:
    database = Path(args.warehouse)
    started = time.perf_counter()
    _run_flow(args, database, [], str(args.reports))
    elapsed = time.perf_counter() - started
    print(_summary(database))
    reports = Path(args.reports)
    for folder in (
        sorted(p for p in reports.iterdir() if p.is_dir() and not p.name.startswith("."))
        if reports.exists()
        else []
    ):
        print(f"reports: {folder} (candidates.csv, statsforvaltere/, dashboard/index.html)")
    print(f"snapshot for notebooks: {database.with_name('snapshot.duckdb')}")
    print(f"materialised in {elapsed:.1f} s")
    return EXIT_OK


def command_select(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(args.warehouse) if args.warehouse else Path(folder) / "warehouse.duckdb"
        run = _run_flow(args, database, ["candidate_files"], str(args.out))
        candidates, quarantined = run.table("candidates"), run.table("quarantine").height
        listed = run.metadata("candidates")
        written = run.metadata("candidate_files")
    elapsed = time.perf_counter() - started
    scored = candidates["holistic_score"].drop_nulls().len()
    print(
        f"{listed['school_year']} (window {listed['window']}): {scored} kommuner scored, "
        f"{candidates.filter(ON_LIST).height} on the list or borderline; {quarantined} rows quarantined"
    )
    for name in sorted(written["sizes"]):
        print(f"  {Path(written['folder']) / name}")
    print(f"selection in {elapsed:.1f} s")
    return EXIT_OK


def command_sample(args: argparse.Namespace) -> int:
    from pipelines.sample.generate import SCHOOL_YEARS, generate_sample
    from pipelines.sample.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(Path(args.scenario)) if args.scenario else None
    except ScenarioError as error:
        print(f"utvalg: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    pupil_years = SCHOOL_YEARS if args.pupils else ()
    summary = generate_sample(args.seed, Path(args.out), settings.REFERENCE_DIR, scenario, pupil_years)
    print(json.dumps(summary, indent=2, default=str))
    return EXIT_OK


def command_evaluate(args: argparse.Namespace) -> int:
    from pipelines.evaluation import load_scenarios, run_validation, write_validation
    from pipelines.sample.scenario import ScenarioError

    try:
        scenarios = load_scenarios([Path(path) for path in args.scenario] if args.scenario else None)
    except ScenarioError as error:
        print(f"utvalg evaluate: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    result = run_validation(scenarios, args.seeds, Path(args.config), args.year)
    for path in write_validation(result, Path(args.out)):
        print(f"wrote {path}")
    return EXIT_OK


def command_review(args: argparse.Namespace) -> int:
    """Import returned review workbooks; exit 1 when any was refused (the others are imported)."""
    from pipelines.register.store import Register
    from pipelines.review.imports import import_path

    config = load_config(Path(args.config))
    school_year = (
        config.with_year(args.year).selection.school_year if args.year else config.selection.school_year
    )
    report = import_path(
        Path(args.path),
        Path(args.reports) / school_year,
        school_year,
        Register(Path(args.register)),
        args.office,
    )
    for line in report.lines():
        print(line, file=sys.stderr if line.startswith("refused") else sys.stdout)
    if not (report.imported or report.already or report.refused):
        print(f"utvalg review import: no .xlsx file in {args.path}", file=sys.stderr)
    return EXIT_BAD_INPUT if report.refused else EXIT_OK


def _school_year(args: argparse.Namespace) -> str:
    config = load_config(Path(args.config))
    return config.with_year(args.year).selection.school_year if args.year else config.selection.school_year


def _recorded(rows: pl.DataFrame, version: int | None, what: str) -> int:
    if version is None:
        print(f"{what}: {rows.height} rows, the same as the list in force: nothing recorded")
    else:
        print(f"{what}: {rows.height} rows recorded, version {version}")
    return EXIT_OK


def command_decide(args: argparse.Namespace) -> int:
    """Record Udir's decisions on the published list (a CSV or the returned summary workbook)."""
    from pipelines.register.store import Register
    from pipelines.review.scheme_commands import decide

    rows, version = decide(
        Path(args.path), Path(args.reports) / _school_year(args), Register(Path(args.register))
    )
    offered = int((rows["decision"] == "tilbud").sum())
    return _recorded(rows, version, f"decisions for {rows['school_year'][0]} ({offered} offered a place)")


def command_scheme_import(args: argparse.Namespace) -> int:
    """Record the historic cohorts of the scheme, mapped to today's kommuner."""
    from pipelines.reference.mapping import load_changes
    from pipelines.reference.registers import load_registers
    from pipelines.register.store import Register
    from pipelines.review.scheme_commands import import_scheme

    registers, changes = load_registers(settings.REFERENCE_DIR), load_changes(settings.REFERENCE_DIR)
    lists = Path(args.lists) if args.lists else None
    rows, version = import_scheme(
        Path(args.path), registers, changes, NEWEST_STRUCTURE, Register(Path(args.register)), lists
    )
    for row in rows.filter(pl.col("link") != "unchanged").iter_rows(named=True):
        print(
            f"{row['source_code']} ({row['first_school_year']}) → {row['municipality_code']}: {row['link']}"
        )
    return _recorded(rows, version, "historic cohorts")


def command_applications_import(args: argparse.Namespace) -> int:
    """Record the year's applications."""
    from pipelines.reference.registers import load_registers
    from pipelines.register.store import Register
    from pipelines.review.scheme_commands import import_application_list

    year = _school_year(args)
    rows, version = import_application_list(
        Path(args.path),
        year,
        load_registers(settings.REFERENCE_DIR),
        NEWEST_STRUCTURE,
        Register(Path(args.register)),
    )
    return _recorded(rows, version, f"applications for {year}")


def command_review_summary(args: argparse.Namespace) -> int:
    """Write the summary workbook of the governors' recommendations for Udir."""
    from pipelines.register.store import Register
    from pipelines.review.scheme_commands import write_summary

    table = write_summary(
        Path(args.reports) / _school_year(args), Register(Path(args.register)), Path(args.out)
    )
    print(f"wrote {args.out}: {table.height} kommuner")
    return EXIT_OK


def _register_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--year", help="school year of the published list (default: the configuration's)")
    command.add_argument(
        "--config", default=str(DEFAULT_CONFIG), help="selection configuration (default: %(default)s)"
    )
    command.add_argument(
        "--reports", default=str(settings.REPORTS_DIR), help="reports folder (default: %(default)s)"
    )
    command.add_argument(
        "--register", default=str(settings.register_path()), help="register file (default: %(default)s)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="utvalg",
        description="Udir's selection of school owners for state support: ingest Udir's exports, "
        "harmonise them to one kommune structure, and produce the candidate lists.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_common(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--raw",
            default=str(settings.raw_dir()),
            help="folder of Udir export files (default: %(default)s)",
        )
        command.add_argument(
            "--target-structure",
            type=int,
            default=NEWEST_STRUCTURE,
            help="kommune structure to map every year to (default: %(default)s, the newest)",
        )
        command.add_argument(
            "--config", default=str(DEFAULT_CONFIG), help="selection configuration (default: %(default)s)"
        )
        command.add_argument(
            "--year", help="newest school year of the window, e.g. 2025-26 (default: the configuration's)"
        )
        command.add_argument(
            "--allow-missing",
            action="store_true",
            help="select on the data there is when a source lacks a school year of the window (the "
            "outputs say what is missing); default: stop and name it",
        )

    run = commands.add_parser("run", help="materialise every asset on a raw folder and print a summary")
    add_common(run)
    run.add_argument(
        "--warehouse",
        default=str(settings.warehouse_path()),
        help="DuckDB file (default: %(default)s)",
    )
    run.add_argument(
        "--reports", default=str(settings.REPORTS_DIR), help="reports folder (default: %(default)s)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument(
        "--full",
        action="store_true",
        help="recompute every asset (default: reuse the assets whose inputs, configuration and code are "
        "unchanged since the last run)",
    )
    run.set_defaults(handler=command_run)

    export = commands.add_parser(
        "export",
        help="write a table to CSV without the Dagster UI",
        description="observations: harmonised_observations computed from --raw with the assets' code; "
        "any other name: that table of the warehouse (see `utvalg list`).",
    )
    export.add_argument("table", help="observations, or a warehouse table such as candidates")
    add_common(export)
    export.add_argument(
        "--warehouse", default=str(settings.warehouse_path()), help="DuckDB file (default: %(default)s)"
    )
    export.add_argument("--out", required=True, help="CSV file to write")
    export.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
    export.set_defaults(handler=command_export)

    select = commands.add_parser(
        "select", help="ingest a raw folder and write the candidate lists for a school year"
    )
    add_common(select)
    select.add_argument(
        "--out", required=True, help="reports folder: the lists go to OUT/<school-year>/candidates.csv, …"
    )
    select.add_argument(
        "--warehouse", help="keep the tables in this DuckDB file (default: a temporary one, removed after)"
    )
    select.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
    select.set_defaults(handler=command_select)

    listing = commands.add_parser("list", help="list what was produced: tables, snapshot, reports")
    listing.add_argument(
        "--warehouse", default=str(settings.warehouse_path()), help="DuckDB file (default: %(default)s)"
    )
    listing.add_argument(
        "--reports", default=str(settings.REPORTS_DIR), help="reports folder (default: %(default)s)"
    )
    listing.set_defaults(handler=command_list)

    sample = commands.add_parser("sample", help="generate the synthetic national sample")
    sample.add_argument("--seed", type=int, default=2026, help="random seed (default: %(default)s)")
    sample.add_argument("--out", required=True, help="folder to write the exports and truth.csv to")
    sample.add_argument(
        "--scenario",
        metavar="FILE.toml",
        help="the generator's knobs, e.g. data/scenarios/tunge_haler.toml (default: the standard scenario)",
    )
    sample.add_argument(
        "--pupils",
        action="store_true",
        help="also write the pupil-level datasets behind the exports to OUT/elevdata/ (docs/pupil_data.md)",
    )
    sample.set_defaults(handler=command_sample)

    evaluation = commands.add_parser(
        "evaluate",
        help="score the methods against known truth on synthetic scenarios × seeds",
        description="For each scenario and seed: generate a sample, run the selection, score the holistic "
        "method, the raw composite, Udir's rule and an oracle against the sample's truth. Writes "
        "validation.csv (per seed), validation_reliability.csv, validation_thresholds.csv, their "
        "provenance and validation.md to "
        "--out; into the project's docs/ (the default) it also rewrites the README's validation block.",
    )
    evaluation.add_argument(
        "--scenario",
        nargs="+",
        metavar="FILE",
        help="scenario files (.toml); default: the built-in generator, named 'standard'",
    )
    evaluation.add_argument(
        "--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="default: 1 2 3 4 5"
    )
    evaluation.add_argument(
        "--year", help="newest school year of the window, e.g. 2025-26 (default: the configuration's)"
    )
    evaluation.add_argument(
        "--config", default=str(DEFAULT_CONFIG), help="selection configuration (default: %(default)s)"
    )
    evaluation.add_argument(
        "--out", default=str(settings.VALIDATION_DIR), help="folder for the report (default: %(default)s)"
    )
    evaluation.set_defaults(handler=command_evaluate)

    review = commands.add_parser("review", help="the governors' reviews: import returned workbooks")
    review_commands = review.add_subparsers(dest="action", required=True, metavar="ACTION")
    importing = review_commands.add_parser(
        "import",
        help="import returned review workbooks into the register",
        description="Checks each workbook against the run published now (reports/<school-year>): run id, "
        "school year, office, the kommuner listed and every evidence cell, and the review values. Imports "
        "the good ones (a changed workbook is a new version; one imported before is skipped), names every "
        "refused one with its file, sheet and cell, and lists answers that changed since an office's "
        "previous version. Exit code 1 when any workbook was refused.",
    )
    importing.add_argument("path", help="a returned workbook, or a folder of them")
    importing.add_argument(
        "--office", help="the office that sent them (default: the one each workbook names)"
    )
    importing.add_argument("--year", help="school year of the published run (default: the configuration's)")
    importing.add_argument(
        "--config", default=str(DEFAULT_CONFIG), help="selection configuration (default: %(default)s)"
    )
    importing.add_argument(
        "--reports", default=str(settings.REPORTS_DIR), help="reports folder (default: %(default)s)"
    )
    importing.add_argument(
        "--register", default=str(settings.register_path()), help="register file (default: %(default)s)"
    )
    importing.set_defaults(handler=command_review)
    summary = review_commands.add_parser(
        "summary",
        help="the summary workbook for Udir: every office's recommendations beside the evidence",
        description="Writes every kommune under review (the published list and applicants) with the "
        "evidence, each office's latest imported answer (or that it has not answered) and a column for "
        "Udir's decision, which `utvalg decide` reads back.",
    )
    summary.add_argument("--out", required=True, help="the workbook to write (.xlsx)")
    _register_options(summary)
    summary.set_defaults(handler=command_review_summary)

    deciding = commands.add_parser(
        "decide",
        help="record Udir's decision on the published list",
        description="FILE: a CSV with the columns skoleår, kommunenummer, beslutning (tilbud / ikke "
        "tilbud), or the summary workbook with its column 'Udirs beslutning' filled in. Every kommune must "
        "be on the published list or an applicant. Nothing is recorded if anything is wrong (exit 1). "
        "Those offered a place start their support the next school year.",
    )
    deciding.add_argument("path", help="the decision list (.csv) or the returned summary workbook (.xlsx)")
    _register_options(deciding)
    deciding.set_defaults(handler=command_decide)

    scheme = commands.add_parser("scheme", help="Oppfølgingsordningen's historic cohorts")
    scheme_commands = scheme.add_subparsers(dest="action", required=True, metavar="ACTION")
    scheme_import = scheme_commands.add_parser(
        "import",
        help="record the historic cohorts (CSV: kommunenummer, første skoleår)",
        description="Kommune numbers of earlier structures are mapped to today's; a split kommune's "
        "cohort goes to every successor. The latest import is the list in force.",
    )
    scheme_import.add_argument("path", help="the cohort list (.csv)")
    scheme_import.add_argument(
        "--lists",
        help="the lists the cohorts were chosen from (.csv: første skoleår, kommunenummer, rangering), "
        "every ranked kommune; the follow-up's discontinuity uses these ranks instead of remaking the lists",
    )
    _register_options(scheme_import)
    scheme_import.set_defaults(handler=command_scheme_import)

    applications = commands.add_parser("applications", help="school owners' own applications for support")
    application_commands = applications.add_subparsers(dest="action", required=True, metavar="ACTION")
    application_import = application_commands.add_parser(
        "import",
        help="record the year's applications (CSV: eier, dato, begrunnelse)",
        description="eier: a kommune's (four digits) or fylkeskommune's (two digits) number; dato within "
        "the school year; begrunnelse: a short reason. The latest import for a school year is in force.",
    )
    application_import.add_argument("path", help="the application list (.csv)")
    _register_options(application_import)
    application_import.set_defaults(handler=command_applications_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except RunFailed as failed:
        return failed.code
    except ExportFormatError as error:
        print(
            f"utvalg: cannot read an export: {error}\nFix or remove the file and run again.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except (FileNotFoundError, RegisterError, ConfigError, RegisterWriteError, RecordError) as error:
        print(f"utvalg: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
