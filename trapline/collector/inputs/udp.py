"""UDP input: one datagram, one message.

A full queue drops a datagram, counted (``dropped``). The socket asks for a
``receive_buffer`` of its own (4 MiB by default: the system default of about
200 KB overflows within a burst of a few hundred events), and what the kernel
still drops because that buffer was full is read from ``/proc/net/udp``
(``udp6``) every second and at stop, as ``kernel_dropped``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path

from trapline.collector.inputs.base import Input, split_address

log = logging.getLogger("trapline.collector.input")


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: UdpInput) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        intake = self.owner.intake
        if len(data) > self.owner.config.max_line_bytes:
            intake.too_long()
            return
        text = data.decode("utf-8", "replace").rstrip("\r\n\x00")
        if text:
            intake.line_nowait(text)


def kernel_drops(inode: int) -> int | None:
    """The kernel's count of datagrams dropped for the UDP socket ``inode`` (Linux)."""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) >= 13 and fields[9] == str(inode):
                    return int(fields[-1])
    return None


class UdpInput(Input):
    transport: asyncio.DatagramTransport | None = None
    _inode = 0
    _watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        host, port = split_address(self.config.listen)
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(host, port))
        sock = self.transport.get_extra_info("socket")
        wanted = self.config.receive_buffer
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
        got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)  # Linux reports double
        if got < wanted:
            log.warning("input %s: receive buffer %d bytes, not %d (raise net.core.rmem_max "
                        "to allow more)", self.config.name, got, wanted)
        self._inode = os.fstat(sock.fileno()).st_ino
        self._watch = loop.create_task(self._count_kernel_drops())

    def _update_drops(self) -> None:
        drops = kernel_drops(self._inode)
        if drops is not None:
            intake = self.intake
            intake.counters[intake.prefix + "kernel_dropped"] = drops

    async def _count_kernel_drops(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._update_drops()

    @property
    def address(self) -> tuple[str, int] | None:
        if self.transport is None:
            return None
        name = self.transport.get_extra_info("sockname")
        return name[0], name[1]

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self.transport is not None:
            self._update_drops()
            self.transport.close()
