"""Syslog receivers for tests: an asyncio one in a thread, and a real rsyslogd process."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from subprocesses import terminate

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(process: subprocess.Popen[str], *ports: int, timeout: float = 90.0) -> None:
    """Wait until every port of ``process`` (a `trapline serve`) accepts connections;
    fail with its output if it exits first."""
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else \
                "trapline serve exited"
            assert time.monotonic() < deadline, "trapline serve did not start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


class Receiver:
    """A receiver on 127.0.0.1 that keeps every message: TCP lines or UDP datagrams.

    ``read_delay`` pauses reading after each chunk (with a small receive buffer), so a
    sender has lines pending for a while. ``stop`` closes the port and every connection;
    ``start`` opens the same port again.
    """

    def __init__(self, protocol: str = "tcp", port: int = 0, read_delay: float = 0.0) -> None:
        self.protocol = protocol
        self.port = port
        self.read_delay = read_delay
        self.messages: list[str] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closers: list[Callable[[], None]] = []

    def start(self) -> Receiver:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(10)
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.messages)

    def wait_count(self, n: int, timeout: float = 60.0) -> list[str]:
        wait_until(lambda: self.count() >= n, timeout,
                   f"{n} messages (got {self.count()}) on port {self.port}")
        return self.snapshot()

    def _add(self, messages: list[str]) -> None:
        with self._lock:
            self.messages.extend(messages)

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        if self.protocol == "udp":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=("127.0.0.1", self.port))
            self.port = transport.get_extra_info("sockname")[1]
            self._closers = [transport.close]
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.read_delay:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", self.port))
        server = await loop.create_server(lambda: _Lines(self), sock=listener)
        self.port = listener.getsockname()[1]
        self._closers = [server.close]

    async def _close(self) -> None:
        for close in self._closers:
            close()
        self._closers = []
        await asyncio.sleep(0.05)


class _Lines(asyncio.Protocol):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.receiver.connections += 1
        self.receiver._closers.append(transport.close)

    def data_received(self, data: bytes) -> None:
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        self.receiver._add([line.decode("utf-8", "replace") for line in lines])
        if self.receiver.read_delay and self.transport is not None:
            self.transport.pause_reading()
            asyncio.get_running_loop().call_later(self.receiver.read_delay, self._resume)

    def _resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.receiver._add([data.decode("utf-8", "replace")])


class Rsyslog:
    """rsyslogd in the foreground: imtcp and imudp on loopback, every message's raw text to a file.

    The configuration design.md names: ``rsyslogd -n -f CONF -i PIDFILE``, an omfile
    action with the template ``%rawmsg%\\n``.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.tcp_port = free_port()
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.out = directory / "received.log"
        self.conf = directory / "rsyslog.conf"
        self.pidfile = directory / "rsyslogd.pid"
        (directory / "work").mkdir(exist_ok=True)
        self.conf.write_text(f"""
global(workDirectory="{directory / 'work'}" maxMessageSize="128k")
module(load="imtcp")
module(load="imudp")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="trapline") {{
  action(type="omfile" file="{self.out}" template="raw")
}}
input(type="imtcp" address="127.0.0.1" port="{self.tcp_port}" ruleset="trapline")
input(type="imudp" address="127.0.0.1" port="{self.udp_port}" ruleset="trapline")
""")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Rsyslog:
        self.pidfile.unlink(missing_ok=True)
        with open(self.directory / "rsyslogd.err", "ab") as errors:
            self.process = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", str(self.conf), "-i", str(self.pidfile)],
                stdout=subprocess.DEVNULL, stderr=errors)

        def listening() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError("rsyslogd exited: "
                                     + (self.directory / "rsyslogd.err").read_text())
            try:
                socket.create_connection(("127.0.0.1", self.tcp_port), 0.2).close()
            except OSError:
                return False
            return True

        wait_until(listening, 30, "rsyslogd to listen")
        time.sleep(0.3)  # imudp starts beside imtcp
        return self

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def lines(self) -> list[str]:
        if not self.out.exists():
            return []
        return self.out.read_text(encoding="utf-8", errors="replace").splitlines()

    def wait_count(self, n: int, timeout: float = 60.0) -> list[str]:
        wait_until(lambda: len(self.lines()) >= n, timeout,
                   f"{n} lines from rsyslogd (got {len(self.lines())})")
        return self.lines()


def rsyslog_or_skip(directory: Path) -> Rsyslog:
    """An Rsyslog, or a skip naming the fix (a failure in CI, where it must be installed)."""
    if not os.access(RSYSLOGD, os.X_OK):
        reason = f"{RSYSLOGD} is not installed (apt-get install rsyslog)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return Rsyslog(directory)
