"""The output spool: framed syslog messages on disk until a receiver has taken them.

    spool_dir/
      lock                      flock: one process per spool
      committed                 "<segment> <offset>": everything before it was delivered
      0000000000000007.seg      append-only segments, records "<event id>\\t<message>\\n"

Every message is written through (one ``write`` per call, no user-space buffer),
so a process killed with SIGKILL loses nothing it accepted. The sender reads
from the committed position, and commits (fsync'd, atomic rename) after the
receiver has acknowledged; a restart resumes there, so at most the messages in
flight at the crash are sent twice, with the same bytes and event id. Fully
delivered segments are deleted. The spool is bounded: past ``max_bytes`` an
append is refused (the caller counts it). Not fsync'd per write: a power loss
may take the last seconds that were not yet delivered.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from trapline.errors import TraplineError

SEGMENT_BYTES = 16 << 20
_SUFFIX = ".seg"


class SpoolError(TraplineError):
    """The spool folder cannot be used (locked by another process, unreadable)."""


Position = tuple[int, int]  # (segment number, byte offset)


class Spool:
    """Append from any thread; read, commit and rewind from the one sending task."""

    def __init__(self, directory: Path, *, max_bytes: int = 1 << 30,
                 segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.corrupt = 0  # records skipped: a partial write at a segment's end
        self._lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SpoolError(f"spool {self.directory}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._lock_fd)
            raise SpoolError(f"spool {self.directory} is in use by another process") from exc
        self._sizes: dict[int, int] = {}
        self.total_bytes = 0
        self.committed: Position = self._read_committed()
        for number in self._segments():
            if number < self.committed[0]:
                self._path(number).unlink(missing_ok=True)  # delivered before the restart
            else:
                self._sizes[number] = self._path(number).stat().st_size
        self.total_bytes = sum(self._sizes.values())
        first = min(self._sizes, default=max(self.committed[0], 1))
        if self.committed[0] < first or not self._sizes:
            self.committed = (first, 0)
        # A new process never appends to an old segment: a partial record stays at its end.
        self._write_number = max([*self._sizes, self.committed[0] - 1]) + 1
        self._write_fd = self._open_segment(self._write_number)
        self.read_position: Position = self.committed
        self._read_fds: dict[int, int] = {}

    # --- writing (any thread) ----------------------------------------------------------------

    def append(self, records: list[tuple[str, bytes]]) -> bool:
        """Append ``(event id, message)`` records in one write; False if full or failed."""
        data = b"".join([eid.encode("ascii", "replace") + b"\t" + msg + b"\n"
                         for eid, msg in records])
        with self._lock:
            if self.total_bytes + len(data) > self.max_bytes:
                return False
            number = self._write_number
            try:
                written = os.write(self._write_fd, data)
            except OSError:
                self._rotate()
                return False
            self._sizes[number] = self._sizes.get(number, 0) + written
            self.total_bytes += written
            if written != len(data):  # disk full: the partial record ends this segment
                self._rotate()
                return False
            if self._sizes[number] >= self.segment_bytes:
                self._rotate()
            return True

    def _rotate(self) -> None:
        os.close(self._write_fd)
        self._write_number += 1
        self._write_fd = self._open_segment(self._write_number)

    # --- reading (the sending task) ----------------------------------------------------------

    def read(self, max_lines: int, max_bytes: int) -> tuple[list[bytes], Position] | None:
        """Up to ``max_lines`` messages from the read position, and the position after them."""
        number, offset = self.read_position
        while True:
            last = self._write_number  # before reading: a segment before it is complete
            fd = self._read_fd(number)
            data = os.pread(fd, max_bytes, offset) if fd >= 0 else b""
            end = data.rfind(b"\n")
            size = max_bytes
            while end < 0 and len(data) == size:  # one record longer than max_bytes
                size *= 2
                data = os.pread(fd, size, offset)
                end = data.rfind(b"\n")
            if end >= 0:
                break
            if number >= last:
                return None  # nothing new yet
            if data:  # a complete segment ending in a partial record (crash, disk full)
                self.corrupt += 1
            self._close_read(number)
            number, offset = self._next_segment(number), 0
            self.read_position = (number, 0)
        records = data[:end].split(b"\n")
        if len(records) > max_lines:
            records = records[:max_lines]
            used = sum(len(r) for r in records) + len(records)
        else:
            used = end + 1
        self.read_position = (number, offset + used)
        return [r.partition(b"\t")[2] for r in records], self.read_position

    def rewind(self) -> None:
        """Send again from the committed position (the receiver lost what was in flight)."""
        self.read_position = self.committed

    def commit(self, position: Position) -> None:
        """Record ``position`` as delivered (fsync'd, atomic) and delete finished segments."""
        if position <= self.committed:
            return
        temporary = self.directory / "committed.tmp"
        with open(temporary, "w", encoding="ascii") as out:
            out.write(f"{position[0]} {position[1]}\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.directory / "committed")
        self.committed = position
        with self._lock:
            for number in [n for n in self._sizes if n < position[0]]:
                self._close_read(number)
                self._unlink(number)

    @property
    def pending_bytes(self) -> int:
        """Bytes on disk not yet committed (an upper bound of what is still to send)."""
        with self._lock:
            return self.total_bytes - self.committed[1]

    def has_unread(self) -> bool:
        number, offset = self.read_position
        return number < self._write_number or offset < self._sizes.get(number, 0)

    def close(self) -> None:
        for number in list(self._read_fds):
            self._close_read(number)
        with self._lock:
            os.close(self._write_fd)
            self._write_fd = -1
        os.close(self._lock_fd)

    # --- files -------------------------------------------------------------------------------

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:016d}{_SUFFIX}"

    def _segments(self) -> list[int]:
        return sorted(int(p.name[:-len(_SUFFIX)]) for p in self.directory.glob(f"*{_SUFFIX}")
                      if p.name[:-len(_SUFFIX)].isdigit())

    def _open_segment(self, number: int) -> int:
        self._sizes.setdefault(number, 0)
        return os.open(self._path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                       0o600)

    def _next_segment(self, number: int) -> int:
        with self._lock:
            later = [n for n in self._sizes if n > number]
        return min(later) if later else number + 1

    def _read_fd(self, number: int) -> int:
        fd = self._read_fds.get(number)
        if fd is None:
            try:
                fd = os.open(self._path(number), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return -1
            self._read_fds[number] = fd
        return fd

    def _close_read(self, number: int) -> None:
        fd = self._read_fds.pop(number, None)
        if fd is not None:
            os.close(fd)

    def _unlink(self, number: int) -> None:
        self.total_bytes -= self._sizes.pop(number, 0)
        self._path(number).unlink(missing_ok=True)

    def _read_committed(self) -> Position:
        try:
            text = (self.directory / "committed").read_text(encoding="ascii").split()
            return (int(text[0]), int(text[1]))
        except (OSError, ValueError, IndexError):
            return (0, 0)
