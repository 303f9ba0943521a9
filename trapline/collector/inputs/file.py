"""File input: follow a file as it grows, across rotation and truncation.

Polls every ``poll_interval`` seconds. When the path names a new file (its
inode changed: rotated by rename), the old file is read to its end first,
then the new one from its start; when the file shrank (truncated in place),
reading starts again at 0. A last line without LF waits for its LF, except
in a rotated-away file, where it is taken as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import BinaryIO

from trapline.collector.inputs.base import Input

log = logging.getLogger("trapline.collector.input")


class FileInput(Input):
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._follow())

    async def _emit(self, data: bytes, final: bool = False) -> bytes:
        lines = data.split(b"\n")
        rest = b"" if final else lines.pop()
        for raw in lines:
            raw = raw.rstrip(b"\r")
            if not raw:
                continue
            if len(raw) > self.config.max_line_bytes:
                self.intake.too_long()
                continue
            await self.intake.line(raw.decode("utf-8", "replace"))
        return rest

    async def _follow(self) -> None:
        path = self.config.path
        handle: BinaryIO | None = None
        inode = None
        pending = b""
        first = True
        while True:
            if handle is None:
                try:
                    handle = open(path, "rb")  # noqa: SIM115 - followed across iterations
                except OSError:
                    await asyncio.sleep(self.config.poll_interval)
                    continue
                inode = os.fstat(handle.fileno()).st_ino
                if first and self.config.start_at == "end":
                    handle.seek(0, os.SEEK_END)
                first = False
                pending = b""
            chunk = handle.read(1 << 16)
            if chunk:
                pending = await self._emit(pending + chunk)
                continue
            await asyncio.sleep(self.config.poll_interval)
            try:
                info = os.stat(path)
            except OSError:
                continue  # rotated away, the new one not there yet: keep the old one
            if info.st_ino != inode:
                rest = handle.read()
                pending = await self._emit(pending + rest, final=True)
                handle.close()
                handle = None
                self.intake.counters.add(self.intake.prefix + "rotations")
            elif info.st_size < handle.tell():
                handle.seek(0)
                pending = b""
                self.intake.counters.add(self.intake.prefix + "truncations")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
