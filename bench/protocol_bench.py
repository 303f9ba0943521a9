"""Event protocol benchmark: observables/s and latency of `trapline serve` over loopback.

    python bench/protocol_bench.py                       # 1M indicators, 1 and 2 workers
    python bench/protocol_bench.py --indicators 200000 --events 100000   # quicker

Loads ``--indicators`` indicators (IPv4, domains, SHA-256; a plain list) into a
data directory, starts ``trapline serve --workers N`` and drives it from a client
in **another process** (so the service has its own core), with three workloads:

- ``single``: KUMA-style requests with one observable each (``ip=...``), half
  hits, values drawn uniformly from the indicators and from random misses: the
  worst case, few repeats;
- ``multi``: KUMA-style requests with four observables each
  (``ip=...|hash=...|domain=...|url=...``), the way a SIEM asks about one event;
- ``eve``: the real Suricata EVE log of ../shared/data (5,120 events, replayed
  in a loop) through the ``eve`` preset, with a tenth of its distinct values
  among the indicators: real traffic, with its real repeats.

For each: saturation (``--connections`` connections, ``--events`` events
pipelined, reply-back with finished lines; events and observables finished per
second, wall clock), then one connection at a fixed 1,000 events/s for
``--seconds`` (latency from the write of an event to the read of its finished
line: p50/p99/p99.9).

The reference in the same run: the local Redis server answering ``EXISTS`` for
the ``single`` keys, from the same client process with the same pipelining
(database 15, flushed afterwards), so the ratio says how close a Python service
gets to a C key-value server on the same machine.
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
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
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


EVE_LOG = (Path(__file__).resolve().parents[2] / "shared" / "data" / "events"
           / "suricata-eve-generated"
           / "suricata-verify_all-pcaps.dns-http-tls-fileinfo.eve.json")


def kuma_line(value: str) -> str:
    if len(value) == 64:
        return f"hash={value}"
    return f"ip={value}" if value[0].isdigit() and "." in value[:4] else f"domain={value}"


def half_hits(values: list[str], rng: random.Random) -> Callable[[int, str], str]:
    """``pick(kind, miss)``: a listed value of ``kind`` (0 address, 1 domain, 2 hash, as
    ``make_values`` makes them) half the time, else ``miss``."""
    by_kind: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for i, value in enumerate(values[:300_000]):
        by_kind[i % 3].append(value)

    def pick(kind: int, miss: str) -> str:
        return rng.choice(by_kind[kind]) if rng.random() < 0.5 else miss
    return pick


def remove_unless_kept(folder: Path) -> None:
    """Remove the bench's folder, unless KEEP_BENCH is set (then say where it is)."""
    if os.environ.get("KEEP_BENCH") is None:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        print("kept", folder)


def multi_lines(values: list[str], count: int, seed: int) -> list[bytes]:
    """Four observables a line: an address, a hash, a domain and a URL on a domain."""
    rng = random.Random(seed)
    pick = half_hits(values, rng)
    lines = []
    for i in range(count):
        ip = pick(0, f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(256)}")
        digest = pick(2, f"{rng.getrandbits(256):064x}")
        domain = pick(1, f"miss{rng.randrange(10**9)}.example.net")
        url = f"http://{pick(1, f'www{i}.example.org')}/path/{i % 97}?q={i}"
        lines.append(f"ip={ip}|hash={digest}|domain={domain}|url={url}\n".encode())
    return lines


def eve_workload(count: int) -> tuple[list[bytes], list[str], float]:
    """Real EVE lines replayed to ``count``, a tenth of their distinct values as
    indicators, and the mean observables per event (by the ``eve`` preset)."""
    from trapline.extract import presets

    rule_set = presets()["eve"]
    events = [line.strip() for line in EVE_LOG.read_text().splitlines() if line.strip()]
    distinct: dict[str, None] = {}
    observed = 0
    for event in events:
        extraction = rule_set.extract(event)
        for item in extraction.observables if extraction else ():
            distinct.setdefault(item.value)
            observed += 1
    listed = list(distinct)[::10]
    lines = [(events[i % len(events)] + "\n").encode() for i in range(count)]
    return lines, listed, observed / len(events)


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


