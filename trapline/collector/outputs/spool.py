"""An output's disk spool: the batches it could not send, one segment file each.

    <spool>/<output name>/00000000000000000042.jsonl    one batch, JSON lines
    <spool>/<output name>/lock                          held while a collector uses it

A segment is written to a hidden temporary name, fsync'd, renamed, and the
directory fsync'd: a crash leaves either the whole segment or only a temporary
file, which the next start removes (never replayed). Segments are numbered in
the order they were written and replayed oldest first; one is deleted only
after its batch was sent (at-least-once: a crash between the send and the
deletion sends that batch again). The directories are created mode 0700, the
segments mode 0600. An exclusive lock keeps two collectors out of one directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from collections import deque
from pathlib import Path
from urllib.parse import quote

from trapline.errors import ConfigError

log = logging.getLogger("trapline.collector.output")

_SEGMENT = re.compile(r"^(\d{20})\.jsonl$")


def _directory_name(output: str) -> str:
    """A file name for any output name: percent-encoded, so distinct names stay distinct."""
    name = quote(output, safe="")
    if name.startswith("."):  # never '.', '..' nor hidden ('.' is never encoded by quote)
        name = "%2E" + name[1:]
    return name


class Spool:
    def __init__(self, root: str, output: str, max_bytes: int) -> None:
        self.directory = Path(root) / _directory_name(output)
        self.max_bytes = max_bytes
        self.bytes = 0
        self.segments: deque[tuple[Path, int]] = deque()  # (path, size), oldest first
        self.next_number = 1
        self._lock: int | None = None

    def open(self) -> None:
        """Create (0700) and lock the directory; find the segments of earlier runs."""
        try:
            self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.directory.mkdir(mode=0o700, exist_ok=True)
            lock = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(f"spool {self.directory}: cannot create it: {exc}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock)
            raise ConfigError(f"spool {self.directory}: in use by another trapline "
                              "collect") from None
        self._lock = lock
        found: list[tuple[int, Path, int]] = []
        for entry in os.scandir(self.directory):
            if entry.name.endswith(".tmp"):  # a segment a crash left half written
                os.remove(entry.path)
                log.warning("spool %s: removed the unfinished segment %s", self.directory,
                            entry.name)
            elif match := _SEGMENT.match(entry.name):
                found.append((int(match.group(1)), Path(entry.path), entry.stat().st_size))
        found.sort()
        self.segments = deque((path, size) for _, path, size in found)
        self.bytes = sum(size for _, _, size in found)
        self.next_number = found[-1][0] + 1 if found else 1
        if found:
            log.warning("spool %s: %d segment(s), %d bytes from an earlier run, to replay",
                        self.directory, len(found), self.bytes)

    def close(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __len__(self) -> int:
        return len(self.segments)

    def put(self, batch: list[bytes]) -> bool:
        """Write one batch as the newest segment; False (nothing written) when it would
        take the spool past ``max_bytes``. Blocking: run it in a thread."""
        data = b"".join(batch)
        if self.bytes + len(data) > self.max_bytes:
            return False
        number = self.next_number
        self.next_number += 1
        path = self.directory / f"{number:020d}.jsonl"
        temporary = self.directory / f".{number:020d}.jsonl.tmp"
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(handle, view):]
            os.fsync(handle)
        except OSError:
            os.close(handle)
            os.remove(temporary)
            raise
        os.close(handle)
        os.rename(temporary, path)
        self._sync_directory()
        self.segments.append((path, len(data)))
        self.bytes += len(data)
        return True

    def oldest(self) -> list[bytes]:
        """The oldest segment's events (blocking: run it in a thread)."""
        data = self.segments[0][0].read_bytes()
        return [line + b"\n" for line in data.split(b"\n") if line]

    def remove_oldest(self, delete: bool = True) -> None:
        """Delete the oldest segment, once its events were sent (``delete=False``: only
        forget it, e.g. a file that cannot be read is left for the operator)."""
        path, size = self.segments.popleft()
        self.bytes -= size
        if delete:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
            self._sync_directory()

    def _sync_directory(self) -> None:
        handle = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)
