"""The ``utvalg`` command: the pipeline without the Dagster UI.

Exit codes: 0 success, 1 bad input (a file that cannot be parsed, a missing folder), 2 wrong usage,
3 a failed run or check.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from pipelines import settings
from pipelines.config import DEFAULT_CONFIG, ConfigError, load_config
from pipelines.harmonise.from_folder import harmonised_from_folder
from pipelines.ingest.portal_format import ExportFormatError
from pipelines.reference.registers import NEWEST_STRUCTURE, ReferenceError
from pipelines.storage.files import write_atomically

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


def command_export(args: argparse.Namespace) -> int:
    from pipelines.provenance import provenance_document

    if args.table != "observations":
        return _export_table(args)
    folder = harmonised_from_folder(Path(args.raw), args.target_structure, progress=not args.quiet)
    parsed, quarantine, harmonised = folder.parsed, folder.quarantine, folder.harmonised
    out = Path(args.out)
    buffer = harmonised.write_csv()
    write_atomically(out, buffer.encode("utf-8"))
    provenance = provenance_document(
        parsed.files, {"raw": str(args.raw), "target_structure": args.target_structure}
    )
    write_atomically(out.with_name(out.name + ".provenance.json"), provenance.encode("utf-8"))
    print(
        f"wrote {harmonised.height} harmonised rows from {parsed.files.height} files to {out} "
        f"({quarantine.height} rows quarantined)"
    )
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
    from pipelines.storage.warehouse import Warehouse

    warehouse = Warehouse(Path(args.warehouse))
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
    for folder in sorted(p for p in reports.iterdir() if p.is_dir()) if reports.exists() else []:
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
        f"quarantined: {quarantine.height} rows",
        "",
        f"{'source':<20}{'school year':<13}{'rows':>10}{'suppressed':>12}{'quarantined':>13}",
    ]
    lines += [f"{s:<20}{y:<13}{r:>10}{p:>12}{q:>13}" for s, y, r, p, q in per_year.iter_rows()]
    if quarantined.height:
        lines += ["", "quarantine by source and stage:"]
        lines += [f"  {s:<20}{st:<12}{n:>8}" for s, st, n in quarantined.iter_rows()]
    lines += ["", f"warehouse: {database}"]
    return "\n".join(lines)


def command_run(args: argparse.Namespace) -> int:
    import dagster as dg

    from pipelines.definitions import build_definitions

    database = Path(args.warehouse)
    definitions = build_definitions(
        str(database), raw_dir=str(args.raw), target_structure=args.target_structure, reports_dir=args.reports
    )
    started = time.perf_counter()
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    job = definitions.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    elapsed = time.perf_counter() - started
    if not result.success:
        messages: list[str] = []
        for event in result.all_events:
            if event.is_failure and event.event_specific_data is not None:
                error = getattr(event.event_specific_data, "error", None)
                # Unwrap Dagster's wrappers down to the project's own error, not its causes.
                while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
                    error = error.cause
                if error is not None and error.message.strip() not in messages:
                    hint = (
                        " Fix or remove the file and run again."
                        if error.cls_name == "ExportFormatError"
                        else ""
                    )
                    messages.append(error.message.strip() + hint)
        for message in messages:
            print(f"utvalg run: {message}", file=sys.stderr)
        failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
        if failed:
            print(f"utvalg run: failed checks: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAILED
    print(_summary(database))
    reports = Path(args.reports)
    for folder in sorted(p for p in reports.iterdir() if p.is_dir()) if reports.exists() else []:
        print(f"reports: {folder} (candidates.csv, statsforvaltere/, dashboard/index.html)")
    print(f"snapshot for notebooks: {database.with_name('snapshot.duckdb')}")
    print(f"materialised in {elapsed:.1f} s")
    return EXIT_OK


def command_select(args: argparse.Namespace) -> int:
    from pipelines.outputs.candidate_files import write_candidate_files
    from pipelines.provenance import provenance_document
    from pipelines.reference.registers import load_registers, municipality_register
    from pipelines.selection.candidates import run_selection

    config = load_config(Path(args.config))
    if args.year:
        config = config.with_year(args.year)
    started = time.perf_counter()
    folder = harmonised_from_folder(Path(args.raw), args.target_structure, progress=not args.quiet)
    parsed, quarantine, harmonised = folder.parsed, folder.quarantine, folder.harmonised
    register = municipality_register(load_registers(settings.REFERENCE_DIR), args.target_structure)
    result = run_selection(harmonised, register, config)
    out = Path(args.out)
    provenance = provenance_document(
        parsed.files,
        {"raw": str(args.raw), "target_structure": args.target_structure, "selection": config.as_dict()},
    )
    written = write_candidate_files(result.candidates, result.county_candidates, out, provenance)
    elapsed = time.perf_counter() - started
    listed = result.candidates.filter(
        pl.col("udir_category").is_not_null() | (pl.col("tier") != "klart ikke")
    )
    scored = result.candidates["holistic_score"].drop_nulls().len()
    print(
        f"{config.selection.school_year} (window {', '.join(result.window)}): "
        f"{scored} kommuner scored, {listed.height} on a list or borderline; "
        f"{quarantine.height} rows quarantined"
    )
    for path in written:
        print(f"  {path}")
    print(f"selection in {elapsed:.1f} s")
    return EXIT_OK


def command_sample(args: argparse.Namespace) -> int:
    from pipelines.sample.generate import generate_sample

    summary = generate_sample(args.seed, Path(args.out), settings.REFERENCE_DIR)
    print(json.dumps(summary, indent=2, default=str))
    return EXIT_OK


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
    export.add_argument("--quiet", action="store_true", help="no progress bar")
    export.set_defaults(handler=command_export)

    select = commands.add_parser(
        "select", help="ingest a raw folder and write the candidate lists for a school year"
    )
    add_common(select)
    select.add_argument("--year", help="newest school year of the window, e.g. 2025-26 (default: config)")
    select.add_argument(
        "--config", default=str(DEFAULT_CONFIG), help="selection configuration (default: %(default)s)"
    )
    select.add_argument("--out", required=True, help="folder for candidates.csv, fylkeskommuner.csv, …")
    select.add_argument("--quiet", action="store_true", help="no progress bar")
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
    sample.set_defaults(handler=command_sample)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ExportFormatError as error:
        print(
            f"utvalg: cannot read an export: {error}\nFix or remove the file and run again.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except (FileNotFoundError, ReferenceError, ConfigError) as error:
        print(f"utvalg: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
