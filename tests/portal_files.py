"""Small statistics-portal files for tests, written byte for byte in Udir's style."""

from __future__ import annotations

from pipelines.ingest.portal_format import UNIT_ID_COLUMNS

ID_COLUMNS = list(UNIT_ID_COLUMNS)


def national(values: list[str]) -> list[str]:
    return [
        "1",
        "I",
        "00",
        "0000",
        "I",
        "Hele landet",
        "Alle fylker",
        "Alle kommuner",
        "Alle skoler",
        *values,
    ]


def county(code: str, name: str, values: list[str]) -> list[str]:
    return [
        "2",
        "I",
        code,
        "0000",
        code,
        "Hele landet",
        name,
        "Alle kommuner",
        "Alle skoler",
        *values,
    ]


def municipality(county_code: str, code: str, name: str, values: list[str]) -> list[str]:
    return ["3", "I", county_code, code, code, "Hele landet", "", name, "Alle skoler", *values]


def school(county_code: str, code: str, orgnr: str, name: str, values: list[str]) -> list[str]:
    return ["4", "I", county_code, code, orgnr, "Hele landet", "", "", name, *values]


def portal_bytes(value_columns: list[str], rows: list[list[str]]) -> bytes:
    lines = ["sep=\t", "\t".join(ID_COLUMNS + value_columns)] + ["\t".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-16-le")


def np5_columns(school_year: str, subject: str = "Lesing") -> list[str]:
    base = f"{school_year}.{subject}.5. årstrinn.Alle eierformer.Alle kjønn"
    return [f"{base}.Skalapoeng", f"{base}.Usikkerhet", f"{base}.Antall elever deltatt"]
