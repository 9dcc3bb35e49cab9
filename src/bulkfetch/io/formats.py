"""The formats files are read and written in: an input opened in its format, and an
output's; the one given, else the one the file's name says."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from bulkfetch.errors import UsageError
from bulkfetch.io.delimited import DelimitedSource
from bulkfetch.io.jsonl import JsonlSource
from bulkfetch.io.parquet import ParquetSource
from bulkfetch.io.sources import Source
from bulkfetch.io.xlsx import XlsxSource

__all__ = [
    "FORMATS",
    "INPUT_FORMATS",
    "OutputFormat",
    "input_format",
    "open_source",
    "output_format",
    "writable",
]

INPUT_FORMATS = ("csv", "tsv", "jsonl", "xlsx", "parquet")
_BY_SUFFIX = {
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
    ".parquet": "parquet",
}


def input_format(path: Path, given: str | None = None) -> str:
    """The format ``given``, else the one the input's name says (delimited text by default:
    CSV, its delimiter found from its header)."""
    if given is not None:
        if given not in INPUT_FORMATS:
            raise UsageError(
                f"the input format is one of {', '.join(INPUT_FORMATS)}; got {given!r}"
            )
        return given
    return _BY_SUFFIX.get(path.suffix.lower(), "csv")


def open_source(
    path: Path,
    *,
    format: str | None = None,
    encoding: str = "utf-8-sig",
    errors: str = "strict",
    delimiter: str | None = None,
    sheet: str | None = None,
) -> Source:
    """The source that reads ``path``."""
    found = input_format(path, format)
    if found == "jsonl":
        return JsonlSource(path)
    if found == "xlsx":
        return XlsxSource(path, sheet)
    if found == "parquet":
        return ParquetSource(path)
    return DelimitedSource(path, encoding, errors, "\t" if found == "tsv" else delimiter)


OutputFormat = Literal["csv", "tsv", "jsonl", "parquet", "xlsx"]
FORMATS: tuple[OutputFormat, ...] = ("csv", "tsv", "jsonl", "parquet", "xlsx")
_OUTPUT_BY_SUFFIX: dict[str, OutputFormat] = {
    "": "csv",  # no extension (and standard output, "-"): CSV
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".xlsx": "xlsx",
}


def writable(out: Path, output: OutputFormat) -> None:
    """Refuse, before any call, an output its format cannot be written to: a workbook or a
    Parquet file to standard output, or one whose library is not installed."""
    needs = {"xlsx": ("XLSX", "openpyxl", "xlsx"), "parquet": ("Parquet", "pyarrow", "parquet")}
    if output not in needs:
        return
    name, library, extra = needs[output]
    if str(out) == "-":
        raise UsageError(f"{name} cannot be written to standard output: give --out a file")
    if importlib.util.find_spec(library) is None:
        raise UsageError(f"writing {name} needs {library}: pip install 'bulkfetch[{extra}]'")


def output_format(out: Path, given: str | None = None) -> OutputFormat:
    """The format ``given``, else the one the output's name says: an extension bulkfetch
    does not write (``.json``, ``.xls``) is refused, never written as CSV under its name."""
    if given is not None:
        if given not in FORMATS:
            raise UsageError(f"the output format is one of {', '.join(FORMATS)}; got {given!r}")
        return given
    suffix = out.suffix.lower()
    found = _OUTPUT_BY_SUFFIX.get(suffix)
    if found is None:
        hint = " (JSON Lines: .jsonl)" if suffix == ".json" else ""
        names = ", ".join(s for s in _OUTPUT_BY_SUFFIX if s)
        raise UsageError(
            f"bulkfetch does not write {suffix} files{hint}: name the output {names}, or give"
            " --format"
        )
    return found
