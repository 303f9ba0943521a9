"""Feed import benchmark: records/s and peak memory per feed format.

    python bench/feed_import.py                      # ipsum, 1M vendor JSON, 100k STIX
    python bench/feed_import.py --json-count 200000 --stix-count 20000   # quicker

Each case runs in a fresh ``spawn`` child, so its peak RSS (``ru_maxrss``) is its
own: parse the file with its format module and add every record to a
``SnapshotBuilder`` (what an update does before it writes the shard). The files
are generated first (outside the clock) into ``--out``.

Baselines, in the same run and on the same files, for ratios:
- ``json.load`` of the whole vendor JSON file (the non-streaming way), parse only;
- parse only (records counted, no builder), to split parsing from indexing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "feeds"


def make_vendor_json(path: Path, count: int) -> None:
    """A CyberTrace-style feed: URLs and masks with context, some with file hashes."""
    rng = random.Random(1)
    with open(path, "w") as handle:
        handle.write("[")
        for i in range(count):
            record: dict[str, Any] = {
                "id": 100_000_000 + i, "type": 20, "popularity": rng.randint(1, 5),
                "first_seen": "19.05.2024 08:32", "last_seen": "29.11.2026 10:00",
                "industry": rng.choice(["E-shop", "Bank", "Social", "Mail"]),
                "whois": {"country": rng.choice(["US", "DE", "RU", "CN"]),
                          "created": "2024-05-01"},
            }
            kind = i % 4
            if kind == 0:
                record["mask"] = f"host{i}.evil{i % 997}.example/path/{i}/*"
            elif kind == 1:
                record["mask"] = f"*.c{i}.bad{i % 991}.example"
            elif kind == 2:
                record["url"] = f"http://site{i}.example/login.php?id={i}"
            else:
                record["ip"] = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
                record["files"] = [{"MD5": f"{i:032x}", "SHA256": f"{i:064x}"}]
            handle.write(("," if i else "") + json.dumps(record))
        handle.write("]")


def make_stix(path: Path, count: int) -> None:
    """A STIX 2.1 bundle: indicators (IPs, domains, URLs, hashes, some ORs) and malware."""
    with open(path, "w") as handle:
        handle.write('{"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000",'
                     ' "objects": [')
        malware = {"type": "malware", "spec_version": "2.1", "is_family": True,
                   "id": "malware--00000000-0000-4000-8000-000000000001", "name": "Demo RAT",
                   "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z"}
        handle.write(json.dumps(malware))
        for i in range(count):
            kind = i % 5
            if kind == 0:
                pattern = f"[ipv4-addr:value = '10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}']"
            elif kind == 1:
                pattern = f"[domain-name:value = 'd{i}.evil.example']"
            elif kind == 2:
                pattern = f"[url:value = 'http://u{i}.example/x.php']"
            elif kind == 3:
                pattern = f"[file:hashes.'SHA-256' = '{i:064x}']"
            else:
                pattern = (f"[domain-name:value = 'o{i}.example' OR "
                           f"ipv4-addr:value = '172.16.{i >> 8 & 255}.{i & 255}']")
            uid = f"{i:012x}"
            indicator = {
                "type": "indicator", "spec_version": "2.1",
                "id": f"indicator--00000000-0000-4000-8000-{uid}",
                "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
                "name": f"indicator {i}", "pattern": pattern, "pattern_type": "stix",
                "valid_from": "2026-01-01T00:00:00Z", "indicator_types": ["malicious-activity"],
                "confidence": 80}
            relationship = {
                "type": "relationship", "spec_version": "2.1",
                "id": f"relationship--00000000-0000-4000-8000-{uid}",
                "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
                "relationship_type": "indicates", "source_ref": indicator["id"],
                "target_ref": malware["id"]}
            handle.write("," + json.dumps(indicator) + "," + json.dumps(relationship))
        handle.write("]}")


def run_case(format: str, path: str, mode: str, queue: Any) -> None:
    """In a fresh child: parse (and index) one file; report rate and peak RSS."""
    from trapline.feeds.config import feed_for_path
    from trapline.feeds.formats import read_feed
    from trapline.feeds.report import FeedReport
    from trapline.index import SnapshotBuilder

    started = time.perf_counter()
    cpu = time.process_time()
    if mode == "json.load":
        with open(path, "rb") as handle:
            count = len(json.load(handle))
    else:
        records = read_feed(Path(path), feed_for_path(path, format=format), FeedReport())
        if mode == "parse":
            count = sum(1 for _ in records)
        else:
            builder = SnapshotBuilder()
            builder.add_all(records)
            count = len(builder)
    wall = time.perf_counter() - started
    queue.put({"records": count, "seconds": wall, "cpu_seconds": time.process_time() - cpu,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def measure(format: str, path: Path, mode: str) -> dict[str, Any]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=run_case, args=(format, str(path), mode, queue))
    child.start()
    result = queue.get()
    child.join()
    result.update(format=format, file=path.name, mode=mode,
                  mb=round(path.stat().st_size / 2**20, 1),
                  per_s=round(result["records"] / result["seconds"]),
                  per_cpu_s=round(result["records"] / max(result["cpu_seconds"], 1e-9)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json-count", type=int, default=1_000_000)
    parser.add_argument("--stix-count", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "feeds")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    vendor = args.out / f"vendor-{args.json_count}.json"
    stix = args.out / f"stix-{args.stix_count}.json"
    if not vendor.exists():
        make_vendor_json(vendor, args.json_count)
    if not stix.exists():
        make_stix(stix, args.stix_count)
    cases = [("plain", SHARED / "ipsum" / "ipsum.txt", "parse"),
             ("plain", SHARED / "ipsum" / "ipsum.txt", "build"),
             ("vendor-json", vendor, "json.load"),
             ("vendor-json", vendor, "parse"),
             ("vendor-json", vendor, "build"),
             ("stix", stix, "parse"),
             ("stix", stix, "build")]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"{'format':12} {'file':24} {'MB':>7} {'mode':10} {'records':>10} {'s':>7} "
          f"{'rec/s':>9} {'rec/cpu-s':>9} {'peak RSS MB':>11}")
    results = []
    for format, path, mode in cases:
        r = measure(format, path, mode)
        results.append(r)
        print(f"{format:12} {path.name[:24]:24} {r['mb']:7.1f} {mode:10} {r['records']:10,} "
              f"{r['seconds']:7.2f} {r['per_s']:9,} {r['per_cpu_s']:9,} "
              f"{r['peak_rss_mb']:11.0f}")
    by = {(r["format"], r["mode"]): r for r in results}
    load, stream = by[("vendor-json", "json.load")], by[("vendor-json", "parse")]
    print(f"vendor JSON peak RSS, streaming parse vs json.load of the whole file: "
          f"{stream['peak_rss_mb']:.0f} MB vs {load['peak_rss_mb']:.0f} MB "
          f"({load['peak_rss_mb'] / stream['peak_rss_mb']:.1f}x less)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
