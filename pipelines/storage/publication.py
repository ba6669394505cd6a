"""A run publishes all or nothing: its warehouse, its snapshot and its reports become visible together.

A run never writes what readers see. It works on a copy of the warehouse file (``utvalg.duckdb.run-<id>``),
writes its reports into a folder of its own (``reports/.versions/<school-year>.<id>/``) and its snapshot
into a new file. Publishing is then a short list of atomic steps, written to a journal first: the copy
renamed over the warehouse, the new snapshot renamed over the old one, and each ``reports/<school-year>``
link pointed at the run's folder. A run that fails or is killed before publishing leaves everything as
it was. One killed between the steps leaves a journal, and the next command (:func:`recover`, called
when any run starts and by ``utvalg list``) redoes the steps still pending, so readers get the whole
old state or the whole new one. Report folders are links, so this needs a POSIX file system.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

VERSIONS = ".versions"
KEPT_VERSIONS = 2  # the published folder and the one before it (a browser may still show it)


class PublicationError(RuntimeError):
    """A run could not be published or started; the message names the path and what to do."""


def working_copy(live: Path, run_id: str) -> Path:
    return live.with_name(f"{live.name}.run-{run_id}")


def journal_path(live: Path) -> Path:
    return live.with_name(f"{live.name}.publishing.json")


def versioned_folder(reports_dir: Path, school_year: str, run_id: str) -> Path:
    """Where one run writes the reports of one school year, before they are published."""
    return reports_dir / VERSIONS / f"{school_year}.{run_id}"


# Runs holding a warehouse, by run id: the open lock file (one per run, however many resources ask).
_HELD: dict[str, int] = {}


def _hold(live: Path, run_id: str) -> None:
    """One run at a time per warehouse: another would find its working copy taken for a stale one, and
    two publications would share one journal. The lock goes with the process, killed or not."""
    if run_id in _HELD:
        return
    lock = live.with_name(f"{live.name}.lock")
    handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        os.close(handle)
        raise PublicationError(
            f"another run is using the warehouse {live}: wait for it to finish, then run again"
        ) from error
    _HELD[run_id] = handle


def end_run(run_id: str) -> None:
    """Let the next run have the warehouse (a no-op for a run that holds nothing)."""
    handle = _HELD.pop(run_id, None)
    if handle is not None:
        os.close(handle)


def start_run(live: Path, run_id: str) -> Path:
    """The run's working copy of the warehouse, made once per run from the published file."""
    working = working_copy(live, run_id)
    live.parent.mkdir(parents=True, exist_ok=True)
    _hold(live, run_id)
    if working.exists():
        return working
    recover(live)
    for stale in live.parent.glob(f"{live.name}.run-*"):
        stale.unlink()  # left by a run that failed or was killed: no other run holds the warehouse
    if live.exists():
        try:
            # Opening and closing folds any write-ahead log into the file, so the copy is complete.
            duckdb.connect(str(live)).close()
            shutil.copyfile(live, working)
        except duckdb.IOException as error:
            raise PublicationError(
                f"the warehouse {live} is open in another process (a notebook, `make dev`, another run): "
                f"close it and run again ({error})"
            ) from error
        except OSError as error:
            raise PublicationError(f"cannot copy the warehouse {live} to {working}: {error}") from error
    return working


@dataclass(frozen=True)
class Step:
    """Rename ``source`` over ``target``, or point the link ``target`` at ``source``."""

    kind: str  # "rename" or "link"
    source: str
    target: str


def publish(live: Path, steps: list[Step]) -> None:
    """Write the journal, take every step, then remove the journal."""
    journal = journal_path(live)
    temporary = journal.with_name(f".{journal.name}.tmp")
    try:
        temporary.write_text(json.dumps([step.__dict__ for step in steps], indent=2), encoding="utf-8")
        temporary.replace(journal)
    except OSError as error:
        raise PublicationError(f"cannot write {journal}: {error}; nothing was published") from error
    recover(live)


def recover(live: Path) -> None:
    """Take the steps of an unfinished publication (each step can be taken twice)."""
    journal = journal_path(live)
    if not journal.exists():
        return
    steps = [Step(**step) for step in json.loads(journal.read_text(encoding="utf-8"))]
    for step in steps:
        try:
            if step.kind == "rename":
                if Path(step.source).exists():
                    os.replace(step.source, step.target)
            else:
                _point(Path(step.target), Path(step.source))
        except OSError as error:
            raise PublicationError(
                f"publishing stopped at {step.target}: {error}. Free the space or fix the permission, then "
                "run any utvalg command: it finishes the publication"
            ) from error
    journal.unlink()
    for step in steps:
        if step.kind == "link":
            _prune_versions(Path(step.target), Path(step.source))


def _point(link: Path, folder: Path) -> None:
    """Point ``link`` at ``folder`` in one rename; a real folder left by an older version moves aside."""
    if link.is_symlink() and link.resolve() == folder.resolve():
        return
    if link.exists() and not link.is_symlink():
        link.rename(folder.parent / f"{link.name}.before-versions")
    temporary = link.with_name(f".{link.name}.link")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(os.path.relpath(folder, link.parent))
    os.replace(temporary, link)


def _prune_versions(link: Path, current: Path) -> None:
    """Keep the published folder and the one before it; older versions of this year go."""
    prefix = current.name.rsplit(".", 1)[0] + "."
    versions = sorted(
        (p for p in current.parent.glob(f"{prefix}*") if p.is_dir()), key=lambda p: p.stat().st_mtime
    )
    for old in versions[:-KEPT_VERSIONS]:
        if old.resolve() != link.resolve():
            shutil.rmtree(old, ignore_errors=True)
