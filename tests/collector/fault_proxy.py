"""A TCP proxy between the collector and the service that misbehaves on demand.

Modes (``proxy.mode = ...``, changed at any time):

- ``pass``: forward both ways;
- ``delay``: forward, but hold every answer chunk ``delay`` seconds;
- ``blackhole``: accept and read, never answer;
- ``reset``: accept, then reset the connection at once (RST);
- ``dead``: the port refuses connections (the listener is closed).

It counts what the limits are about: the time of every request line the
collector sends (``requests``), the connections open now and at most
(``max_open``), and every connection accepted.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(self, upstream_port: int, port: int = 0) -> None:
        self.upstream_port = upstream_port
        self.port = port
        self.mode = "pass"
        self.delay = 0.0
        self.requests: list[float] = []
        self.open = 0
        self.max_open = 0
        self.accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._lock = threading.Lock()
        self._writers: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, coroutine):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    def set_mode(self, mode: str, delay: float = 0.0) -> None:
        """Switch; ``dead``, ``reset`` and ``blackhole`` also cut the open connections."""
        self.delay = delay
        if mode in ("dead", "reset", "blackhole"):
            self._call(self._drop_all())
        if mode == "dead":
            self._call(self._close())
        elif self._server is None:
            self._call(self._listen())
        self.mode = mode

    def reset_counts(self) -> None:
        with self._lock:
            self.requests = []
            self.max_open = self.open

    def max_in_window(self, window: float = 1.0) -> int:
        """The most request lines seen in any ``window`` seconds."""
        times = sorted(self.requests)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.accepted += 1
            self.open += 1
            self.max_open = max(self.max_open, self.open)
        self._writers.add(writer)
        try:
            if self.mode == "reset":
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            if self.mode == "blackhole":
                while await reader.read(65536):
                    pass
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1",
                                                                 self.upstream_port)
            await asyncio.gather(self._pipe(reader, up_writer, count=True),
                                 self._pipe(up_reader, writer, count=False),
                                 return_exceptions=True)
        except OSError:
            pass
        finally:
            with self._lock:
                self.open -= 1
            self._writers.discard(writer)
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    count: bool) -> None:
        try:
            while data := await reader.read(65536):
                if count:
                    now = time.monotonic()
                    with self._lock:
                        self.requests.extend([now] * data.count(b"\n"))
                elif self.mode == "delay" and self.delay:
                    await asyncio.sleep(self.delay)
                if self.mode == "reset":
                    writer.transport.abort()
                    return
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
