"""Index benchmark: build time, snapshot size, serving memory and lookups/s.

    python bench/index_bench.py --count 1000000 --backend both
    python bench/index_bench.py --count 10000000 --backend lmdb --out bench/out/scratch-10m

Phases (see bench/RESULTS.md for what each number means):

1. build, in this process: generate ``--count`` records (bench/generate.py) in
   chunks, outside the clock; ``SnapshotBuilder.add`` on each (normalize+group,
   timed); then the write: ``SnapshotCatalog.publish`` (LMDB) and/or
   ``MemoryBackend(builder, meta)`` (dicts), timed apart.
2. serving, each in a fresh ``spawn`` child that holds nothing else: open the
   published LMDB snapshot and read every entry once (all pages mapped, as in a
   worker that has served a while; ``--cold-lmdb`` skips this), or load the
   memory backend's dicts, or build them from the generator; run the lookup
   workload; report memory from
   /proc/self/status and /proc/self/smaps_rollup and lookups/s per query set
   (``lookup_many`` over the list and one ``lookup`` call per value).
3. baseline, in fresh children: a ``set`` of the canonical strings and a ``dict``
   canonical string -> (feed, category); ``x.lower() in s`` / ``d.get(x.lower())``.

``--queries`` is the number of lookups per mode, split evenly over the 20 query
sets (10 kinds, hit and miss): each set holds 2 x queries/20 distinct values (plus
50 for an untimed warm-up), the first half for ``lookup_many``, the second for
per-call ``lookup``. Rates are medians over slices of 500 lookups, per CPU second
(robust to other processes on the machine) and per wall-clock second; the CPU use
of other processes during each phase is recorded too (``CpuWatch``).
Everything printed is also in the JSON line at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import marshal
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec
from generate import CATEGORIES, FEEDS, QuerySampler, QuerySet, records, values

from trapline.index import SnapshotBuilder, SnapshotCatalog
from trapline.index.lmdb_backend import LmdbBackend
from trapline.index.memory_backend import MemoryBackend
from trapline.index.snapshot import Snapshot

CHUNK = 50_000
SEED = 1


# --------------------------------------------------------------------------- memory


def memory() -> dict[str, int]:
    """This process's memory in bytes: VmRSS/VmHWM and the smaps_rollup totals."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, rest = line.split(":", 1)
                out[key] = int(rest.split()[0]) * 1024
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    out["Private"] = out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)
    return out


class CpuWatch:
    """How busy the machine was apart from this process, between start and ``stop()``.

    Reads /proc/stat (all CPUs) and this process's own CPU time: ``others_cores``
    is the average number of cores that other processes kept busy, ``steal_cores``
    the hypervisor's steal time, both over the wall-clock interval.
    """

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float, float]:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
        busy = (user + nice + system + irq + softirq) / tick
        return time.perf_counter(), busy, steal / tick, time.process_time()

    def stop(self) -> dict[str, float]:
        wall0, busy0, steal0, own0 = self.start
        wall1, busy1, steal1, own1 = self._sample()
        wall = max(wall1 - wall0, 1e-9)
        return {"wall_s": wall, "own_cores": (own1 - own0) / wall,
                "others_cores": max(0.0, (busy1 - busy0) - (own1 - own0)) / wall,
                "steal_cores": (steal1 - steal0) / wall}


MEM_KEYS = ("VmRSS", "Rss", "Pss", "Private", "Private_Clean", "Private_Dirty", "Anonymous")


def mem_delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """``after - before`` for the keys reported."""
    return {key: after.get(key, 0) - before.get(key, 0) for key in MEM_KEYS}


def settle() -> dict[str, int]:
    """Collect garbage, then measure memory."""
    gc.collect()
    return memory()


# --------------------------------------------------------------------------- children


