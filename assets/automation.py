"""The autumn schedule and a sensor that notices new or changed files in the raw folder."""

import hashlib
from pathlib import Path

import dagster as dg

from pipelines.ingest.files import find_raw_files
from pipelines.resources import UtvalgSettings

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


def raw_folder_fingerprint(raw_dir: Path) -> str:
    """A hash of every export's path, size and modification time (cheap; contents are hashed later)."""
    digest = hashlib.sha256()
    for path in find_raw_files(raw_dir):
        stat = path.stat()
        digest.update(f"{path.relative_to(raw_dir)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


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
