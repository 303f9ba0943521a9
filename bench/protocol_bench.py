"""Event protocol benchmark: observables/s and latency of `trapline serve` over loopback.

    python bench/protocol_bench.py                       # 1M indicators, 1 and 2 workers
    python bench/protocol_bench.py --indicators 200000 --events 100000   # quicker

Loads ``--indicators`` indicators (IPv4, domains, SHA-256; a plain list) into a
data directory, starts ``trapline serve --workers N`` and drives it with
clients in this process:

- saturation: ``--connections`` connections, each sending ``--events`` events
  pipelined (reply-back with finished lines), half hits and half misses; the
  rate is events (one observable each) finished per second, wall clock;
- fixed rate: one connection sending 1,000 events/s for ``--seconds``; latency
  from the write of an event to the read of its finished line (p50/p99/p99.9).

The reference in the same run: the local Redis server answering ``EXISTS`` for
the same keys, from the same client with the same pipelining (database 15,
flushed afterwards), so the ratio says how close a Python service gets to a
C key-value server on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FINISHED = b"LookupFinished"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_values(count: int) -> list[str]:
    values = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            values.append(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
        elif kind == 1:
            values.append(f"host{i}.bench-evil.example")
        else:
            values.append(f"{i:064x}")
    return values


def queries(values: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        if i % 2:
            out.append(rng.choice(values))
        else:
            out.append(f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(256)}")
    return out


async def saturate(port: int, lines: list[bytes], connections: int, opening: bytes,
                   marker: bytes) -> float:
    """Send every connection's share pipelined; seconds until every answer is read."""
    share = [lines[i::connections] for i in range(connections)]

    async def one(batch: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        writer.write(opening)
        pending = len(batch)

        async def send() -> None:
            for start in range(0, len(batch), 1000):
                writer.write(b"".join(batch[start:start + 1000]))
                await writer.drain()

        sender = asyncio.create_task(send())
        tail = b""  # a marker may be cut between two reads
        while pending > 0:
            chunk = await reader.read(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed early")
            data = tail + chunk
            pending -= data.count(marker)
            cut = data.rfind(marker)
            tail = data[max(cut + len(marker) if cut >= 0 else 0,
                            len(data) - len(marker) + 1):]
        await sender
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one(batch) for batch in share))
    return time.perf_counter() - started


async def fixed_rate(port: int, lines: list[bytes], seconds: float, rate: int,
                     opening: bytes, marker: bytes) -> list[float]:
    """One connection at ``rate`` events/s; latency of each event in milliseconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    writer.write(opening)
    sent: list[float] = []
    latencies: list[float] = []
    total = int(seconds * rate)

    async def send() -> None:
        start = time.perf_counter()
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent.append(time.perf_counter())
            writer.write(lines[i % len(lines)])

    sender = asyncio.create_task(send())
    buffer = b""
    while len(latencies) < total:
        chunk = await reader.read(65536)
        if not chunk:
            break
        now = time.perf_counter()
        buffer += chunk
        found = buffer.count(marker)
        if found:
            buffer = buffer[buffer.rfind(marker) + len(marker):]
            for _ in range(found):
                latencies.append((now - sent[len(latencies)]) * 1000)
    await sender
    writer.close()
    return latencies


def percentiles(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=1000)
    return f"p50 {cuts[499]:.3f} ms  p99 {cuts[989]:.3f} ms  p99.9 {cuts[998]:.3f} ms"


def start_service(data: Path, feed: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    log = open(data.parent / f"serve-{workers}.log", "w")  # noqa: SIM115 - the child's
    receiver = socket.socket()
    receiver.bind(("127.0.0.1", 0))
    receiver.listen()
    process = subprocess.Popen(
        [sys.executable, "-m", "trapline", "serve", "--data-dir", str(data), "--feed", str(feed),
         "--listen", f"127.0.0.1:{port}", "--workers", str(workers),
         "--output", f"127.0.0.1:{receiver.getsockname()[1]}"],
        stdout=subprocess.DEVNULL, stderr=log)
    process.receiver = receiver  # type: ignore[attr-defined]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("trapline serve did not start")


def redis_reference(values: list[str], asked: list[str], connections: int) -> float | None:
    try:
        probe = socket.create_connection(("127.0.0.1", 6379), timeout=2)
    except OSError:
        print("redis: not running on 127.0.0.1:6379, reference skipped")
        return None
    probe.sendall(b"SELECT 15\r\nFLUSHDB\r\n")
    probe.recv(100)
    for start in range(0, len(values), 10000):
        chunk = values[start:start + 10000]
        probe.sendall(b"".join(b"SET %s 1\r\n" % v.encode() for v in chunk))
        got = 0
        while got < len(chunk) * 5:  # "+OK\r\n" per SET
            got += len(probe.recv(1 << 20))
    lines = [b"EXISTS %s\r\n" % v.encode() for v in asked]
    try:
        seconds = asyncio.run(saturate(6379, lines, connections, b"SELECT 15\r\n", b"\r\n"))
        # SELECT answers "+OK\r\n" on each connection: one marker more than the lines,
        # read before the last EXISTS answers, so the count is safe.
    finally:
        probe.sendall(b"FLUSHDB\r\n")
        probe.recv(100)
        probe.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000, help="saturation events")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=10.0, help="fixed-rate duration")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="protocol-bench-"))
    try:
        values = make_values(args.indicators)
        feed = folder / "bench.txt"
        feed.write_text("\n".join(values) + "\n")
        asked = queries(values, args.events, 7)
        lines = [f"ip={v}\n".encode() if v[0].isdigit() and "." in v[:4] else
                 f"hash={v}\n".encode() if len(v) == 64 else f"domain={v}\n".encode()
                 for v in asked]
        kv_lines = lines
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
              f"{args.indicators:,} indicators, {args.events:,} events "
              f"(one observable each, half hits), {args.connections} connections")
        opening = b"X-KF-SendFinishedEventX-KF-ReplyBack"
        results = {}
        for workers in args.workers:
            port = free_port()
            process = start_service(folder / "data", feed, port, workers)
            try:
                asyncio.run(saturate(port, kv_lines[:2000], 1, opening, FINISHED))  # warm-up
                seconds = asyncio.run(saturate(port, kv_lines, args.connections, opening,
                                               FINISHED))
                rate = args.events / seconds
                results[workers] = rate
                print(f"trapline serve --workers {workers}: saturation {rate:,.0f} events/s "
                      f"({seconds:.2f} s)")
                latencies = asyncio.run(fixed_rate(port, kv_lines, args.seconds, 1000, opening,
                                                   FINISHED))
                print(f"  at 1,000 events/s on one connection: {percentiles(latencies)}")
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
        redis_seconds = redis_reference(values, asked, args.connections)
        if redis_seconds:
            redis_rate = args.events / redis_seconds
            print(f"redis EXISTS, same client: {redis_rate:,.0f} lookups/s "
                  f"({redis_seconds:.2f} s)")
            for workers, rate in results.items():
                print(f"  trapline/redis with {workers} worker(s): {rate / redis_rate:.2f}")
    finally:
        if os.environ.get("KEEP_BENCH") is None:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print("kept", folder)


if __name__ == "__main__":
    main()
