"""Collector benchmark: events/s through one `trapline collect` process, and added latency.

    python bench/collector_bench.py                          # 1M indicators, 200k events
    python bench/collector_bench.py --indicators 200000 --events 50000   # quicker

Loads ``--indicators`` indicators (bench/protocol_bench.py's IPv4, domains and
SHA-256 values) into a local ``trapline serve`` (one worker), starts one
``trapline collect`` with a TCP JSON-lines input, one rule of three mappings
(SourceAddress -> ip, DestinationHostName -> domain, FileHash -> hash; RPS
limit out of the way, ``--connections`` connections) and a TCP output to a
receiver in this process. The rule is ``cybertrace`` (the TCP event protocol,
one request line per event), then ``cybertrace-http`` (the HTTP lookup API
over plain HTTP on loopback, up to ``--batch`` waiting events per POST), then
no rule (the baseline). Two workloads (``--workloads``):

- ``uniform``: every event distinct, half hits, half misses (the worst case:
  the answer cache never helps);
- ``eve``: the observables of the real Suricata EVE log of ../shared/data
  (5,120 events through the ``eve`` preset: SourceAddress, DestinationAddress,
  DestinationHostName), in their order and with their repetition (64 % of the
  events repeat an earlier request, 87 % of the values repeat). Each pass over
  the log gets values of its own (addresses from 100.64.0.0/10, ``pN-`` before
  names), so a pass repeats only within itself, as the log does; a tenth of
  each pass's distinct values are indicators (the mapping is
  SourceAddress -> ip, DestinationAddress -> ip, DestinationHostName -> domain).

- saturation: ``--events`` events sent as fast as the collector takes them
  (TCP backpressure paces the sender); events/s from the first write to the
  last enriched event received;
- latency: ``--rate`` events/s for ``--seconds``; each event carries its send
  time, the receiver notes its arrival: added latency p50/p99 (collector +
  service round trip + output), beside the same run with no rule (the
  collector alone).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_bench import (
    EVE_LOG,
    free_port,
    half_hits,
    make_values,
    remove_unless_kept,
    start_service,
)

from trapline.security.passwords import hash_password
from trapline.store import SYSTEM, open_store

USER, PASSWORD = "bench", "bench-password-123"


MAPPINGS = {
    "uniform": (("SourceAddress", "ip"), ("DestinationHostName", "domain"), ("FileHash", "hash")),
    "eve": (("SourceAddress", "ip"), ("DestinationAddress", "ip"),
            ("DestinationHostName", "domain")),
}


def eve_events(count: int) -> tuple[list[dict[str, object]], list[str]]:
    """``count`` events with the EVE log's observables and repetition, pass by pass with
    values of each pass's own; and the indicators (a tenth of each pass's values)."""
    from trapline.collector.parsers.jsonline import parse_json
    from trapline.collector.schema import PRESETS

    fields = [name for name, _ in MAPPINGS["eve"]]
    rows = []
    for line in EVE_LOG.read_text().splitlines():
        if line.strip():
            event = parse_json(line)
            PRESETS["eve"](event)
            rows.append([(name, event[name]) for name in fields if event.get(name)])
    distinct = list(dict.fromkeys(value for row in rows for _, value in row))
    address = 0
    out: list[dict[str, object]] = []
    listed: list[str] = []
    for number in range(-(-count // len(rows))):
        names = {}
        for i, value in enumerate(distinct):
            try:
                version = ipaddress.ip_address(value).version
            except ValueError:
                names[value] = f"p{number}-{value}"
            else:
                address += 1
                names[value] = str(ipaddress.IPv4Address(0x64400000 + address)
                                   if version == 4 else
                                   ipaddress.IPv6Address((0xFD00 << 112) + address))
            if i % 10 == 0:
                listed.append(names[value])
        for row in rows[:count - len(out)]:
            out.append({"id": len(out)} | {name: names[value] for name, value in row})
    return out, listed


def events(values: list[str], count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    pick = half_hits(values, rng)
    out = []
    for i in range(count):
        out.append({"id": i,
                    "SourceAddress": pick(0, f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}"
                                             f".{rng.randrange(256)}"),
                    "DestinationHostName": pick(1, f"miss{rng.randrange(10**9)}.example.net"),
                    "FileHash": pick(2, f"{rng.getrandbits(256):064x}")})
    return out


class Receiver:
    def __init__(self) -> None:
        self.count = 0
        self.latencies: list[float] = []
        self.enriched = 0
        self.last = 0.0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = b""
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await self._read(reader, buffer)

    async def _read(self, reader: asyncio.StreamReader, buffer: bytes) -> None:
        while chunk := await reader.read(1 << 20):
            now = time.time()
            buffer += chunk
            lines = buffer.split(b"\n")
            buffer = lines.pop()
            for line in lines:
                if not line:
                    continue
                self.count += 1
                if b'"t":' in line:
                    event = json.loads(line)
                    self.latencies.append((now - event["t"]) * 1000)
                if b'"enriched"' in line:
                    self.enriched += 1
            self.last = time.perf_counter()


def collect_config(folder: Path, ports: dict[str, int], input_port: int, output_port: int,
                   args: argparse.Namespace, kind: str, workload: str) -> Path:
    if kind == "cybertrace":
        source = f'kind = "cybertrace"\nurl = "127.0.0.1:{ports["tcp"]}"'
    else:
        secret = folder / "bench.secret"
        secret.write_text(f'user = "{USER}"\npassword = "{PASSWORD}"\n')
        secret.chmod(0o600)
        source = (f'kind = "cybertrace-http"\nurl = "127.0.0.1:{ports["http"]}"\ntls = false\n'
                  f'secret_file = "{secret}"\nbatch = {args.batch}')
    rule = f"""
