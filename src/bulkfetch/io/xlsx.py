"""Excel workbooks (.xlsx), read a row at a time with openpyxl (the ``xlsx`` extra): the
first sheet, or the one named; its first row is the header. Cells become text as a person
reads them: whole numbers without ``.0``, dates as ISO dates.

openpyxl streams a sheet's rows, but reads some parts whole (the shared strings, the
styles): a workbook of a few hundred KB can unpack into gigabytes of them. Before openpyxl
opens it, the workbook's zip directory is checked, and what openpyxl would hold of those
parts counted in a streaming parse, against the bounds in :mod:`bulkfetch.io.sources`; a
cell longer than Excel's own limit is refused where it is read."""

from __future__ import annotations

import functools
import pyexpat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bulkfetch.errors import UsageError
from bulkfetch.io.files import CHUNK, file_hash, open_binary
from bulkfetch.io.sources import (
    MAX_CELL_CHARS,
    XLSX_MAX_CELL_CHARS,
    XLSX_MAX_SHARED_STRINGS_BYTES,
    XLSX_READ_BUDGET,
    ZIP_BOMB_FLOOR,
    ZIP_BOMB_RATIO,
    Row,
    text,
)

__all__ = ["XlsxSource"]


@dataclass(frozen=True, slots=True)
class XlsxSource:
    """One sheet of an .xlsx workbook."""

    path: Path
    sheet: str | None = None

    @property
    def name(self) -> str:
        return f"{self.path}" + (f" [{self.sheet}]" if self.sheet else "")

    def header(self) -> list[str]:
        for cells in self._cells():
            return [text(cell) for cell in self._checked(cells, 1)]
        raise UsageError(f"{self.name} is empty: a sheet needs a header row")

    def rows(self, *, on_end: Callable[[str], None] | None = None) -> Iterator[Row]:
        cells = self._cells()
        header = [text(cell) for cell in self._checked(next(cells, ()), 1)]
        width = len(header)
        row_no = 0
        for sheet_row, values in enumerate(cells, 2):  # openpyxl gives missing rows empty
            if all(value is None for value in values):
                continue  # a row a spreadsheet keeps because it was once formatted
            fields = [text(value) for value in self._checked(values[:width], sheet_row)]
            yield row_no, fields + [""] * (width - len(fields))
            row_no += 1
        if on_end is not None:
            on_end(self.content_hash())  # read again: what changed meanwhile shows

    def content_hash(self) -> str:
        return file_hash(self.path)

    def identity(self) -> dict[str, object]:
        return {"path": str(self.path.resolve()), "format": "xlsx", "sheet": self.sheet}

    def _checked(self, values: tuple[Any, ...], sheet_row: int) -> tuple[Any, ...]:
        """``values``, unless one is text longer than Excel's limit: a usage error naming
        the row as the sheet numbers it."""
        for value in values:
            if isinstance(value, str) and len(value) > XLSX_MAX_CELL_CHARS:
                raise UsageError(
                    f"{self.name} row {sheet_row:,} has a cell of {len(value):,} characters, "
                    f"more than Excel's limit of {XLSX_MAX_CELL_CHARS:,}: Excel did not write "
                    "it, and no lookup needs it. Shorten or remove it"
                )
        return values

    def _cells(self) -> Iterator[tuple[Any, ...]]:
        openpyxl = _openpyxl()
        open_binary(self.path).close()  # a missing or unreadable file, said plainly
        stat = self.path.stat()
        _checked_archive(self.path, stat.st_size, stat.st_mtime_ns)
        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a file that is not .xlsx
            raise UsageError(f"cannot read {self.path} as an .xlsx workbook: {exc}") from None
        try:
            if self.sheet is None:
                sheet = book.worksheets[0]
            elif self.sheet in book.sheetnames:
                sheet = book[self.sheet]
            else:
                names = ", ".join(repr(n) for n in book.sheetnames)
                raise UsageError(f"{self.path} has no sheet {self.sheet!r}; it has {names}")
            yield from sheet.iter_rows(values_only=True)
        finally:
            book.close()


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SI = f"{_MAIN} si"  # as expat names it, namespace first
_OVERRIDE = "http://schemas.openxmlformats.org/package/2006/content-types Override"
_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_SHARED_STRINGS = f"{_SHEET}.sharedStrings+xml"
_WORKBOOKS = (  # as openpyxl looks for the workbook part, in this order
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
    f"{_SHEET}.template.main+xml",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    f"{_SHEET}.sheet.main+xml",
)
# Parts openpyxl reads whole in read-only mode (a tree, then objects), by name whatever
# [Content_Types].xml says; besides these, the workbook part it names, and every .rels.
_READ_WHOLE = (
    "[Content_Types].xml",
    "xl/workbook.xml",
    "xl/styles.xml",
    "docProps/core.xml",
    "docProps/custom.xml",
)


