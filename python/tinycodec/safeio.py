"""Files in and out, the one place for it: atomic outputs, regular-file inputs, OSErrors as one line.

Outputs: `atomic_write(path, data)` / `with atomic_open(path) as f:` write to a temporary name in the same
folder (`.NAME.XXXX.tmp`), fsync it, rename it over NAME and fsync the folder. An interrupted run (Ctrl-C,
SIGTERM, a full disk, a crash, a power cut) leaves either the old NAME or the new one, never half of one; the
temporary file is removed on every error the process survives (only SIGKILL or a power cut can leave one).
`check_outputs(paths)` validates output paths before any work starts (writable folder, not a directory,
no name twice).

Inputs: `open_input(path)` opens only regular files (a FIFO, a device or a socket would block or never end),
without blocking on open, and bounded in size.

Every OSError becomes a `FileError` whose message is one line naming the path (`os_error_line`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import TinycodecError

__all__ = [
    "FileError",
    "atomic_open",
    "atomic_write",
    "atomic_copy",
    "check_output",
    "check_outputs",
    "open_input",
    "os_error_line",
    "reason",
]


class FileError(TinycodecError):
    """A file that cannot be read or written; the message is one line that names it."""


_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for this file system or process limit",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ELOOP: "symlink loop: too many levels of symbolic links",
    errno.EISDIR: "is a directory",
    errno.ENOTDIR: "a component of the path is not a directory",
    errno.ENOENT: "no such file or directory",
    errno.ENAMETOOLONG: "file name too long",
    errno.EEXIST: "already exists",
    errno.EIO: "input/output error (failing disk or network file system?)",
    errno.EMFILE: "too many open files",
    errno.ENXIO: "no such device",
    errno.ETXTBSY: "file busy",
}


def reason(e: OSError) -> str:
    """A short, lower-case reason for an OSError (its errno), without the path."""
    if e.errno in _REASONS:
        return _REASONS[e.errno]
    return (e.strerror or str(e) or type(e).__name__).splitlines()[0]


def os_error_line(e: OSError, path: str | os.PathLike[str] | None = None, action: str = "") -> str:
    """One line: '<path>: [<action>: ]<reason>' (path: the given one, else the error's own filename)."""
    name = path if path is not None else e.filename
    what = f"{action} ({reason(e)})" if action else reason(e)
    if e.filename2 is not None and path is None:
        return f"{name} -> {e.filename2}: {what}"
    return f"{name}: {what}" if name is not None else what


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


# -- inputs ----------------------------------------------------------------------------------------------------
def open_input(path: str | os.PathLike[str], what: str = "a file", max_bytes: int | None = None) -> IO[bytes]:
    """Open a regular file for reading (binary). Refuses directories, FIFOs, devices and sockets before
    reading a byte (open never blocks: O_NONBLOCK, then the descriptor is checked with fstat) and files larger
    than max_bytes. Raises FileError with one line naming the path."""
    path = os.fspath(path)
    try:
        st = os.stat(path)  # follows symlinks: a loop is ELOOP, a dangling link ENOENT
    except OSError as e:
        raise FileError(os_error_line(e, path, "cannot read")) from None
    _check_input_stat(path, st, what, max_bytes)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise FileError(os_error_line(e, path, "cannot read")) from None
    try:
        _check_input_stat(path, os.fstat(fd), what, max_bytes)  # the file may have been swapped since stat
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_input_stat(path: str, st: os.stat_result, what: str, max_bytes: int | None) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise FileError(f"{path}: is a directory, expected {what}")
    if not stat.S_ISREG(st.st_mode):
        raise FileError(f"{path}: is {_kind(st.st_mode)}, expected {what} (a regular file)")
    if max_bytes is not None and st.st_size > max_bytes:
        raise FileError(f"{path}: {st.st_size} bytes is more than the {max_bytes}-byte limit for {what}")


# -- outputs ---------------------------------------------------------------------------------------------------
def check_output(path: str | os.PathLike[str], what: str = "output file") -> Path:
    """Validate an output file path without creating anything: an existing target must be a regular file, the
    nearest existing ancestor a writable directory (missing folders are created when writing). Raises FileError."""
    p = Path(path)
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):  # missing, or under a regular file: the ancestor check says
        st = None
    except OSError as e:
        raise FileError(os_error_line(e, p, f"cannot write the {what}")) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise FileError(f"{p}: is a directory, expected a path for the {what}")
        if not stat.S_ISREG(st.st_mode):
            raise FileError(f"{p}: is {_kind(st.st_mode)}; the {what} must be a regular file")
    check_dir_writable(p.parent if str(p.parent) else Path("."), what)
    return p


