"""Parquet, with pyarrow (the ``parquet`` extra): a file read a batch of rows at a time, and
an output written a batch at a time, its value columns typed (whole numbers, numbers,
booleans, text) as the answers' values are."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bulkfetch.adapter import Answers
from bulkfetch.errors import UsageError
from bulkfetch.io.files import file_hash, open_binary
from bulkfetch.io.records import (
    OutputRecord,
    Rendered,
    added_columns,
    distinct_names,
    output_names,
)
from bulkfetch.io.sources import MAX_CELL_CHARS, ZIP_BOMB_FLOOR, ZIP_BOMB_RATIO, Row, text

__all__ = ["ColumnTypes", "ParquetSink", "ParquetSource"]

_BATCH = 10_000  # rows a batch, read or written


@dataclass(frozen=True, slots=True)
class ParquetSource:
    """A Parquet file; its columns are its schema's, its values read as text."""

    path: Path

    @property
    def name(self) -> str:
        return str(self.path)

    def header(self) -> list[str]:
        return list(self._file().schema_arrow.names)

    def rows(self, *, on_end: Callable[[str], None] | None = None) -> Iterator[Row]:
        row_no = 0
        for batch in self._file().iter_batches(batch_size=_BATCH):
            self._check_cells(batch, row_no)
            columns = [column.to_pylist() for column in batch.columns]
            for values in zip(*columns, strict=True):
                yield row_no, [text(value) for value in values]
                row_no += 1
        if on_end is not None:
            on_end(self.content_hash())  # read again: what changed meanwhile shows

    def content_hash(self) -> str:
        return file_hash(self.path)

    def identity(self) -> dict[str, object]:
        return {"path": str(self.path.resolve()), "format": "parquet"}

    def _check_cells(self, batch: Any, first_row: int) -> None:
        """A usage error for a text cell longer than ``MAX_CELL_CHARS``, found in Arrow's
        own buffers before any cell of the batch becomes a Python str."""
        pa = _pyarrow()
        import pyarrow.compute as pc

        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            kind = column.type
            if pa.types.is_string(kind) or pa.types.is_large_string(kind):
                lengths, unit = pc.utf8_length(column), "characters"
            elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
                lengths, unit = pc.binary_length(column), "bytes"
            else:
                continue
            longest = pc.max(lengths).as_py()
            if longest is not None and longest > MAX_CELL_CHARS:
                at = pc.index(pc.greater(lengths, MAX_CELL_CHARS), True).as_py()
                raise UsageError(
                    f"{self.path} data row {first_row + at + 1:,} has a cell ({name!r}) of "
                    f"{longest:,} {unit}, more than the {MAX_CELL_CHARS:,} read: no lookup "
                    "needs it. Shorten or remove it"
                )

    def _file(self) -> Any:
        parquet = _pyarrow().parquet
        open_binary(self.path).close()  # a missing or unreadable file, said plainly
        try:
            file = parquet.ParquetFile(self.path)
        except Exception as exc:  # pyarrow's ArrowInvalid and kin
            raise UsageError(f"cannot read {self.path} as Parquet: {exc}") from None
        self._check_packing(file)
        return file

    def _check_packing(self, file: Any) -> None:
        """Refuse a column chunk that unpacks out of all proportion, as a zip bomb does:
        pyarrow unpacks a page whole, and holds a value three times over as it reads it (a
        200 MB cell packed into 7 KB took 700 MB). Its pages are already encoded (values
        as a dictionary, runs of one counted), so that real data packs a few times, no more.
        A declared packed size is believed no further than the file's size."""
        meta, on_disk = file.metadata, self.path.stat().st_size
        for group in range(meta.num_row_groups):
            chunks = meta.row_group(group)
            for column in range(chunks.num_columns):
                chunk = chunks.column(column)
                size = chunk.total_uncompressed_size
                packed = max(1, min(chunk.total_compressed_size, on_disk))
                if size > ZIP_BOMB_FLOOR and size > ZIP_BOMB_RATIO * packed:
                    raise UsageError(
                        f"{self.path} is refused: its column {chunk.path_in_schema!r} (row "
                        f"group {group + 1}) unpacks to {size:,} bytes from {packed:,}, as a "
                        "zip bomb does; no real data packs that much once encoded. Write the "
                        "file again, or as CSV"
                    )


class ColumnTypes:
    """Each value column's type over the answers shown to it: ``int`` when all its values
    are whole numbers, ``float`` when all are numbers, ``bool`` when all are booleans,
    else ``str``."""

    def __init__(self, answers: Answers) -> None:
        self._answers = answers
        self.types: dict[str, str] = {}

    def add(self, body: str) -> None:
        try:
            lines = self._answers.output_rows(body)
        except Exception:  # its rows are written failed, with no values to type
            return
        for line in lines:
            for column, value in line.items():
                if value is not None:
                    self.types[column] = _wider(self.types.get(column), _kind(value))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def _wider(known: str | None, seen: str) -> str:
    if known is None or known == seen:
        return seen
    if {known, seen} == {"int", "float"}:
        return "float"
    return "str"


class ParquetSink:
    """Input columns (text), ``row``, ``status``, ``error``, then the value and fixed
    columns, typed by ``types`` (text where unknown), written ``_BATCH`` rows at a time."""

    def __init__(
        self,
        path: Path,
        header: Sequence[str],
        columns: Sequence[str],
        titles: Sequence[str] | None = None,
        *,
        row_column: bool,
        types: Mapping[str, str],
    ) -> None:
        pa = _pyarrow()
        self._pa = pa
        self._columns = list(columns)
        self._row_column = row_column
        added = added_columns(self._columns if titles is None else titles, row_column=row_column)
        names = [*distinct_names(header), *output_names(header, added)]
        arrow = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
        fields = [pa.field(name, pa.string()) for name in names[: len(header)]]
        if row_column:
            fields.append(pa.field(names[len(header)], pa.int64()))
        extra = names[len(header) + int(row_column) :]
        fields.append(pa.field(extra[0], pa.string()))  # status
        fields.append(pa.field(extra[1], pa.string()))  # error
        for name, column in zip(extra[2:], self._columns, strict=True):
            fields.append(pa.field(name, arrow.get(types.get(column, "str"), pa.string())))
        self._schema = pa.schema(fields)
        self._text = [str(types.get(c, "str")) == "str" for c in self._columns]
        self._writer = pa.parquet.ParquetWriter(path, self._schema)
        self._pending: list[list[Any]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self._flush()
        self._writer.close()

    def render(self, answers: Answers, body: str) -> Rendered:
        return Rendered(
            lines=[
                [
                    text(line.get(column)) if as_text else line.get(column)
                    for column, as_text in zip(self._columns, self._text, strict=True)
                ]
                for line in answers.output_rows(body)
            ]
        )

    def write(self, record: OutputRecord) -> None:
        row = [record.row_no + 1] if self._row_column else []
        blank = [None] * len(self._columns)
        for cells in record.answer.lines or [blank]:
            self._pending.append([*record.fields, *row, record.status, record.error, *cells])
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        columns = list(zip(*self._pending, strict=True))
        arrays = [
            self._pa.array(values, type=field.type)
            for values, field in zip(columns, self._schema, strict=True)
        ]
        self._writer.write_table(self._pa.Table.from_arrays(arrays, schema=self._schema))
        self._pending = []


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise UsageError("Parquet needs pyarrow: pip install 'bulkfetch[parquet]'") from None
    return pyarrow
