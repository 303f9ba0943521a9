"""Several processes on one store, and kill -9 right after an acknowledged write."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import store_processes

from trapline.store import INTERNAL_TI, Store, open_store

HERE = Path(__file__).resolve().parent
WRITES = 200  # per process


def test_two_processes_writing_at_once_lose_nothing(db_url: str) -> None:
    """A spawned process and this one add InternalTI indicators one by one at once."""
    context = multiprocessing.get_context("spawn")
    ready, start = context.Event(), context.Event()
    other = context.Process(target=store_processes.write_indicators,
                            args=(db_url, 2, WRITES, ready, start))
    other.start()
    assert ready.wait(timeout=60), "the other process did not start"
    start.set()
    store_processes.write_indicators(db_url, 1, WRITES)
    other.join(timeout=120)
    assert other.exitcode == 0
    with open_store(db_url) as store:
        values = {e.value for e in store.list_entries(INTERNAL_TI)}
        assert values == {f"w{w}-{n}" for w in (1, 2) for n in range(WRITES)}
        assert store.lists_version() == 2 * WRITES
        assert len(store.audit.search(action="indicators.put", limit=1000).items) == 2 * WRITES


@pytest.fixture
def fork_server() -> Iterator[subprocess.Popen[str]]:
    server = subprocess.Popen([sys.executable, "-c", "import store_processes as p; "
                               "p.fork_server()"], cwd=HERE, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    yield server
    assert server.stdin is not None
    server.stdin.close()
    server.wait(timeout=10)


def _acknowledged(outfile: Path) -> list[str]:
    try:
        lines = outfile.read_text().splitlines()
    except FileNotFoundError:
        return []
    errors = [line for line in lines if not line.startswith("ok ")]
    assert errors == []
    return [line.removeprefix("ok ") for line in lines]


def test_kill_9_loses_no_acknowledged_write(store: Store, backend: str, db_url: str,
                                            tmp_path: Path,
                                            fork_server: subprocess.Popen[str]) -> None:
    """A writer adds InternalTI indicators and prints "ok" after each returned; SIGKILL at
    a random moment (often in the middle of the next write) loses none of them."""
    rng = random.Random(20260501)
    assert fork_server.stdin is not None and fork_server.stdout is not None
    for attempt in range(20):
        outfile = tmp_path / f"writer-{attempt}.out"
        fork_server.stdin.write(f"{db_url} {outfile} a{attempt}\n")
        fork_server.stdin.flush()
        pid = int(fork_server.stdout.readline().removeprefix("pid "))
        wanted = rng.randint(1, 3)
        deadline = time.monotonic() + 30
        while len(_acknowledged(outfile)) < wanted:
            assert time.monotonic() < deadline, "the writer acknowledged nothing"
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.01))
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
        acknowledged = _acknowledged(outfile)
        if backend == "sqlite":  # a fresh start: the killed writer's WAL is recovered
            with open_store(db_url) as reopened:
                stored = {e.value for e in reopened.list_entries(INTERNAL_TI)}
        else:  # the server holds the data: reconnecting proves nothing more
            stored = {e.value for e in store.list_entries(INTERNAL_TI)}
        assert set(acknowledged) <= stored, f"attempt {attempt} lost a write"
    if backend == "sqlite":
        with store._db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.001)
    raise AssertionError(f"writer {pid} survived SIGKILL")
