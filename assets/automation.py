"""The autumn schedule, a sensor that notices new or changed files in the raw folder, and one that
imports the review workbooks dropped in the inbox."""

import hashlib
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from pipelines import settings
from pipelines.ingest.files import find_raw_files
from pipelines.pupils.read import pupil_files
from pipelines.register.store import Register
from pipelines.resources import UtvalgSettings
from pipelines.review.imports import import_path, review_files

everything = dg.define_asset_job(
    "autumn_selection",
    selection=dg.AssetSelection.all(),
    description="Ingest, harmonise, select and publish for the configured school year.",
)

# Udir's autumn round: statistics for the finished school year are out by late September.
autumn_schedule = dg.ScheduleDefinition(
    name="autumn_selection_schedule",
    job=everything,
    cron_schedule="0 6 1 10 *",
    execution_timezone="Europe/Oslo",
    description="1 October, 06:00: the yearly selection run.",
)


def files_fingerprint(paths: Iterable[Path], root: Path) -> str:
    """A hash of the files' paths (below ``root``), sizes and modification times: cheap, so a sensor can
    tell whether anything changed; contents are hashed by the run."""
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def raw_folder_fingerprint(raw_dir: Path) -> str:
    """Every export's and pupil-level file's path, size and modification time."""
    return files_fingerprint(find_raw_files(raw_dir) + pupil_files(raw_dir), raw_dir)


@dg.sensor(job=everything, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def new_raw_files(context: dg.SensorEvaluationContext, utvalg: UtvalgSettings) -> dg.SensorResult:
    """Starts a run when files are added to, changed in or removed from the raw folder."""
    raw_dir = Path(utvalg.raw_dir)
    if not raw_dir.is_dir():
        return dg.SensorResult(skip_reason=f"raw folder {raw_dir} does not exist")
    fingerprint = raw_folder_fingerprint(raw_dir)
    if fingerprint == context.cursor:
        return dg.SensorResult(skip_reason="no new or changed files")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=fingerprint)], cursor=fingerprint)


def inbox_fingerprint(inbox: Path) -> str:
    """The inbox's workbooks' names, sizes and modification times."""
    return files_fingerprint(review_files(inbox), inbox)


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def review_inbox(context: dg.SensorEvaluationContext, utvalg: UtvalgSettings) -> dg.SensorResult:
    """Imports the governors' returned workbooks dropped in the inbox folder (UTVALG_REVIEW_INBOX) into the
    register, as `utvalg review import` does; the tick's log names every file imported or refused."""
    inbox = settings.review_inbox()
    if not inbox.is_dir():
        return dg.SensorResult(skip_reason=f"inbox folder {inbox} does not exist")
    fingerprint = inbox_fingerprint(inbox)
    if fingerprint == context.cursor:
        return dg.SensorResult(skip_reason="no new or changed workbooks")
    report = import_path(
        inbox,
        utvalg.published_folder,
        utvalg.config.selection.school_year,
        Register(settings.register_path()),
    )
    for line in report.lines():
        (context.log.warning if line.startswith("refused") else context.log.info)(line)
    summary = (
        f"{len(report.imported)} imported, {len(report.already)} already imported, "
        f"{len(report.refused)} refused, {report.conflicts.height} changed answers"
    )
    return dg.SensorResult(skip_reason=summary, cursor=fingerprint)
