"""HTTP lookup benchmark: observables/s and latency of `trapline serve`'s lookup API.

    python bench/http_bench.py                                  # 200k indicators, 10 s each
    python bench/http_bench.py --indicators 1000000 --seconds 30 --connections 8

Loads ``--indicators`` indicators (IPv4, domains, SHA-256; a plain list, as
bench/protocol_bench.py makes them) into a data directory, starts
``trapline serve --workers 1`` with its HTTP API (plain HTTP on loopback, then
HTTPS with the self-signed certificate), and drives it from a separate client
process (raw asyncio HTTP/1.1 over keep-alive connections, request bodies built
beforehand, so the client costs little of the other core):

- batches: ``POST /api/1.1/lookup`` with ``--batch`` objects each (half hits),
  ``--connections`` connections in a closed loop for ``--seconds``; observables/s,
  and the latency of each request (p50/p99);
- batches, one connection: the same, one request at a time (latency unloaded);
- single objects: the same with one object per request; requests/s.

The baseline in the same run: the same batches looked up in this process, by
``Snapshot.lookup_many`` and by the worker's ``Matcher`` (its verdict cache
included), so the ratio is what HTTP (parse, auth, JSON in and out, the socket)
costs on top of the lookups. The worker's CPU time is read with psutil, so
"per worker" is per busy core.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from protocol_bench import free_port, make_values, queries, remove_unless_kept

from trapline.security.passwords import hash_password
from trapline.store import SYSTEM, open_store

USER, PASSWORD = "bench", "bench-secret"
AUTHORIZATION = "Basic " + __import__("base64").b64encode(f"{USER}:{PASSWORD}".encode()).decode()


# -- the client process ----------------------------------------------------------------------


async def _drive(spec: dict[str, Any]) -> dict[str, Any]:
    bodies = [body.encode() for body in spec["bodies"]]
    objects = spec["objects"]
    connections = spec["connections"]
    context = None
    if spec["ca"]:
        context = ssl.create_default_context(cafile=spec["ca"])
    head = (f"POST /api/1.1/lookup HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: {AUTHORIZATION}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\nContent-Length: %d\r\n\r\n").encode()
    latencies: list[float] = []
    failures = 0

    async def request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      body: bytes) -> tuple[int, bytes]:
        writer.write(head % len(body) + body)
        lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        length = next(int(line.split(b":")[1]) for line in lines
                      if line.lower().startswith(b"content-length:"))
        return int(lines[0].split()[1]), await reader.readexactly(length)

    async def one(index: int, deadline: float) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", spec["port"], ssl=context,
            server_hostname="localhost" if context else None, limit=1 << 24)
        status, answer = await request(reader, writer, bodies[index % len(bodies)])
        entries = json.loads(answer)  # check one answer whole: order, shape, hits
        assert status == 200 and (not objects or len(entries) == objects), (status, answer[:200])
        i = index
        while time.perf_counter() < deadline:
            i += connections
            started = time.perf_counter()
            status, _ = await request(reader, writer, bodies[i % len(bodies)])
            latencies.append(time.perf_counter() - started)
            failures += status != 200
        writer.close()

    await asyncio.gather(*(one(i, time.perf_counter() + 1.0) for i in range(connections)))
    latencies.clear()  # that was the warm-up
    started = time.perf_counter()
    deadline = started + spec["seconds"]
    await asyncio.gather(*(one(i, deadline) for i in range(connections)))
    elapsed = time.perf_counter() - started
    return {"requests": len(latencies), "seconds": elapsed, "failures": failures,
            "latencies": latencies}


def client_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_drive(spec))))


def run_client(folder: Path, port: int, ca: Path | None, bodies: list[str], objects: int,
               connections: int, seconds: float) -> dict[str, Any]:
    spec = folder / "client.json"
    spec.write_text(json.dumps({"port": port, "ca": str(ca) if ca else "", "bodies": bodies,
                                "objects": objects, "connections": connections,
                                "seconds": seconds}))
    out = subprocess.run([sys.executable, __file__, "--client", str(spec)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


# -- the service and the baseline ------------------------------------------------------------


def start_service(folder: Path, feed: Path, tls: bool) -> tuple[subprocess.Popen[bytes], int]:
    store = open_store(folder / "data")  # the bench user, as `trapline users add` makes it
    if store.users.find(USER) is None:
        store.users.create(SYSTEM, USER, hash_password(PASSWORD), role="Analyst")
    store.close()
    config = folder / "trapline.toml"
    config.write_text("[http]\nlisten = \"127.0.0.1:8080\"\n" +
                      ("" if tls else "tls = false\n"))
    receiver = socket.socket()
    receiver.bind(("127.0.0.1", 0))
    receiver.listen()
    tcp, http = free_port(), free_port()
    log = open(folder / f"serve-{'https' if tls else 'http'}.log", "w")  # noqa: SIM115 - the child's
    process = subprocess.Popen(
        [sys.executable, "-m", "trapline", "serve", "--config", str(config), "--data-dir",
         str(folder / "data"), "--feed", str(feed), "--listen", f"127.0.0.1:{tcp}",
         "--http", f"127.0.0.1:{http}", "--workers", "1",
         "--output", f"127.0.0.1:{receiver.getsockname()[1]}"],
        stdout=subprocess.DEVNULL, stderr=log)
    process.receiver = receiver  # type: ignore[attr-defined]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", http), timeout=1).close()
            return process, http
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"trapline serve exited; see {log.name}") from None
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("trapline serve did not start")


def worker_of(process: subprocess.Popen[bytes]) -> Any:
    import psutil

    children = psutil.Process(process.pid).children(recursive=True)
    return next(c for c in children if "resource_tracker" not in " ".join(c.cmdline()))


def baseline(data: Path, batches: list[list[str]], seconds: float) -> dict[str, float]:
    """Lookups per second in this process, over the same batches, for ``seconds`` each."""
    from trapline.index import SnapshotCatalog, SnapshotFollower

    follower = SnapshotFollower(SnapshotCatalog(data))
    ways: dict[str, Any] = {"Snapshot.lookup_many": lambda b: follower.get().lookup_many(b)}
    try:
        from trapline.index.matcher import Matcher

        matcher = Matcher(follower.get)
        ways["Matcher.lookup_many (cached)"] = lambda b: matcher.lookup_many(b, "General")
    except ImportError:
        pass
    rates = {}
    gc.collect()
    gc.freeze()  # this process holds the query lists; a worker's heap is small
    for name, lookup in ways.items():
        done, started = 0, time.process_time()
        while time.process_time() - started < seconds:
            batch = batches[done // len(batches[0]) % len(batches)]
            lookup(batch)
            done += len(batch)
        rates[name] = done / (time.process_time() - started)
    return rates


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] * 1000


def report(name: str, result: dict[str, Any], objects: int, cpu: float) -> float:
    rate = result["requests"] * objects / result["seconds"]
    latencies = result["latencies"]
    print(f"  {name}: {result['requests'] / result['seconds']:,.0f} requests/s, "
          f"{rate:,.0f} observables/s (worker CPU {cpu / result['seconds']:.0%}, "
          f"{result['requests'] * objects / cpu:,.0f} observables per worker CPU-second), "
          f"p50 {percentile(latencies, 0.5):.2f} ms, p99 {percentile(latencies, 0.99):.2f} ms"
          + (f", {result['failures']} failures" if result["failures"] else ""))
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--indicators", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000, help="objects per request")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--no-tls", action="store_true", help="plain HTTP only")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args.client)
        return
    folder = Path(tempfile.mkdtemp(prefix="http-bench-"))
    try:
        values = make_values(args.indicators)
        feed = folder / "bench.txt"
        feed.write_text("\n".join(values) + "\n")
        asked = queries(values, 200 * args.batch, 7)  # 200 distinct batches, half hits
        batches = [asked[i:i + args.batch] for i in range(0, len(asked), args.batch)]
        bodies = [json.dumps([{"object": v} for v in b]) for b in batches]
        singles = [json.dumps([{"object": v}]) for v in asked[:10_000]]
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
              f"{args.indicators:,} indicators, batches of {args.batch:,} objects "
              f"(half hits), {args.connections} connections, {args.seconds:.0f} s each, "
              "trapline serve --workers 1")
        results = {}
        for tls in ([False] if args.no_tls else [False, True]):
            process, port = start_service(folder, feed, tls)
            try:
                worker = worker_of(process)
                ca = folder / "data/tls/cert.pem" if tls else None
                print("HTTPS (self-signed certificate)" if tls else "plain HTTP (loopback)")
                for name, chosen, objects, connections in (
                        ("batches", bodies, args.batch, args.connections),
                        ("batches, one connection", bodies, args.batch, 1),
                        ("single objects", singles, 1, args.connections)):
                    cpu = sum(worker.cpu_times()[:2])
                    result = run_client(folder, port, ca, chosen, objects, connections,
                                        args.seconds)
                    cpu = sum(worker.cpu_times()[:2]) - cpu
                    # the client's warm-up second is in the worker's CPU time too
                    cpu *= result["seconds"] / (result["seconds"] + 1.0)
                    results[tls, name] = report(name, result, objects, cpu)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
        print(f"baseline, in this process, the same batches ({min(args.seconds, 5):.0f} s "
              "CPU each):")
        rates = baseline(folder / "data", batches, min(args.seconds, 5))
        for name, rate in rates.items():
            print(f"  {name}: {rate:,.0f} lookups/s")
            for (tls, kind), measured in results.items():
                if kind == "batches":
                    print(f"    HTTP{'S' if tls else ''} batches / {name}: "
                          f"{measured / rate:.2f}")
    finally:
        remove_unless_kept(folder)


if __name__ == "__main__":
    main()
