"""The review form inside each statsforvalter workbook, as both its writer and its importer see it: where
the table starts, the hidden control sheet, and the fingerprint of the list.

The fingerprint is a SHA-256 of the ``Vurdering`` sheet's headings, listed kommuner and evidence cells
(every cell but the review cells) as their text: whoever edits a name, a figure or a row changes it.
Numbers are written rounded to :data:`DECIMALS` and read back at six decimals, so a workbook saved again
by Excel or LibreOffice (which may write ``0.1`` as ``0.10000000000000001``) keeps its fingerprint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence

from pipelines.vocabulary import REVIEW_FIELDS

REVIEW_SHEET = "Vurdering"
CONTROL_SHEET = "Kontroll"
TITLE_ROW = 0
HEADER_ROW = 2  # zero-based: a title and a line of instructions above the headings
FIRST_ROW = HEADER_ROW + 1
CODE_HEADING = "Kommunenr"
NAME_HEADING = "Kommune"
REVIEW_HEADINGS = tuple(heading for heading, _ in REVIEW_FIELDS.values())
DECIMALS = 4
# The control sheet's keys, in order (column A), with their values in column B.
FORM_VERSION = "1"
CONTROL_KEYS = ("skjema", "kjøring", "skoleår", "embete", "fingeravtrykk")


def cell_text(value: object) -> str:
    """One cell as the fingerprint sees it: empty, a number at six decimals, a date, or the text."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return f"{float(value):.6f}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def list_fingerprint(headings: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The fingerprint of the list from the sheet's headings and its rows (review cells included: they
    are left out here, so a governor's answers never change it)."""
    evidence = [i for i, heading in enumerate(headings) if heading not in REVIEW_HEADINGS]
    digest = hashlib.sha256()
    digest.update("\t".join(headings[i] for i in evidence).encode())
    for row in rows:
        digest.update(b"\n" + "\t".join(cell_text(row[i]) for i in evidence).encode())
    return digest.hexdigest()