def check_dir_writable(d: Path, what: str = "output") -> None:
    """The folder (or, if missing, its nearest existing ancestor) must be a writable directory."""
    d = Path(d)
    anc = d
    while True:
        try:
            st = os.stat(anc)
            break
        except FileNotFoundError:
            if anc.parent == anc:
                raise FileError(f"{d}: no existing folder above it") from None
            anc = anc.parent
        except OSError as e:
            raise FileError(os_error_line(e, anc, f"cannot write the {what} under it")) from None
    if not stat.S_ISDIR(st.st_mode):
        raise FileError(f"{anc}: is {_kind(st.st_mode)}, not a folder: cannot write the {what} under it")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise FileError(f"{anc}: folder is not writable: cannot write the {what}")


def output_dir(path: Path) -> Path:
    """Create an output directory (with its parents) and check it is writable; FileError (one line) if not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FileError(f"{path}: cannot create output directory ({e.strerror})") from None
    if not os.access(path, os.W_OK):
        raise FileError(f"{path}: output directory is not writable")
    return path


def check_outputs(paths: Iterable[tuple[str | os.PathLike[str], str]]) -> list[Path]:
    """check_output for each (path, what), and refuse a path named twice (two outputs would overwrite each
    other) with one line naming both."""
    seen: dict[str, str] = {}
    out = []
    for path, what in paths:
        p = check_output(path, what)
        key = os.path.normcase(os.path.realpath(p))  # never raises, even on a symlink loop
        if key in seen:
            raise FileError(f"{p}: would be written twice ({seen[key]} and {what}); give different names")
        seen[key] = what
        out.append(p)
    return out


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("Umask:")).split()[1], 8)
    old = os.umask(0o022)  # no /proc: read it the classic way (at import, before threads start)
    os.umask(old)
    return old


_UMASK = _umask()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """`with atomic_open(p, "w") as f: f.write(...)`: f is a temporary file next to p; on a clean exit it is
    flushed, fsynced and renamed to p (then the folder is fsynced). On any exception the temporary file is
    removed and p is untouched; an OSError becomes a FileError naming p. Missing parent folders are created.
    p itself must be a regular file or not exist (a symlink is replaced, not followed)."""
    if not any(c in mode for c in "wx") or "+" in mode:
        raise ValueError(f"atomic_open: write-only modes only, got {mode!r}")
    p = Path(path)
    tmp: str | None = None
    try:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", str(p))
            raise FileError(f"{p}: is {_kind(st.st_mode)}, not replaced (outputs must be regular files)")
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        os.fchmod(fd, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_UMASK)
        with open(fd, mode.replace("x", "w"), **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
        tmp = None
        _fsync_dir(p.parent)
    except OSError as e:
        raise FileError(os_error_line(e, p, "cannot write")) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def atomic_write(path: str | os.PathLike[str], data: bytes | str, encoding: str = "utf-8") -> Path:
    """Write data (bytes, or str as UTF-8 text) to path atomically (see atomic_open). Returns the path."""
    if isinstance(data, str):
        with atomic_open(path, "w", encoding=encoding, newline="") as f:
            f.write(data)
    else:
        with atomic_open(path, "wb") as f:
            f.write(data)
    return Path(path)


def atomic_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Copy a file's bytes to dst atomically."""
    with open_input(src, "a file to copy") as f:
        data = f.read()
    return atomic_write(dst, data)


def _fsync_dir(d: Path) -> None:
    """Make the rename durable. Some file systems cannot fsync a directory (EINVAL): not an error."""
    try:
        fd = os.open(d, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)