[[rule]]
name = "bench"
{source}
connections = {args.connections}
rps = 1000000
timeout = 30
mapping = [{", ".join(f'{{ field = "{f}", type = "{t}" }}' for f, t in MAPPINGS[workload])}]
""" if kind else ""
    path = folder / f"collect-{kind or 'none'}.toml"
    path.write_text(f"""
[collector]
stats_interval = 0
queue = 10000
[[input]]
type = "tcp"
listen = "127.0.0.1:{input_port}"
format = "json"
{rule}
[[output]]
type = "tcp"
address = "127.0.0.1:{output_port}"
syslog_header = false
batch = 2000
""")
    return path


def start_collector(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "trapline", "collect", "--config",
                                str(config)], stdout=subprocess.DEVNULL,
                               stderr=open(log, "wb"))  # noqa: SIM115 - the child's
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if b"ready" in log.read_bytes():
            return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(log.read_text())


async def saturate(port: int, receiver: Receiver, lines: list[bytes]) -> float:
    receiver.count = 0
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    for start in range(0, len(lines), 1000):
        writer.write(b"".join(lines[start:start + 1000]))
        await writer.drain()
    while receiver.count < len(lines):
        await asyncio.sleep(0.01)
    writer.close()
    return receiver.last - started


async def fixed_rate(port: int, receiver: Receiver, items: list[dict[str, object]],
                     rate: int, seconds: float) -> list[float]:
    receiver.latencies = []
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    total = int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        item = dict(items[i % len(items)], t=time.time())
        writer.write(json.dumps(item).encode() + b"\n")
    deadline = time.monotonic() + 60
    while len(receiver.latencies) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    writer.close()
    return receiver.latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), to report events per CPU
    second: on a shared, noisy machine the collector's own cost is steadier than
    wall-clock throughput."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cuts(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100)
    return f"p50 {q[49]:.2f} ms  p99 {q[98]:.2f} ms  (n={len(values):,})"


LABELS = {"cybertrace": "1 rule (cybertrace, TCP), 3 mappings",
          "cybertrace-http": "1 rule (cybertrace-http, batch {batch}), 3 mappings",
          "": "no rule (collector alone)"}


async def run(args: argparse.Namespace, folder: Path, ports: dict[str, int],
              workloads: dict[str, list[dict[str, object]]]) -> None:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0)
    output_port = server.sockets[0].getsockname()[1]
    for workload, items in workloads.items():
        print(f"workload {workload}:")
        lines = [json.dumps(item).encode() + b"\n" for item in items]
        for kind in args.kinds.split(","):
            kind = "" if kind == "none" else kind
            await measure(args, folder, ports, output_port, receiver, workload, kind, items,
                          lines)
    server.close()


async def measure(args: argparse.Namespace, folder: Path, ports: dict[str, int],
                  output_port: int, receiver: Receiver, workload: str, kind: str,
                  items: list[dict[str, object]], lines: list[bytes]) -> None:
    input_port = free_port()
    config = collect_config(folder, ports, input_port, output_port, args, kind, workload)
    log = folder / f"collect-{kind or 'none'}.log"
    process = start_collector(config, input_port, log)
    label = "  " + LABELS[kind].format(batch=args.batch)
    try:
        await saturate(input_port, receiver, lines[:5000])  # warm-up
        receiver.enriched = 0
        cpu = cpu_seconds(process.pid)
        seconds = await saturate(input_port, receiver, lines)
        cpu = cpu_seconds(process.pid) - cpu
        print(f"{label}: {len(lines) / seconds:,.0f} events/s "
              f"({len(lines):,} events in {seconds:.2f} s"
              + (f", {receiver.enriched:,} enriched" if kind else "")
              + f"; collector CPU {cpu:.2f} s, {len(lines) / max(cpu, 0.01):,.0f} "
                "events per CPU second)")
        latencies = await fixed_rate(input_port, receiver, items, args.rate, args.seconds)
        print(f"      at {args.rate:,} events/s: latency through the collector {cuts(latencies)}")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=100, help="cybertrace-http: events per POST")
    parser.add_argument("--kinds", default="cybertrace,cybertrace-http,none",
                        help="rules to run, in order (none: the baseline without a rule)")
    parser.add_argument("--workloads", default="uniform,eve")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="collector-bench-"))
    try:
        values = make_values(args.indicators)
        workloads: dict[str, list[dict[str, object]]] = {}
        for workload in args.workloads.split(","):
            if workload == "uniform":
                workloads[workload] = events(values, args.events, 5)
            else:
                workloads[workload], listed = eve_events(args.events)
                values += listed
        feed = folder / "bench.txt"
        feed.write_text("\n".join(values) + "\n")
        ports = {"tcp": free_port(), "http": free_port()}
        store = open_store(folder / "data")  # the rule's user, as `trapline users add` makes it
        store.users.create(SYSTEM, USER, hash_password(PASSWORD), role="Analyst")
        store.close()
        config = folder / "trapline.toml"
        config.write_text("[service]\nupdate_interval = 86400\n[http]\n"
                          f'listen = "127.0.0.1:{ports["http"]}"\ntls = false\n')
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
              f"{len(values):,} indicators, one collector process, "
              f"trapline serve --workers 1, {args.connections} connections")
        service = start_service(folder / "data", feed, ports["tcp"], 1, config)
        try:
            asyncio.run(run(args, folder, ports, workloads))
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(60)
    finally:
        remove_unless_kept(folder)


if __name__ == "__main__":
    main()