@functools.lru_cache(maxsize=16)
def _checked_archive(path: Path, size: int, mtime_ns: int) -> None:
    """:func:`_check_archive`, once for a file as it is (a run reads its header and its
    rows, each through openpyxl, and counting a million shared strings takes seconds)."""
    _check_archive(path)


def _check_archive(path: Path) -> None:
    """Refuse a workbook that would take openpyxl far more memory than any real one: a zip
    bomb, or parts it reads whole (its shared strings, its styles) that hold too much.
    Sizes are the zip directory's own: they are what zipfile holds a part to, since it
    never gives more than a member's declared ``file_size`` (ZipExtFile cuts what it
    decompresses there, and fails the CRC check if more was meant), and a compressed size
    is believed no further than the file's."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a zip at all: openpyxl says so
    with archive:
        on_disk = path.stat().st_size
        for info in archive.infolist():
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                # bzip2 and LZMA decompress a read whole, whatever its size: Excel writes
                # neither.
                raise UsageError(
                    f"cannot read {path} as an .xlsx workbook: its part {info.filename} is "
                    "compressed in a way Excel never writes"
                )
            packed = max(1, min(info.compress_size, on_disk))
            if info.file_size > ZIP_BOMB_FLOOR and info.file_size > ZIP_BOMB_RATIO * packed:
                raise UsageError(
                    f"{path} is refused: its part {info.filename} unpacks to "
                    f"{info.file_size:,} bytes from {packed:,}, as a zip bomb does (a real "
                    "spreadsheet's parts are at most a few dozen times smaller packed). "
                    "Save the sheet again from Excel, or as CSV"
                )
        names = set(archive.namelist())
        types = _content_types(archive)
        whole = {*_READ_WHOLE, *(types[t] for t in _WORKBOOKS if t in types)}
        whole |= {name for name in names if name.endswith(".rels")}
        tally = _Tally(XLSX_READ_BUDGET)
        for name in sorted(whole & names):
            _count(path, archive, name, tally)
        strings = types.get(_SHARED_STRINGS)
        if strings is not None and strings in names:
            size = archive.getinfo(strings).file_size
            if size > XLSX_MAX_SHARED_STRINGS_BYTES:
                raise UsageError(
                    f"{path} is refused: its shared strings ({strings}) are {size:,} bytes, "
                    f"more than the {XLSX_MAX_SHARED_STRINGS_BYTES:,} read (all at once, into "
                    "memory). Save the sheet as CSV, which is read a row at a time"
                )
            _count(path, archive, strings, tally, strings=True)
            if tally.longest > MAX_CELL_CHARS:
                raise UsageError(
                    f"{path} is refused: shared string {tally.longest_at:,} in {strings} is "
                    f"longer than {MAX_CELL_CHARS:,} characters, far more than Excel's limit "
                    f"of {XLSX_MAX_CELL_CHARS:,} for a cell"
                )


def _content_types(archive: zipfile.ZipFile) -> dict[str, str]:
    """The first part [Content_Types].xml names for the shared strings and for each kind of
    workbook (as openpyxl finds them)."""
    wanted = {_SHARED_STRINGS, *_WORKBOOKS}
    found: dict[str, str] = {}

    def start(name: str, attrs: dict[str, str]) -> None:
        kind = attrs.get("ContentType", "")
        if name == _OVERRIDE and kind in wanted and kind not in found:
            found[kind] = attrs.get("PartName", "")[1:]

    try:
        with archive.open("[Content_Types].xml") as source:
            _parse(source, start)
    except (KeyError, pyexpat.ExpatError, zipfile.BadZipFile, OSError):
        pass  # openpyxl refuses it
    return found


def _count(
    path: Path, archive: zipfile.ZipFile, name: str, tally: _Tally, *, strings: bool = False
) -> None:
    """Add what openpyxl will hold of part ``name`` to ``tally``: a usage error once the
    whole is past its budget."""
    tally.begin(strings=strings)
    try:
        with archive.open(name) as source:
            _parse(source, tally.start, tally.end, tally.text)
    except (pyexpat.ExpatError, zipfile.BadZipFile, OSError):
        pass  # openpyxl refuses it, having read as far: the tally so far stands
    except _Over:
        counted = f"{tally.strings:,} shared strings" if strings else f"{tally.elements:,} elements"
        raise UsageError(
            f"{path} is refused: reading it would take openpyxl more than "
            f"{XLSX_READ_BUDGET >> 20:,} MB of memory, passed in its part {name} "
            f"({counted} or more). Save the sheet as CSV, which is read a row at a time"
        ) from None


class _Over(Exception):
    """What a workbook's parts need has passed the budget (found before their end)."""


