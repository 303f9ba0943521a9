"""Local outputs: standard output, and a file rotated by size (``path.1`` ... ``path.N``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO

from trapline.collector.outputs.base import Output


class StdoutOutput(Output):
    async def send(self, batch: list[bytes]) -> None:
        sys.stdout.buffer.write(b"".join(batch))
        sys.stdout.buffer.flush()


class FileOutput(Output):
    handle: BinaryIO | None = None

    def _open(self) -> BinaryIO:
        path = Path(self.config.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(path, "ab")  # noqa: SIM115 - kept open across batches
        self.size = self.handle.tell()
        return self.handle

    def _rotate(self) -> None:
        assert self.handle is not None
        self.handle.close()
        self.handle = None
        path = self.config.path
        if self.config.backups == 0:
            os.replace(path, path + ".1")
            os.remove(path + ".1")
        else:
            for number in range(self.config.backups - 1, 0, -1):
                if os.path.exists(f"{path}.{number}"):
                    os.replace(f"{path}.{number}", f"{path}.{number + 1}")
            os.replace(path, f"{path}.1")
        self.counters.add(self.prefix + "rotations")

    async def send(self, batch: list[bytes]) -> None:
        handle = self.handle or self._open()
        limit = self.config.max_bytes
        for line in batch:
            if limit and self.size and self.size + len(line) > limit:
                handle.flush()
                self._rotate()
                handle = self._open()
            handle.write(line)
            self.size += len(line)
        handle.flush()

    async def shutdown(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
