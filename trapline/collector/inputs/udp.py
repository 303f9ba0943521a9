"""UDP input: one datagram, one message. A full queue drops it, counted (``dropped``)."""

from __future__ import annotations

import asyncio

from trapline.collector.inputs.base import Input, split_address


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


class UdpInput(Input):
    transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        host, port = split_address(self.config.listen)
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(host, port))

    @property
    def address(self) -> tuple[str, int] | None:
        if self.transport is None:
            return None
        name = self.transport.get_extra_info("sockname")
        return name[0], name[1]

    async def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
