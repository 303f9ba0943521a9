"""Parallel bursts from 4 worker processes on one SQLite ledger never get past the limits."""

from __future__ import annotations

import multiprocessing
import queue
from pathlib import Path

from limiter_burst import burst

from trapline.security.login_limiter import Refusal, SQLiteLoginLimiter

PROCESSES = 4
ATTEMPTS = 50  # in all, spread over the processes


def worker(path: str, index: int, barrier, results) -> None:
    limiter = SQLiteLoginLimiter(Path(path))
    attempts = ATTEMPTS // PROCESSES + (index < ATTEMPTS % PROCESSES)
    go = lambda: barrier.wait(timeout=60)  # noqa: E731
    # 1: one account, wrong passwords, from addresses that never hit their limit
    one_account = burst(limiter, attempts, account="admin",
                        address=f"198.51.100.{index}", start=go)
    # 2: a different account each attempt, all from one address
    one_address = burst(limiter, attempts, account=f"user-{index}-{{n}}",
                        address="203.0.113.9", start=go)
    results.put((index, one_account, one_address))


def test_bursts_from_four_processes_let_only_the_limit_through(tmp_path: Path) -> None:
    path = tmp_path / "login-attempts.db"
    SQLiteLoginLimiter(path).close()  # the ledger exists before the race
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [context.Process(target=worker,
                                 args=(str(path), index, barrier, results))
                 for index in range(PROCESSES)]
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=120) for _ in processes]
    except queue.Empty as exc:
        raise AssertionError("a worker process sent no report") from exc
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
    assert all(process.exitcode == 0 for process in processes)
    for index, one_account, one_address in reports:
        assert one_account[2] == [] and one_address[2] == [], f"process {index} errors"
    assert sum(r[1][0] + r[1][1] for r in reports) == ATTEMPTS
    assert sum(r[1][0] for r in reports) == 5  # account limit, counted across processes
    assert sum(r[2][0] for r in reports) == 20  # address limit, across accounts and processes
    limiter = SQLiteLoginLimiter(path)
    assert isinstance(limiter.reserve("admin", "192.0.2.99"), Refusal)
    refusal = limiter.reserve("someone", "203.0.113.9")
    assert isinstance(refusal, Refusal) and refusal.reason == "address"
