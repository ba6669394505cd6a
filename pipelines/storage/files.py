"""Files written outside the warehouse are replaced atomically: a killed run leaves the old file whole."""

from __future__ import annotations

import os
from pathlib import Path


class OutputError(RuntimeError):
    """A file could not be written; the message names it and what to do."""


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OutputError(
            f"cannot write {path}: {error.strerror or error}. Free disk space or choose a writable folder, "
            "then run again; nothing of this run was published"
        ) from error
