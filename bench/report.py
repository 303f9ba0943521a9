"""Markdown tables from the JSON lines of ``index_bench.py`` runs (for RESULTS.md).

    python bench/report.py bench/out/run-1m.txt bench/out/run-10m.txt > tables.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from index_bench import others_summary


def load(path: Path) -> dict[str, Any]:
    """The result dict from the ``JSON `` line of a run's output."""
    for line in path.read_text().splitlines():
        if line.startswith("JSON "):
            return json.loads(line[5:])
    raise SystemExit(f"{path}: no JSON line")


def _mib(value: float) -> str:
    return f"{value / 2**20:,.1f}"


def build_table(runs: list[dict[str, Any]]) -> str:
    """Build time, throughput, sizes."""
    out = ["| N | backend | generate s (untimed) | add (normalize+group) s | add CPU s "
           "| write s | write CPU s | add+write s | indicators/s | builder peak RSS MiB "
           "| LMDB file MiB | LMDB B/indicator |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for res in runs:
        n, b = res["count"], res["build"]
        for key in ("lmdb", "memory"):
            if key not in res:
                continue
            w = res[key]
            total = b["add_s"] + w["write_s"]
            size = (_mib(w["file_bytes"]), f"{w['file_bytes'] / n:.1f}") if key == "lmdb" \
                else ("-", "-")
            out.append(f"| {n:,} | {key} | {b['generate_s']:.1f} | {b['add_s']:.1f} "
                       f"| {b['add_cpu_s']:.1f} | {w['write_s']:.1f} | {w['write_cpu_s']:.1f} "
                       f"| {total:.1f} | {n / total:,.0f} | {_mib(b['builder_peak_rss'])} "
                       f"| {size[0]} | {size[1]} |")
    return "\n".join(out)


def memory_table(res: dict[str, Any]) -> str:
    """Serving-process memory rows of one run."""
    n = res["count"]
    out = [f"N = {n:,} ({res['keys']:,} distinct keys)\n",
           "| measurement | VmRSS MiB | Rss | Pss | Private | Private_Dirty | Anonymous "
           "| RSS B/ind | Pss B/ind | Private B/ind | Anon B/ind |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, mem in res["memory_rows"]:
        out.append(f"| {label} | {_mib(mem['VmRSS'])} | {_mib(mem['Rss'])} | {_mib(mem['Pss'])} "
                   f"| {_mib(mem['Private'])} | {_mib(mem['Private_Dirty'])} "
                   f"| {_mib(mem['Anonymous'])} | {mem['VmRSS'] / n:.1f} | {mem['Pss'] / n:.1f} "
                   f"| {mem['Private'] / n:.1f} | {mem['Anonymous'] / n:.1f} |")
    return "\n".join(out)


def lookup_table(res: dict[str, Any]) -> str:
    """Lookups per CPU second per query set, trapline and baseline, with ratios."""
    cols: list[tuple[str, str, str]] = []
    for key, short in (("lmdb", "lmdb"), ("memory", "mem")):
        if key in res:
            cols += [(f"{short} many", key, "many_per_cpu_s"),
                     (f"{short} call", key, "call_per_cpu_s")]
    cols += [("set", "set", "per_cpu_s"), ("dict", "dict", "per_cpu_s")]
    first = "lmdb" if "lmdb" in res else "memory"
    rows = {key: {r["set"]: r for r in res[key]["rows"]} for key in ("lmdb", "memory")
            if key in res}
    rows.update({key: {r["set"]: r for r in res["baseline"][key]["rows"]}
                 for key in ("set", "dict")})
    out = [f"N = {res['count']:,}; {res['queries_per_set']:,} lookups per set and mode\n",
           "| query set | " + " | ".join(c[0] for c in cols)
           + f" | set ÷ {first} many | {first} detected | set detected |",
           "|---|" + "---:|" * (len(cols) + 3)]
    for label in [r["set"] for r in res["baseline"]["set"]["rows"]]:
        cells = []
        for _, src, field in cols:
            value = rows[src][label].get(field)
            cells.append("-" if value is None else f"{value:,.0f}")
        ratio = rows["set"][label]["per_cpu_s"] / rows[first][label]["many_per_cpu_s"]
        out.append(f"| {label} | " + " | ".join(cells)
                   + f" | {ratio:,.0f}× | {rows[first][label]['detected']:.1%} "
                   f"| {rows['set'][label]['detected']:.1%} |")
    return "\n".join(out)


def ratio_table(res: dict[str, Any]) -> str:
    """Baseline sizes and the trapline/baseline ratios."""
    n = res["count"]
    out = ["| baseline | entries | RSS delta MiB | B/indicator | build s |",
           "|---|---:|---:|---:|---:|"]
    for key in ("set", "dict"):
        base = res["baseline"][key]
        out.append(f"| {key} | {base['entries']:,} | {_mib(base['delta']['VmRSS'])} "
                   f"| {base['delta']['VmRSS'] / n:.1f} | {base['build_s']:.1f} |")
    out += ["", "| ratio | value |", "|---|---:|"]
    out += [f"| {label} | {value:.2f} |" for label, value in res["ratios"].items()]
    return "\n".join(out)


def main() -> int:
    """Print every table for every run given."""
    runs = [load(Path(arg)) for arg in sys.argv[1:]]
    print("### Build\n\n" + build_table(runs) + "\n")
    for res in runs:
        print(f"### N = {res['count']:,}: serving memory\n\n{memory_table(res)}\n")
        print(f"### N = {res['count']:,}: lookups per CPU second\n\n{lookup_table(res)}\n")
        print(f"### N = {res['count']:,}: baseline\n\n{ratio_table(res)}\n")
        others = ", ".join(f"{k} {v:.2f}" for k, v in others_summary(res).items())
        loadavg = ", ".join(f"{x:.2f}" for x in res["loadavg_start"])
        print(f"Other processes' CPU use during each phase (mean cores): {others}. "
              f"Load average at start {loadavg}; trapline sources {res['trapline']['sha256']}.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
