"""kill -9 of `trapline serve` while InternalTI writes flow: every acknowledged one survives.

A client adds InternalTI indicators one request after another through the API and
notes each one the service acknowledged; the whole service (supervisor and
workers) is killed with SIGKILL at a random moment, so the kill lands at many
points of the write path; the service is started again on the same data
directory and every acknowledged indicator must be on the list and detected over
the event protocol.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
from syslog_receivers import Receiver, free_port, wait_listening

from trapline.security.passwords import hash_password
from trapline.store import SYSTEM, open_store

ADMIN = ("soc-admin", "durable-secret")
ROUNDS = 4


def start(data: Path, tcp: int, http: int, output: int) -> subprocess.Popen[str]:
    config = data.parent / "trapline.toml"
    config.write_text('[http]\ntls = false\nlisten = "127.0.0.1:8080"\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "trapline", "serve", "--config", str(config), "--data-dir",
         str(data), "--listen", f"127.0.0.1:{tcp}", "--http", f"127.0.0.1:{http}",
         "--output", f"127.0.0.1:{output}", "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    wait_listening(process, tcp, http)
    return process


def kill_all(process: subprocess.Popen[str]) -> None:
    """SIGKILL to the supervisor and every worker at once (no chance to flush anything)."""
    family = [process.pid] + [c.pid for c in psutil.Process(process.pid).children(True)]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)
    for pid in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).wait(30)


def detected_over_tcp(port: int, value: str) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"X-KF-SendFinishedEventX-KF-ReplyBack" + f"ip={value}\n".encode())
        reply = b""
        while b"LookupFinished" not in reply:
            chunk = sock.recv(65536)
            assert chunk, "connection closed"
            reply += chunk
    return f"MatchedIndicator={value}".encode() in reply


def test_acknowledged_internal_ti_writes_survive_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(data)
    store.users.create(SYSTEM, ADMIN[0], hash_password(ADMIN[1]), role="Administrator")
    store.close()
    acknowledged: list[str] = []
    rng = random.Random(1)
    with Receiver() as receiver:
        tcp, http = free_port(), free_port()
        for round_ in range(ROUNDS):
            process = start(data, tcp, http, receiver.port)
            stop = threading.Event()

            def write(round_: int = round_, stop: threading.Event = stop) -> None:
                with httpx.Client(base_url=f"http://127.0.0.1:{http}", auth=ADMIN,
                                  timeout=10) as client:
                    for i in range(100_000):
                        if stop.is_set():
                            return
                        value = f"10.{round_}.{i >> 8 & 255}.{i & 255}"
                        try:
                            answer = client.post("/api/v1/lists/InternalTI",
                                                 json=[{"value": value}])
                        except httpx.HTTPError:
                            return  # the service died under the request: not acknowledged
                        if answer.status_code in (200, 201):
                            acknowledged.append(value)

            writer = threading.Thread(target=write)
            writer.start()
            time.sleep(rng.uniform(0.3, 1.5))
            kill_all(process)
            stop.set()
            writer.join(30)
        assert len(acknowledged) > ROUNDS * 5, "too few writes to say anything"
        print(f"{len(acknowledged)} acknowledged writes over {ROUNDS} kills")
        process = start(data, tcp, http, receiver.port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{http}", auth=ADMIN,
                              timeout=30) as client:
                held: set[str] = set()
                cursor = None
                while True:
                    params = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
                    page = client.get("/api/v1/lists/InternalTI", params=params).json()
                    held |= {item["value"] for item in page["items"]}
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
            missing = [v for v in acknowledged if v not in held]
            assert missing == [], f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"
            for value in rng.sample(acknowledged, 5):
                assert detected_over_tcp(tcp, value), value
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
