"""Files on disk: read whole or hashed on the way, written whole or not at all, and an
output checked before any work is done."""

from __future__ import annotations

import glob
import hashlib
import io
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import IO

from bulkfetch.errors import UsageError

__all__ = [
    "Hashing",
    "atomic_file",
    "atomic_text_file",
    "check_output",
    "file_hash",
    "open_binary",
]

CHUNK = 1 << 20


class Hashing(io.RawIOBase):
    """A binary file read through, every byte counted into a SHA-256 as it passes."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.sha256.update(buffer[:n])
        return int(n or 0)

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_binary(path: Path) -> IO[bytes]:
    """An input file, or a usage error that says why it cannot be read."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise UsageError(f"no such input file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not an input file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {os.strerror(exc.errno or 0)}") from None


def file_hash(path: Path) -> str:
    """The SHA-256 of a file's bytes: what identifies its content, whatever its size and
    modification time say."""
    digest = hashlib.sha256()
    with open_binary(path) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
    if _special(out):  # /dev/null, a named pipe: written as it is, nothing beside it
        if not os.access(out, os.W_OK):
            raise UsageError(f"cannot write the output {out}: permission denied")
        return
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.{os.getpid()}.", dir=out.parent)
    except OSError as exc:
        raise UsageError(
            f"cannot write the output {out}: {exc.strerror or exc.__class__.__name__}"
        ) from None
    os.close(fd)
    os.unlink(probe)


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A path to write, that appears at ``path`` whole, or not at all. It is written beside
    it as ``.<name>.<pid>.<random>.part`` and renamed into place; a later writer removes the
    part files of writers that died. A file that is not a regular one (``/dev/null``, a named
    pipe) is written as it is: renaming over it would put a file in its place."""
    if _special(path):
        try:
            yield path
        except OSError as exc:
            raise _unwritable(path, exc) from None
        return
    try:
        _remove_stale_parts(path)
        fd, name = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=".part", dir=path.parent
        )
        os.close(fd)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    temp = Path(name)
    try:
        yield temp
        # mkstemp makes the file private; outputs get the user's default permissions, but
        # never world-writable, whatever the umask.
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask & ~0o002)
        os.replace(temp, path)
    except OSError as exc:  # a full disk while writing, say
        temp.unlink(missing_ok=True)
        raise _unwritable(path, exc) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_text_file(path: Path) -> Iterator[IO[str]]:
    """A UTF-8 text file that appears at ``path`` whole, or not at all."""
    with atomic_file(path) as temp, open(temp, "w", encoding="utf-8", newline="") as handle:
        yield handle


def _special(path: Path) -> bool:
    """Whether ``path`` is there and is not a regular file (nor a folder): a device, a pipe."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


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


def _unwritable(path: Path, exc: OSError) -> UsageError:
    return UsageError(
        f"cannot write the output {path}: {exc.strerror or exc.__class__.__name__} (the"
        " results are kept in the store: fix this and run again; no call is repeated)"
    )
