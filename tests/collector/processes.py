"""Real processes for the collector's tests: `trapline serve`, `trapline collect`, logger."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from subprocesses import terminate

MAIN = Path(__file__).resolve().parents[2]
DEMO = MAIN / "trapline" / "demo"


#: The start of most test configurations: no periodic stats, one JSON-lines TCP input.
JSON_TCP = """[collector]
stats_interval = 0
[[input]]
type = "tcp"
listen = "127.0.0.1:0"
format = "json"
"""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def demo_feeds_toml() -> str:
    """The demo feeds' [[feeds]] tables with absolute sources (to add feeds beside them)."""
    text = (DEMO / "feeds.toml").read_text(encoding="utf-8")
    return re.sub(r'^source = "([^"]+)"', lambda m: f'source = "{DEMO / m.group(1)}"', text,
                  flags=re.M)


class Serve:
    def __init__(self, folder: Path, extra_toml: str = "", tls: bool = False) -> None:
        self.folder = folder
        self.port = free_port()
        self.http_port = free_port()
        self.data = folder / "data"
        config = folder / "serve.toml"
        config.write_text(
            f'[service]\nupdate_interval = 3600\n[http]\ntls = {str(tls).lower()}\n'
            f'listen = "127.0.0.1:{self.http_port}"\nauth_cache_seconds = 60\n\n'
            + demo_feeds_toml() + "\n" + extra_toml, encoding="utf-8")
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    def add_user(self, name: str, password: str, role: str = "Administrator") -> None:
        subprocess.run([sys.executable, "-m", "trapline", "users", "add", name, "--role", role,
                        "--config", str(self.config), "--data-dir", str(self.data)],
                       input=f"{password}\n".encode(), check=True, capture_output=True,
                       timeout=120)

    def start(self) -> Serve:
        log = open(self.folder / "serve.log", "ab")  # noqa: SIM115 - the child's
        sink = socket.socket()
        sink.bind(("127.0.0.1", 0))
        sink.listen()
        self._sink = sink  # detections nobody reads: a listening port is enough
        self.process = subprocess.Popen(
            [sys.executable, "-m", "trapline", "serve", "--config", str(self.config),
             "--data-dir", str(self.data), "--listen", f"127.0.0.1:{self.port}",
             "--output", f"127.0.0.1:{sink.getsockname()[1]}", "--workers", "1"],
            stdout=log, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.folder / "serve.log").read_text()[-3000:]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"X-KF-ReplyBackPING")
                    if sock.recv(10).startswith(b"PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("trapline serve did not start")

    def stop(self) -> None:
        terminate(self.process, 30)
        self._sink.close()


class Collect:
    """``trapline collect`` in a subprocess; ``addresses`` maps input names to host:port."""

    def __init__(self, folder: Path, config_text: str, name: str = "collect") -> None:
        self.config = folder / f"{name}.toml"
        self.config.write_text(config_text, encoding="utf-8")
        self.stderr_path = folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.addresses: dict[str, str] = {}
        self.counters: dict[str, int] = {}

    def start(self, env: dict[str, str] | None = None) -> Collect:
        stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - the child's
        self.process = subprocess.Popen(
            [sys.executable, "-m", "trapline", "collect", "--config", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=stderr,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.stderr_path.read_text(errors="replace")
            match = re.search(r"trapline collect: ready (\{.*\})", text)
            if match:
                self.addresses = json.loads(match.group(1))
                return self
            assert self.process.poll() is None, text[-3000:]
            time.sleep(0.05)
        raise AssertionError("trapline collect did not start")

    def stop(self) -> dict[str, int]:
        terminate(self.process, 60)
        text = self.stderr_path.read_text(errors="replace")
        match = re.search(r"stopped; counters (\{.*\})", text)
        self.counters = json.loads(match.group(1)) if match else {}
        return self.counters

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[:text.rfind("\n") + 1]  # a line the collector is still writing waits
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def wait_for_events(path: Path, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        events = read_events(path)
        if len(events) >= count:
            return events
        time.sleep(0.05)
    raise AssertionError(f"{len(events)} of {count} events arrived")


def send_tcp(port: int, lines: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"".join(lines))
