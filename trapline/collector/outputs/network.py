"""Network outputs: TCP syslog (LF or RFC 6587 octet counting), UDP syslog, HTTP POST."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx

from trapline.collector.outputs.base import Output

_HOST = socket.gethostname() or "-"


def _syslog(line: bytes) -> bytes:
    """An RFC 5424 header (facility user, severity info) before the JSON event."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return f"<14>1 {stamp} {_HOST} trapline - - - ".encode() + line


class TcpOutput(Output):
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    async def send(self, batch: list[bytes]) -> None:
        if self.writer is not None and self.reader is not None and self.reader.at_eof():
            self.writer.close()  # the receiver closed it: what we wrote would be lost
            self.writer = None
        if self.writer is None or self.writer.is_closing():
            host, _, port = self.config.address.rpartition(":")
            async with asyncio.timeout(self.config.timeout):
                self.reader, self.writer = await asyncio.open_connection(host, int(port))
        frames = []
        for line in batch:
            message = _syslog(line) if self.config.syslog_header else line
            if self.config.framing == "octet":
                body = message.rstrip(b"\n")
                frames.append(b"%d %s" % (len(body), body))
            else:
                frames.append(message)
        try:
            self.writer.write(b"".join(frames))
            async with asyncio.timeout(self.config.timeout):
                await self.writer.drain()
        except (OSError, TimeoutError):
            self.writer.close()
            self.writer = None
            raise

    async def shutdown(self) -> None:
        if self.writer is not None:
            self.writer.close()


class UdpOutput(Output):
    sock: socket.socket | None = None

    async def send(self, batch: list[bytes]) -> None:
        if self.sock is None:
            host, _, port = self.config.address.rpartition(":")
            info = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)[0]
            self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
            self.sock.connect(info[4])
        for line in batch:
            body = line.rstrip(b"\n")
            self.sock.send(_syslog(body) if self.config.syslog_header else body)

    async def shutdown(self) -> None:
        if self.sock is not None:
            self.sock.close()


class HttpOutput(Output):
    client: httpx.AsyncClient | None = None

    async def send(self, batch: list[bytes]) -> None:
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=httpx.Timeout(self.config.timeout))
        body = b"[" + b",".join(line.rstrip(b"\n") for line in batch) + b"]"
        try:
            response = await self.client.post(
                self.config.url, content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            raise OSError(f"POST {self.config.url}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 300:
            raise OSError(f"POST {self.config.url}: HTTP {response.status_code}")

    async def shutdown(self) -> None:
        if self.client is not None:
            await self.client.aclose()
