"""Extraction benchmark: events/s and observables/s of every preset on real events.

    python bench/extract_bench.py [--data ../shared/data] [--repeat 5]

Inputs (../shared/data/events): ``eve`` reads the two large Suricata EVE files,
``sysmon`` the three OTRF Sysmon/Security files, ``generic`` the 10,000 Apache log
lines. No real KUMA, Splunk or CEF lines exist in the data, so ``kuma``, ``keyvalue``
and ``cef`` read lines built from the real EVE events' values (addresses, URLs,
names, file hashes), one per EVE event that has any. ``choose`` is the cost of
``choose_rule_set`` against the ``kuma`` preset's match alone (what the service runs
before every event), on the EVE lines. Rates are per CPU second of this process,
the median of ``--repeat`` passes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from trapline.extract import choose_rule_set, presets

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _synthetic(eve_lines: list[str]) -> dict[str, list[str]]:
    kuma, keyvalue, cef = [], [], []
    for line in eve_lines:
        event = json.loads(line)
        http, fileinfo = event.get("http") or {}, event.get("fileinfo") or {}
        dns, tls = event.get("dns") or {}, event.get("tls") or {}
        url = f"http://{http['hostname']}{http.get('url', '/')}" if "hostname" in http else ""
        host = dns.get("rrname") or tls.get("sni") or http.get("hostname") or ""
        md5, sha1, sha256 = (fileinfo.get(k, "") for k in ("md5", "sha1", "sha256"))
        pairs = [("ip", event.get("dest_ip", "")), ("url", url), ("hash", sha256 or md5)]
        kuma.append("LookupRequest " + "|".join(f"{k}={v}" for k, v in pairs if v))
        keyvalue.append(f"ip={event.get('dest_ip', '')} md5={md5} sha1={sha1} "
                        f"sha256={sha256} url={url}")
        ext = [("src", event.get("src_ip")), ("spt", event.get("src_port")),
               ("dst", event.get("dest_ip")), ("dpt", event.get("dest_port")),
               ("proto", event.get("proto")), ("dhost", host),
               ("request", url.replace("=", "\\=")), ("fileHash", sha256 or md5)]
        cef.append(f"CEF:0|OISF|Suricata|7.0.10|{event['event_type']}|{event['event_type']}|3|"
                   + " ".join(f"{k}={v}" for k, v in ext if v))
    return {"kuma": kuma, "keyvalue": keyvalue, "cef": cef}


def _rate(extract, lines: list[str], repeat: int) -> tuple[float, float, int]:
    rates, observables = [], 0
    for _ in range(repeat):
        observables = 0
        start = time.process_time()
        for line in lines:
            extraction = extract(line)
            if extraction is not None:
                observables += len(extraction.observables)
        seconds = time.process_time() - start
        rates.append(len(lines) / seconds)
    events_per_s = statistics.median(rates)
    return events_per_s, events_per_s * observables / len(lines), observables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    events = args.data / "events"
    eve = [line for name in ("suricata-verify_all-pcaps.dns-http-tls-fileinfo.eve.json",
                             "zeek-traces_all-pcaps.dns-http-tls-fileinfo.eve.json")
           for line in _lines(events / "suricata-eve-generated" / name)]
    sysmon = [line for path in sorted((events / "sysmon-otrf").glob("*.json"))
              for line in _lines(path)]
    inputs = {"eve": eve, "sysmon": sysmon,
              "generic": _lines(events / "apache-access-elastic" / "apache_logs"),
              **_synthetic(eve)}
    shipped = presets()
    print(f"{'preset':10s} {'events':>7s} {'observables':>11s} {'events/s':>10s} "
          f"{'observables/s':>13s} {'us/event':>9s}")
    results = {}
    for name in ("kuma", "keyvalue", "cef", "eve", "sysmon", "generic"):
        lines = inputs[name]
        per_s, obs_per_s, count = _rate(shipped[name].extract, lines, args.repeat)
        results[name] = {"events": len(lines), "observables": count,
                         "events_per_s": round(per_s), "observables_per_s": round(obs_per_s)}
        print(f"{name:10s} {len(lines):7d} {count:11d} {per_s:10,.0f} {obs_per_s:13,.0f} "
              f"{1e6 / per_s:9.1f}")
    kuma, generic = [shipped["kuma"]], shipped["generic"]
    rates = []
    for _ in range(args.repeat):
        start = time.process_time()
        for line in eve:
            choose_rule_set(line, kuma, generic)
        rates.append(len(eve) / (time.process_time() - start))
    print(f"choose_rule_set([kuma]) on EVE lines: {statistics.median(rates):,.0f} events/s")
    results["choose_kuma"] = round(statistics.median(rates))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
