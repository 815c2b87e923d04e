"""Small helpers for secret files: atomic no-clobber create, strict reads."""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from .errors import KeyFileError


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` (mode 0700) if missing."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def create_exclusive(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Atomically create ``path`` holding ``data``; never replace an existing file.

    Write a uniquely named temporary file (``O_CREAT|O_EXCL|O_NOFOLLOW``, mode
    set with fchmod so the umask cannot widen or narrow it), fsync it, then
    ``link()`` it to the final name.  ``link`` is the no-clobber form of
    ``rename``: if another process won the race it fails with EEXIST and we
    keep the winner's file.  Readers therefore see either no file or the full
    content, never a partial file, and two processes never end up using two
    different keys under one name.  Returns True if this call created it.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        created = True
    except FileExistsError:
        created = False
    finally:
        os.unlink(tmp)
    if created:
        _fsync_dir(path.parent)
    return created


def read_private(path: Path, *, what: str, max_size: int = 1 << 20) -> bytes:
    """Read a secret file, refusing one that is group/other accessible or not regular.

    ``what`` names the file's role in error messages (e.g. "KEK file").
    """
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise KeyFileError(f"{what} is not a regular file")
            if st.st_mode & 0o077:
                raise KeyFileError(f"{what} permissions are too open (must be 0600, no group/other access)")
            data = fh.read(max_size + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeyFileError(f"{what} cannot be read ({exc.__class__.__name__})") from None
    if len(data) > max_size:
        raise KeyFileError(f"{what} is too large")
    return data
