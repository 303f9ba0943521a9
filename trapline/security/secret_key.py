"""The node's secret key: signs session cookies; made once, shared by every worker through a file.

The file (``DATA_DIR/secret.key``) holds 32 random bytes as hex and is
readable by its owner only (mode 0600). The first process to need it writes a
complete key to a private temporary file (O_EXCL) and publishes it with
``link``, which fails when the name exists: of two processes racing, one key
wins, the other process reads it, and nobody ever reads a half-written file.
Deleting the file signs everyone out at the next start.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from trapline.errors import TraplineError

__all__ = ["SECRET_BYTES", "SecretKeyError", "load_or_create_secret"]

SECRET_BYTES = 32


class SecretKeyError(TraplineError):
    """The secret key file cannot be read or written, is corrupt, or is readable by others."""


def load_or_create_secret(path: Path) -> bytes:
    """The key stored at ``path``, creating it (random, mode 0600) when there is none."""
    path = Path(path)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    _create(path)
    try:
        return _read(path)
    except FileNotFoundError as exc:
        raise SecretKeyError(f"secret key {path} vanished while it was created") from exc


def _read(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SecretKeyError(f"cannot read secret key {path}: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretKeyError(f"secret key {path} is not a regular file")
        if info.st_mode & 0o077:
            raise SecretKeyError(f"secret key {path} is readable by other users "
                                 f"(mode {stat.S_IMODE(info.st_mode):04o}); chmod 600 it")
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) < SECRET_BYTES:
        raise SecretKeyError(f"secret key {path} is corrupt (expected {SECRET_BYTES * 2} hex "
                             "digits); delete it to make a new one (signs everyone out)")
    return key


def _create(path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, secrets.token_bytes(SECRET_BYTES).hex().encode("ascii") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)  # atomic, and refuses to replace: the first key wins
        except FileExistsError:
            return
        _fsync_folder(path.parent)
    except OSError as exc:
        raise SecretKeyError(f"cannot create secret key {path}: {exc.strerror or exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