def run_in_child(func: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``func(*args)`` in a fresh spawned interpreter and return its result.

    A child killed by a signal (another process's cleanup on a shared machine) is
    run once more; the result then says ``retried``.
    """
    try:
        return _run_in_child_once(func, *args)
    except ChildKilled as exc:
        print(f"WARNING: {func.__name__} child killed ({exc}); running it again", flush=True)
        result = _run_in_child_once(func, *args)
        result["retried"] = str(exc)
        return result


class ChildKilled(RuntimeError):
    """A benchmark child ended by a signal before it sent its result."""


def _run_in_child_once(func: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_entry, args=(sender, func.__name__, args))
    proc.start()
    sender.close()
    try:
        result = receiver.recv()
    except EOFError:
        proc.join()
        if proc.exitcode is not None and proc.exitcode < 0:
            raise ChildKilled(f"signal {-proc.exitcode}") from None
        result = {"error": f"child died, exit code {proc.exitcode}"}
    proc.join()
    if "error" in result:
        raise RuntimeError(f"{func.__name__} failed in child:\n{result['error']}")
    if result["trapline"] != source_fingerprint():
        print(f"WARNING: trapline sources changed during the run ({func.__name__})",
              flush=True)
    return result


def _child_entry(conn: Connection, name: str, args: tuple[Any, ...]) -> None:
    try:
        result = globals()[name](*args)
        result["trapline"] = source_fingerprint()
        conn.send(result)
    except BaseException:
        conn.send({"error": traceback.format_exc()})
    finally:
        conn.close()


def load_queries(path: str) -> list[QuerySet]:
    """Query sets written by the parent (JSON)."""
    with open(path) as handle:
        return [QuerySet.from_json(item) for item in json.load(handle)]


WARM = 50  # values at the end of each query set, looked up untimed before timing
SLICE = 500  # values per timed slice; a rate is the median over the slices


def _timed(run: Callable[[list[str]], Any], values: list[str]) -> dict[str, Any]:
    """Time ``run`` over consecutive slices of ``values``: median and overall rates.

    Each value is looked up once. The median over slices (CPU time and wall time)
    drops the slices that a co-tenant process or a GC pass happened to slow down.
    """
    cpu_rates, wall_rates, results = [], [], []
    total_cpu = total_wall = 0.0
    for index in range(0, len(values), SLICE):
        part = values[index:index + SLICE]
        start, cpu = time.perf_counter(), time.process_time()
        results.append(run(part))
        wall, used = time.perf_counter() - start, time.process_time() - cpu
        total_cpu += used
        total_wall += wall
        cpu_rates.append(len(part) / max(used, 1e-9))
        wall_rates.append(len(part) / max(wall, 1e-9))
    return {"per_cpu_s": statistics.median(cpu_rates), "per_s": statistics.median(wall_rates),
            "overall_per_cpu_s": len(values) / total_cpu,
            "overall_per_s": len(values) / total_wall, "results": results}


def workload(snapshot: Snapshot, query_sets: list[QuerySet], per_call: bool) -> list[dict]:
    """Lookups/s per query set: ``lookup_many`` over the first half of its values and,
    if ``per_call``, one ``lookup`` per value over the second half (distinct values,
    so neither pass warms a cache for the other). The last WARM values of every set
    are looked up first, untimed: one-time loads (public suffix list, parsers) and
    first-touch costs are not charged to the first set that needs them."""
    for qs in query_sets:
        snapshot.lookup_many(qs.observed[-WARM:])
    lookup = snapshot.lookup

    def one_by_one(part: list[str]) -> None:
        for value in part:
            lookup(value)

    rows = []
    for qs in query_sets:
        watch = CpuWatch()
        body = qs.observed[:-WARM] if len(qs.observed) > 2 * WARM else qs.observed
        half = max(1, len(body) // 2)
        first, second = body[:half], body[half:]
        many = _timed(snapshot.lookup_many, first)
        verdicts = [v for part in many.pop("results") for v in part]
        detected = sum(v.detected for v in verdicts)
        hows = Counter(f"{m.via} {m.how}".strip() for v in verdicts for m in v.matches[:1])
        del verdicts
        row: dict[str, Any] = {"set": qs.label, "n": len(first),
                               "detected": detected / len(first),
                               "how": dict(hows.most_common(3))}
        row.update({f"many_{key}": value for key, value in many.items()})
        if per_call and second:
            call = _timed(one_by_one, second)
            call.pop("results")
            row.update({f"call_{key}": value for key, value in call.items()})
        row["cpu"] = watch.stop()
        rows.append(row)
    return rows


def touch_all(backend: LmdbBackend) -> int:
    """Read every entry of every key space (maps every page of the file); entries read."""
    count = 0
    with backend.env.begin() as txn:
        for db in backend.dbs.values():
            for _key, _value in txn.cursor(db=db).iternext():
                count += 1
    return count


def serve_lmdb(data_dir: str, queries_path: str, per_call: bool,
               pretouch: bool = True) -> dict[str, Any]:
    """Child: open the current snapshot, read every entry, run the workload.

    Reading every entry first maps every page of the file into the process, as in
    a worker that has served for a while, so the lookup rates do not include the
    first-touch page faults (which made a fresh worker's first lookups up to ~1.5x
    slower at 10M). With ``pretouch`` false the file is read after the workload.
    """
    query_sets = load_queries(queries_path)
    before = settle()
    start = time.perf_counter()
    snapshot = SnapshotCatalog(data_dir).open_current()
    opened_s = time.perf_counter() - start
    opened = settle()
    assert isinstance(snapshot.backend, LmdbBackend)
    entries = 0
    if pretouch:
        entries = touch_all(snapshot.backend)
    touched = settle()
    rows = workload(snapshot, query_sets, per_call)
    served = settle()
    if not pretouch:
        entries = touch_all(snapshot.backend)
        touched = settle()
    return {"open_s": opened_s, "rows": rows, "before": before, "opened": opened,
            "served": served, "touched_all": touched, "entries": entries,
            "pretouch": pretouch, "delta_served": mem_delta(served, before),
            "delta_touched_all": mem_delta(touched, before)}


def serve_lmdb_shared(data_dir: str, queries_path: str, barrier: Any) -> dict[str, Any]:
    """Child, one of several at once: open, look up everything, measure while all are up."""
    query_sets = load_queries(queries_path)
    before = settle()
    snapshot = SnapshotCatalog(data_dir).open_current()
    for qs in query_sets:
        snapshot.lookup_many(qs.observed)
    assert isinstance(snapshot.backend, LmdbBackend)
    touch_all(snapshot.backend)
    barrier.wait()
    measured = settle()
    barrier.wait()
    return {"before": before, "served": measured, "delta": mem_delta(measured, before)}


def serve_memory_loaded(tables_path: str, queries_path: str, per_call: bool) -> dict[str, Any]:
    """Child: load the memory backend's dicts (marshal), run the workload."""
    query_sets = load_queries(queries_path)
    before = settle()
    start = time.perf_counter()
    with open(tables_path, "rb") as handle:
        meta_bytes, tables = marshal.load(handle)
    backend = MemoryBackend.__new__(MemoryBackend)
    backend.tables = tables
    backend.meta_bytes = meta_bytes
    snapshot = Snapshot(backend)
    load_s = time.perf_counter() - start
    loaded = settle()
    rows = workload(snapshot, query_sets, per_call)
    served = settle()
    return {"load_s": load_s, "rows": rows, "before": before, "loaded": loaded,
            "served": served, "delta_served": mem_delta(served, before),
            "keys": sum(len(t) for t in tables.values())}


def serve_memory_built(count: int) -> dict[str, Any]:
    """Child: build the memory backend from the generator, drop the builder, measure."""
    before = settle()
    builder = SnapshotBuilder()
    for chunk in chunks(records(count, SEED), CHUNK):
        for record in chunk:
            builder.add(record)
    peak_builder = settle()
    backend = MemoryBackend(builder, b"")
    del builder
    after = settle()
    keys = sum(len(t) for t in backend.tables.values())
    return {"before": before, "with_builder": peak_builder, "after": after,
            "delta": mem_delta(after, before), "keys": keys}


def baseline(kind: str, count: int, queries_path: str) -> dict[str, Any]:
    """Child: a set (or dict) of the canonical strings; memory and lookups/s per set."""
    query_sets = load_queries(queries_path)
    feeds = [sys.intern(f) for f in FEEDS]
    categories = [sys.intern(c) for c in CATEGORIES]
    before = settle()
    start = time.perf_counter()
    table: set[str] | dict[str, tuple[str, str]]
    if kind == "set":
        table = {value.lower() for value, _kind, _f, _c, _ctx in values(count, SEED)}
    else:
        table = {value.lower(): (feeds[f], categories[c])
                 for value, _kind, f, c, _ctx in values(count, SEED)}
    build_s = time.perf_counter() - start
    after = settle()
    rows = []
    for qs in query_sets:
        probes = qs.probe
        watch = CpuWatch()
        elapsed = elapsed_cpu = float("inf")
        for _ in range(5):  # best of 5: no cache to warm, only noise to drop
            start, cpu = time.perf_counter(), time.process_time()
            if isinstance(table, set):
                found = sum(1 for value in probes if value.lower() in table)
            else:
                get = table.get
                found = sum(1 for value in probes if get(value.lower()) is not None)
            elapsed = min(elapsed, time.perf_counter() - start)
            elapsed_cpu = min(elapsed_cpu, time.process_time() - cpu)
        rows.append({"set": qs.label, "n": len(probes), "per_s": len(probes) / elapsed,
                     "cpu": watch.stop(),
                     "per_cpu_s": len(probes) / elapsed_cpu, "detected": found / len(probes)})
    return {"kind": kind, "entries": len(table), "build_s": build_s, "before": before,
            "after": after, "delta": mem_delta(after, before), "rows": rows}


# --------------------------------------------------------------------------- build


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of ``size`` consecutive items (the last may be shorter)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def build(count: int, per_set: int) -> tuple[SnapshotBuilder, QuerySampler, dict[str, float]]:
    """Generate (untimed) and add (timed) ``count`` records; the builder and the sampler."""
    builder = SnapshotBuilder()
    sampler = QuerySampler(2 * per_set + WARM)
    gen_s = add_s = add_cpu_s = 0.0
    watch = CpuWatch()
    stream = records(count, SEED)
    while True:
        start = time.perf_counter()
        chunk = list(islice(stream, CHUNK))
        for record in chunk:
            sampler.observe(record)
        gen_s += time.perf_counter() - start
        if not chunk:
            break
        start, cpu = time.perf_counter(), time.process_time()
        add = builder.add
        for record in chunk:
            add(record)
        add_s += time.perf_counter() - start
        add_cpu_s += time.process_time() - cpu
    return builder, sampler, {"generate_s": gen_s, "add_s": add_s, "add_cpu_s": add_cpu_s,
                              "cpu": watch.stop()}


# --------------------------------------------------------------------------- report


def source_fingerprint() -> dict[str, Any]:
    """Where ``trapline`` was imported from and a digest of its source files."""
    import hashlib

    import trapline

    root = Path(trapline.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return {"path": str(root), "sha256": digest.hexdigest()[:16]}


def machine() -> dict[str, Any]:
    """nproc, CPU model, memory and Python version."""
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    return {"nproc": os.cpu_count(), "cpu": model, "mem_gib": round(total_kb / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release()}


def _mb(value: float) -> str:
    return f"{value / 2**20:,.1f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def print_report(res: dict[str, Any]) -> None:
    """The human-readable tables."""
    n = res["count"]
    b = res["build"]
    print(f"\n== build: {n:,} indicators ({res['keys']:,} keys, {b['rejected']} rejected) ==")
    print(f"  generate (not in build time)   {b['generate_s']:9.1f} s")
    print(f"  normalize+group (add)          {b['add_s']:9.1f} s   "
          f"{b['add_s'] / n * 1e6:.1f} us/indicator (CPU {b['add_cpu_s']:.1f} s)")
    print(f"  builder process peak RSS       {_mb(b['builder_peak_rss']):>9} MiB   "
          f"{b['builder_peak_rss'] / n:.0f} B/indicator")
    if "lmdb" in res:
        lm = res["lmdb"]
        print(f"  LMDB write (publish)           {lm['write_s']:9.1f} s   (CPU "
              f"{lm['write_cpu_s']:.1f} s) total "
              f"{b['add_s'] + lm['write_s']:.1f} s = "
              f"{n / (b['add_s'] + lm['write_s']):,.0f} indicators/s")
        print(f"  LMDB file                      {_mb(lm['file_bytes']):>9} MiB   "
              f"{lm['file_bytes'] / n:.1f} B/indicator")
    if "memory" in res:
        me = res["memory"]
        print(f"  memory dict build              {me['write_s']:9.1f} s   (CPU "
              f"{me['write_cpu_s']:.1f} s) total "
              f"{b['add_s'] + me['write_s']:.1f} s = "
              f"{n / (b['add_s'] + me['write_s']):,.0f} indicators/s")

    print("\n== serving process memory (MiB; B/ind = bytes per indicator) ==")
    head = ("what", "VmRSS", "Rss", "Pss", "Private", "Priv_Dirty", "Anon", "RSS B/ind",
            "Priv B/ind", "Anon B/ind")
    print("  " + f"{head[0]:<44}" + "".join(f"{h:>11}" for h in head[1:]))
    for label, mem in res["memory_rows"]:
        cells = [_mb(mem["VmRSS"]), _mb(mem["Rss"]), _mb(mem["Pss"]), _mb(mem["Private"]),
                 _mb(mem["Private_Dirty"]), _mb(mem["Anonymous"]),
                 f"{mem['VmRSS'] / n:.1f}", f"{mem['Private'] / n:.1f}",
                 f"{mem['Anonymous'] / n:.1f}"]
        print("  " + f"{label:<44}" + "".join(f"{c:>11}" for c in cells))

    print("\n== lookups per CPU second per query set (many = lookup_many, call = lookup "
          "per value; wall-clock rates are in the JSON) ==")
    cols = []
    if "lmdb" in res:
        cols += [("lmdb many", "lmdb", "many_per_cpu_s"), ("lmdb call", "lmdb", "call_per_cpu_s")]
    if "memory" in res:
        cols += [("mem many", "memory", "many_per_cpu_s"),
                 ("mem call", "memory", "call_per_cpu_s")]
    cols += [("set", "set", "per_cpu_s"), ("dict", "dict", "per_cpu_s")]
    first = "lmdb" if "lmdb" in res else "memory"
    header = f"  {'query set':<16}" + "".join(f"{c[0]:>12}" for c in cols)
    header += f"{'set/' + first:>11}{'detected':>10}{'set det.':>10}"
    print(header)
    tables = {key: {r["set"]: r for r in res[key]["rows"]} for key in ("lmdb", "memory")
              if key in res}
    tables.update({key: {r["set"]: r for r in res["baseline"][key]["rows"]}
                   for key in ("set", "dict")})
    for label in [r["set"] for r in res["baseline"]["set"]["rows"]]:
        cells = [_rate(tables[src][label].get(field)) for _, src, field in cols]
        ratio = tables["set"][label]["per_cpu_s"] / tables[first][label]["many_per_cpu_s"]
        line = f"  {label:<16}" + "".join(f"{c:>12}" for c in cells)
        line += f"{ratio:>10.0f}x{tables[first][label]['detected']:>10.1%}"
        line += f"{tables['set'][label]['detected']:>10.1%}"
        print(line)
    print("\n== baseline ==")
    for key in ("set", "dict"):
        base = res["baseline"][key]
        per = base["delta"]["VmRSS"] / base["entries"]
        print(f"  {key:<5} {base['entries']:,} entries, RSS delta {_mb(base['delta']['VmRSS'])} "
              f"MiB = {per:.1f} B/entry, built in {base['build_s']:.1f} s")
    for label, ratio in res["ratios"].items():
        print(f"  {label:<62} {ratio:8.2f}")
    print(f"\n  load average at start {res['loadavg_start']}, at end {res['loadavg_end']}")
    print("  other processes' CPU use (cores, mean over the phase): " + ", ".join(
        f"{label} {value:.2f}" for label, value in others_summary(res).items()))


def others_summary(res: dict[str, Any]) -> dict[str, float]:
    """Mean cores busy with other processes during build and each workload."""
    out = {"build": res["build"]["cpu"]["others_cores"]}
    for key in ("lmdb", "memory"):
        if key in res:
            rows = res[key]["rows"]
            out[key] = sum(r["cpu"]["others_cores"] for r in rows) / len(rows)
    for key in ("set", "dict"):
        rows = res["baseline"][key]["rows"]
        out[key] = sum(r["cpu"]["others_cores"] for r in rows) / len(rows)
    return out


def ratios(res: dict[str, Any]) -> dict[str, float]:
    """trapline / baseline ratios of memory per indicator and of mean lookups/s."""
    n = res["count"]
    base_set = res["baseline"]["set"]
    set_bytes = base_set["delta"]["VmRSS"] / n
    out: dict[str, float] = {}
    set_rates = {r["set"]: r["per_cpu_s"] for r in base_set["rows"]}
    for key in ("lmdb", "memory"):
        if key not in res:
            continue
        rows = res[key]["rows"]
        mean_ratio = sum(set_rates[r["set"]] / r["many_per_cpu_s"] for r in rows) / len(rows)
        out[f"{key}: set lookups/CPU-s / trapline lookup_many, mean over sets"] = mean_ratio
    if "lmdb" in res:
        served = res["lmdb"]["serve"]["delta_served"]
        out["lmdb: serving dRSS (after workload) / set bytes"] = served["VmRSS"] / n / set_bytes
        out["lmdb: serving dAnonymous / set bytes"] = served["Anonymous"] / n / set_bytes
        out["lmdb: file bytes / set bytes"] = res["lmdb"]["file_bytes"] / n / set_bytes
    if "memory" in res:
        loaded = res["memory"]["serve"]["delta_served"]
        out["memory: serving dRSS (loaded dicts) / set bytes"] = loaded["VmRSS"] / n / set_bytes
    return out


# --------------------------------------------------------------------------- main


def main() -> int:
    """Parse arguments, run the phases, print the tables and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="indicators to generate")
    parser.add_argument("--queries", type=int, default=200_000,
                        help="lookups per mode, split over the 20 query sets")
    parser.add_argument("--backend", choices=("lmdb", "memory", "both"), default="both")
    parser.add_argument("--out", type=Path, help="scratch directory (default: a new /tmp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch files")
    parser.add_argument("--no-per-call", action="store_true", help="skip per-call lookups")
    parser.add_argument("--no-memory-build-child", action="store_true",
                        help="skip building the memory backend inside a serving child")
    parser.add_argument("--cold-lmdb", action="store_true",
                        help="time LMDB lookups before the file's pages are mapped")
    parser.add_argument("--workers", type=int, default=2,
                        help="LMDB serving processes measured at once (page sharing)")
    args = parser.parse_args()

    created = args.out is None
    out: Path = Path(tempfile.mkdtemp(prefix="trapline-bench-")) if created else args.out
    out.mkdir(parents=True, exist_ok=True)
    per_set = max(1, args.queries // 20)
    per_call = not args.no_per_call
    backends = ("lmdb", "memory") if args.backend == "both" else (args.backend,)
    res: dict[str, Any] = {"count": args.count, "queries_per_set": per_set,
                           "backends": list(backends), "machine": machine(), "out": str(out),
                           "trapline": source_fingerprint(), "argv": sys.argv,
                           "loadavg_start": os.getloadavg()}
    print(f"trapline index bench: {args.count:,} indicators, {per_set:,} queries per set, "
          f"backends {', '.join(backends)}, scratch {out}", flush=True)

    try:
        builder, sampler, timing = build(args.count, per_set)
        res["build"] = {**timing, "rejected": builder.rejected,
                        "builder_peak_rss": memory()["VmHWM"], "counts": dict(builder.counts)}
        res["keys"] = sum(len(table) for table in builder._spaces.values())
        print(f"  built: add {timing['add_s']:.1f} s (generate {timing['generate_s']:.1f} s)",
              flush=True)
        queries_path = out / "queries.json"
        queries_path.write_text(json.dumps([qs.to_json() for qs in sampler.query_sets()]))
        del sampler

        if "lmdb" in backends:
            start, cpu = time.perf_counter(), time.process_time()
            catalog = SnapshotCatalog(out / "lmdb")
            catalog.publish(builder)
            write_s, write_cpu_s = time.perf_counter() - start, time.process_time() - cpu
            path = catalog.current_path()
            assert path is not None
            res["lmdb"] = {"write_s": write_s, "write_cpu_s": write_cpu_s,
                           "file_bytes": path.stat().st_size}
            print(f"  lmdb written: {write_s:.1f} s, {path.stat().st_size:,} bytes", flush=True)
        tables_path = out / "memory.marshal"
        if "memory" in backends:
            start, cpu = time.perf_counter(), time.process_time()
            backend = MemoryBackend(builder, b"")
            write_s, write_cpu_s = time.perf_counter() - start, time.process_time() - cpu
            meta = builder.meta(0)
            with open(tables_path, "wb") as handle:
                marshal.dump((msgspec.msgpack.encode(meta), backend.tables), handle)
            res["memory"] = {"write_s": write_s, "write_cpu_s": write_cpu_s}
            print(f"  memory dicts built: {write_s:.1f} s", flush=True)
            del backend
        res["build"]["builder_peak_rss"] = memory()["VmHWM"]
        del builder
        gc.collect()

        rows: list[tuple[str, dict[str, int]]] = []
        if "lmdb" in backends:
            pretouch = not args.cold_lmdb
            serve = run_in_child(serve_lmdb, str(out / "lmdb"), str(queries_path), per_call,
                                 pretouch)
            res["lmdb"].update(rows=serve.pop("rows"), serve=serve)
            stages = [("lmdb: after reading every entry", serve["touched_all"]),
                      ("lmdb: after workload", serve["served"])]
            rows += [("lmdb: process before open (interpreter+queries)", serve["before"]),
                     ("lmdb: after open", serve["opened"]),
                     *(stages if pretouch else stages[::-1]),
                     ("lmdb: delta after workload", serve["delta_served"]),
                     ("lmdb: delta after reading every entry", serve["delta_touched_all"])]
            print(f"  lmdb served: RSS {_mb(serve['served']['VmRSS'])} MiB", flush=True)
            if args.workers > 1:
                shared = run_shared(args.workers, str(out / "lmdb"), str(queries_path))
                res["lmdb"]["shared"] = shared
                for index, item in enumerate(shared):
                    rows.append((f"lmdb: {args.workers} workers, worker {index} delta",
                                 item["delta"]))
        if "memory" in backends:
            serve = run_in_child(serve_memory_loaded, str(tables_path), str(queries_path),
                                 per_call)
            res["memory"].update(rows=serve.pop("rows"), serve=serve)
            rows += [("memory: process before load", serve["before"]),
                     ("memory: after workload (dicts loaded)", serve["served"]),
                     ("memory: delta (dicts loaded)", serve["delta_served"])]
            print(f"  memory served: RSS {_mb(serve['served']['VmRSS'])} MiB", flush=True)
            tables_path.unlink()
            if not args.no_memory_build_child:
                built = run_in_child(serve_memory_built, args.count)
                res["memory"]["built_in_child"] = built
                rows.append(("memory: delta (built in process, builder freed)",
                             built["delta"]))
        res["baseline"] = {}
        for kind in ("set", "dict"):
            base = run_in_child(baseline, kind, args.count, str(queries_path))
            res["baseline"][kind] = base
            rows.append((f"baseline {kind}: delta", base["delta"]))
            print(f"  baseline {kind}: {base['entries']:,} entries", flush=True)
        res["memory_rows"] = rows
        res["ratios"] = ratios(res)
        res["loadavg_end"] = os.getloadavg()
        print_report(res)
        print("\nJSON " + json.dumps(res, separators=(",", ":")))
    finally:
        if created and not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    return 0


def run_shared(workers: int, data_dir: str, queries_path: str) -> list[dict[str, Any]]:
    """``workers`` LMDB serving children at once, measured while all hold the mapping."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers)
    pipes = []
    procs = []
    for _ in range(workers):
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child_entry,
                           args=(sender, "serve_lmdb_shared", (data_dir, queries_path, barrier)))
        proc.start()
        sender.close()
        pipes.append(receiver)
        procs.append(proc)
    results = [pipe.recv() for pipe in pipes]
    for proc in procs:
        proc.join()
    for result in results:
        if "error" in result:
            raise RuntimeError(result["error"])
    return results


if __name__ == "__main__":
    sys.exit(main())
