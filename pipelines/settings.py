"""Where things live. Every path can be overridden by an environment variable or a command option."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
REFERENCE_DIR = DATA_DIR / "reference"
SAMPLE_DIR = DATA_DIR / "sample"
REPORTS_DIR = PROJECT_ROOT / "reports"
# The committed result of the last full `utvalg evaluate` run (validation.csv and what is rendered from it).
VALIDATION_DIR = PROJECT_ROOT / "docs"
# The run the *klar kandidat* threshold was chosen on: other seeds than the validation in VALIDATION_DIR.
TUNING_DIR = VALIDATION_DIR / "validation_tuning"


def raw_dir() -> Path:
    """The raw folder: ``UTVALG_RAW`` or the embedded sample data."""
    return Path(os.environ.get("UTVALG_RAW", SAMPLE_DIR))


def warehouse_path() -> Path:
    return Path(os.environ.get("UTVALG_WAREHOUSE", DATA_DIR / "warehouse" / "utvalg.duckdb"))


def register_path() -> Path:
    """The register of records people make (reviews, decisions): ``UTVALG_REGISTER`` or
    ``data/register/register.duckdb``. Never inside the warehouse, which every run replaces."""
    return Path(os.environ.get("UTVALG_REGISTER", DATA_DIR / "register" / "register.duckdb"))


def review_inbox() -> Path:
    """Where returned review workbooks are dropped for the ``review_inbox`` sensor: ``UTVALG_REVIEW_INBOX``
    or ``data/register/inbox``."""
    return Path(os.environ.get("UTVALG_REVIEW_INBOX", DATA_DIR / "register" / "inbox"))


def code_version() -> str:
    """A hash of the project's Python code: outputs record the code that produced them."""
    digest = hashlib.sha256()
    for folder in ("pipelines", "assets"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