def in_client_process(function, *args):  # type: ignore[no-untyped-def]
    """Run an async client function in a fresh process (the service keeps its core)."""
    with ProcessPoolExecutor(1) as pool:
        return pool.submit(_client_main, function, *args).result()


def _client_main(function, *args):  # type: ignore[no-untyped-def]
    return asyncio.run(function(*args))


def percentiles(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=1000)
    return f"p50 {cuts[499]:.3f} ms  p99 {cuts[989]:.3f} ms  p99.9 {cuts[998]:.3f} ms"


def start_service(data: Path, feed: Path, port: int, workers: int,
                  config: Path) -> subprocess.Popen[bytes]:
    log = open(data.parent / f"serve-{workers}.log", "w")  # noqa: SIM115 - the child's
    receiver = socket.socket()
    receiver.bind(("127.0.0.1", 0))
    receiver.listen()
    process = subprocess.Popen(
        [sys.executable, "-m", "trapline", "serve", "--config", str(config),
         "--data-dir", str(data), "--feed", str(feed),
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
        seconds = in_client_process(saturate, 6379, lines, connections, b"SELECT 15\r\n",
                                    b"\r\n")
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
    parser.add_argument("--workloads", nargs="+", default=["single", "multi", "eve"],
                        choices=["single", "multi", "eve"])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="protocol-bench-"))
    try:
        values = make_values(args.indicators)
        asked = queries(values, args.events, 7)
        eve_lines, eve_listed, eve_per_event = eve_workload(args.events)
        feed = folder / "bench.txt"
        feed.write_text("\n".join(values + eve_listed) + "\n")
        config = folder / "trapline.toml"
        config.write_text('[service]\nrules = "eve"\n')
        workloads = {
            "single": ([f"{kuma_line(v)}\n".encode() for v in asked], 1.0),
            "multi": (multi_lines(values, args.events, 11), 4.0),
            "eve": (eve_lines, eve_per_event),
        }
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
              f"{args.indicators:,} indicators, {args.events:,} events a workload, "
              f"{args.connections} connections, client in its own process")
        opening = b"X-KF-SendFinishedEventX-KF-ReplyBack"
        results: dict[tuple[int, str], float] = {}
        for workers in args.workers:
            port = free_port()
            process = start_service(folder / "data", feed, port, workers, config)
            try:
                for name in args.workloads:
                    lines, per_event = workloads[name]
                    in_client_process(saturate, port, lines[:2000], 1, opening, FINISHED)
                    seconds = in_client_process(saturate, port, lines, args.connections,
                                                opening, FINISHED)
                    rate = len(lines) / seconds
                    results[workers, name] = rate * per_event
                    print(f"--workers {workers} {name:6}: {rate:,.0f} events/s, "
                          f"{rate * per_event:,.0f} observables/s ({per_event:.2f} an event, "
                          f"{seconds:.2f} s)")
                    latencies = in_client_process(fixed_rate, port, lines, args.seconds, 1000,
                                                  opening, FINISHED)
                    print(f"    at 1,000 events/s on one connection: {percentiles(latencies)}")
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
        redis_seconds = redis_reference(values, asked, args.connections)
        if redis_seconds:
            redis_rate = args.events / redis_seconds
            print(f"redis EXISTS, same client: {redis_rate:,.0f} lookups/s "
                  f"({redis_seconds:.2f} s)")
            for (workers, name), rate in results.items():
                print(f"  trapline {name} observables/s ÷ redis, {workers} worker(s): "
                      f"{rate / redis_rate:.2f}")
    finally:
        remove_unless_kept(folder)


if __name__ == "__main__":
    main()
