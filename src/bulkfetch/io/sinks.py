"""Output files: CSV with flat columns, or JSON Lines with the nested answer.

Written to a temporary file beside the target and renamed into place, so an interrupted
write never leaves a half file where a whole one was.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Protocol

from bulkfetch.errors import UsageError

__all__ = [
    "Answers",
    "CsvSink",
    "JsonlSink",
    "OutputRecord",
    "Rendered",
    "Sink",
    "atomic_text_file",
    "check_output",
    "output_names",
]


@dataclass(frozen=True, slots=True)
class Rendered:
    """An answer as a sink writes it (see :meth:`Sink.render`)."""

    lines: Sequence[Sequence[Any]] = ()  # CSV: value cells, a line each (none: one blank line)
    document: Mapping[str, Any] | None = None  # JSON Lines: the nested answer


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """What one input row became: its fields, its status, and its answer as rendered."""

    row_no: int
    fields: Sequence[str]
    status: str
    answer: Rendered = Rendered()
    error: str | None = None


class Answers(Protocol):
    """What a sink needs from an adapter to render a stored body."""

    def output_rows(self, body: str) -> Sequence[Mapping[str, Any]]: ...

    def output_document(self, body: str) -> Mapping[str, Any]: ...


class Sink(Protocol):
    def render(self, answers: Answers, body: str) -> Rendered:
        """A stored body as this sink writes it; the same for every row of one lookup."""
        ...

    def write(self, record: OutputRecord) -> None: ...


def check_output(out: Path, *, not_to: Mapping[str, Path] = MappingProxyType({})) -> None:
    """Refuse, before any work, an output that cannot be written or that would overwrite a
    file of ``not_to`` (``{"the input": path, "the store": path}``): a :class:`UsageError`
    naming it. A link to the same file is the same file."""
    target = out.resolve()
    for role, other in not_to.items():
        if target == other.resolve() or (
            out.exists() and other.exists() and os.path.samefile(out, other)
        ):
            raise UsageError(
                f"the output {out} is {role} ({other}): writing it would destroy it. Give "
                "--out another file"
            )
    if out.is_dir():
        raise UsageError(f"the output {out} is a folder: give --out a file name in it")
    if not out.parent.is_dir():
        what = "is not a folder" if out.parent.exists() else "does not exist"
        raise UsageError(f"cannot write the output {out}: the folder {out.parent} {what}")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.{os.getpid()}.", dir=out.parent)
    except OSError as exc:
        raise UsageError(
            f"cannot write the output {out}: {exc.strerror or exc.__class__.__name__}"
        ) from None
    os.close(fd)
    os.unlink(probe)


def _remove_stale_parts(path: Path) -> None:
    """Remove what a killed writer of ``path`` left: its ``.part`` files, named with the
    process id of the writer, which is no longer alive."""
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        pid = part.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            part.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    return True


@contextmanager
def atomic_text_file(path: Path) -> Iterator[IO[str]]:
    """A text file that appears at ``path`` whole, or not at all. It is written beside it
    as ``.<name>.<pid>.<random>.part`` and renamed into place; a later writer removes the
    part files of writers that died."""
    try:
        _remove_stale_parts(path)
        fd, temp = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=".part", dir=path.parent
        )
    except OSError as exc:
        raise _unwritable(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        # mkstemp makes the file private; outputs get the user's default permissions, but
        # never world-writable, whatever the umask.
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask & ~0o002)
        os.replace(temp, path)
    except OSError as exc:  # a full disk while writing, say
        Path(temp).unlink(missing_ok=True)
        raise _unwritable(path, exc) from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _unwritable(path: Path, exc: OSError) -> UsageError:
    return UsageError(
        f"cannot write the output {path}: {exc.strerror or exc.__class__.__name__} (the"
        " results are kept in the store: fix this and run again; no call is repeated)"
    )


def _distinct_names(header: Sequence[str]) -> list[str]:
    """Header names as object keys: a repeated name gets ``(2)``, ``(3)``... so no field is
    lost to a duplicate key."""
    seen: dict[str, int] = {}
    names = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return names


def _cell(value: Any) -> Any:
    return "" if value is None else value


def output_names(header: Sequence[str], added: Sequence[str]) -> list[str]:
    """The names of the columns bulkfetch adds after the input's: each as given, unless an
    input column has that name; then with ``_`` after it, as many as make it unique
    (``status`` beside an input ``status`` is ``status_``). Input columns keep their names."""
    taken = set(header)
    names = []
    for name in added:
        while name in taken:
            name += "_"
        taken.add(name)
        names.append(name)
    return names


class CsvSink:
    """Input columns, ``row`` (when an answer may fill several lines), ``status``,
    ``error``, the value columns, then the fixed columns (named by :func:`output_names`)."""

    def __init__(
        self, handle: IO[str], header: Sequence[str], columns: Sequence[str], *, row_column: bool
    ) -> None:
        self._writer = csv.writer(handle, lineterminator="\n")
        self._columns = list(columns)
        self._blank = [""] * len(self._columns)
        self._row_column = row_column
        added = [*(["row"] if row_column else []), "status", "error", *self._columns]
        self._writer.writerow([*header, *output_names(header, added)])

    def render(self, answers: Answers, body: str) -> Rendered:
        return Rendered(
            lines=[
                [_cell(line.get(column)) for column in self._columns]
                for line in answers.output_rows(body)
            ]
        )

    def write(self, record: OutputRecord) -> None:
        row = [record.row_no + 1] if self._row_column else []
        error = record.error or ""
        for cells in record.answer.lines or [self._blank]:
            self._writer.writerow([*record.fields, *row, record.status, error, *cells])


class JsonlSink:
    """One JSON object a line: the input row, ``status``, and the answer as the API gave it."""

    def __init__(self, handle: IO[str], header: Sequence[str]) -> None:
        self._handle = handle
        self._header = _distinct_names(header)

    def render(self, answers: Answers, body: str) -> Rendered:
        return Rendered(document=answers.output_document(body))

    def write(self, record: OutputRecord) -> None:
        line: dict[str, Any] = {"input": dict(zip(self._header, record.fields, strict=False))}
        line["status"] = record.status
        if record.answer.document is not None:
            line.update(record.answer.document)
        if record.error is not None:
            line["error"] = record.error
        self._handle.write(json.dumps(line, ensure_ascii=False) + "\n")
