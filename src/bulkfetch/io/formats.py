"""An input file opened in its format: the one given, else the one its name says."""

from __future__ import annotations

from pathlib import Path

from bulkfetch.errors import UsageError
from bulkfetch.io.delimited import DelimitedSource
from bulkfetch.io.jsonl import JsonlSource
from bulkfetch.io.parquet import ParquetSource
from bulkfetch.io.sources import Source
from bulkfetch.io.xlsx import XlsxSource

__all__ = ["INPUT_FORMATS", "input_format", "open_source"]

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