class _Tally:
    """What openpyxl will hold once it has read the parts it reads whole, counted as a
    streaming parse of each goes. Of shared strings it keeps, for each <si>, the element
    (cleared) and its text as a str in a list, and every other element whole, with its
    attributes and text; an <si>'s own children live only until it ends. Of other parts it
    keeps the tree and the objects made from it, at once. Costs measured with openpyxl 3.1
    on CPython 3.11, 1,000,000 of each: 96 to 159 bytes an <si> with its str, 88 an element
    kept, 340 one with an attribute (a dict); 614 a style (<xf/>), tree and object. Past
    ``budget`` bytes in all, the parse stops: :class:`_Over`."""

    STRING = 160  # the cleared element, its places in two lists, the str's own header
    ELEMENT = 95
    OBJECT = 700  # an element of a part made into openpyxl's objects, the element with it
    ATTRIBUTES = 210  # the dict, beside each attribute's value
    ATTRIBUTE = 60
    COPIES = 3  # strs of the longest text at once while it is parsed, joined and cleaned

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self.strings = 0
        self.elements = 0
        self.kept = 0  # bytes of what openpyxl keeps
        self.longest = 0  # characters of the longest string
        self.longest_at = 0  # its number, from 1
        self._longest_bytes = 0
        self._in_strings = False
        self._depth = 0
        self._string_at = 0  # the depth of the <si> being read; 0 outside one
        self._transient = 0  # bytes of the elements of the <si> being read
        self._transient_most = 0
        self._chars = 0  # characters of the <si> being read
        self._width = 1  # bytes a character of its str

    def begin(self, *, strings: bool) -> None:
        """Count a part of shared strings next, or one read whole."""
        self._in_strings, self._depth, self._string_at = strings, 0, 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self._depth += 1
        self.elements += 1
        cost = self.ELEMENT if self._in_strings else self.OBJECT
        if attrs:
            cost += self.ATTRIBUTES + sum(self.ATTRIBUTE + len(v) for v in attrs.values())
        if self._string_at:
            self._transient += cost
            if self._transient > self._transient_most:
                self._transient_most = self._transient
        elif self._in_strings and name == _SI:
            self.strings += 1
            self.kept += self.STRING
            self._string_at, self._transient, self._chars, self._width = self._depth, cost, 0, 1
        else:
            self.kept += cost
        # estimate(), inline: this runs for every element of a part
        if self.kept + self._transient_most + self.COPIES * self._longest_bytes > self._budget:
            raise _Over

    def end(self, name: str) -> None:
        if self._depth == self._string_at:
            self._string_at = 0
            self.kept += self._chars * self._width
        self._depth -= 1

    def text(self, data: str) -> None:
        width = 1 if data.isascii() else _width(data)
        if not self._string_at:
            self.kept += len(data) * width
            return
        self._chars += len(data)
        self._width = max(self._width, width)
        if self._chars > self.longest:
            self.longest, self.longest_at = self._chars, self.strings
            self._longest_bytes = self._chars * self._width

    def estimate(self) -> int:
        """Bytes openpyxl needs to read the parts counted."""
        return self.kept + self._transient_most + self.COPIES * self._longest_bytes


def _width(data: str) -> int:
    """Bytes a character of a str holding ``data`` takes: 1, 2 or 4, as its widest needs."""
    widest = ord(max(data))
    return 1 if widest <= 0xFF else 2 if widest <= 0xFFFF else 4


def _parse(source: IO[bytes], start: Callable[[str, dict[str, str]], None], *handlers: Any) -> None:
    """Feed a part to expat a chunk at a time (in flat memory: character data comes in
    pieces), namespaces resolved as openpyxl resolves them."""
    parser = pyexpat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    if handlers:
        parser.EndElementHandler, parser.CharacterDataHandler = handlers
    while chunk := source.read(CHUNK):
        parser.Parse(chunk, False)
    parser.Parse(b"", True)


def _openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError:
        raise UsageError(
            "reading .xlsx files needs openpyxl: pip install 'bulkfetch[xlsx]'"
        ) from None
    return openpyxl
