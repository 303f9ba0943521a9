"""The outputs' disk spool, with a real `trapline collect` and a real TCP receiver that
is stopped and started on a fixed port.

A receiver that is down loses nothing: the batches go to the spool and are replayed
once it is back, each event once; a kill -9 with events in the spool loses none of
them (they are replayed after the restart, and a half-written segment never is);
SIGTERM does not wait out the retry pauses; a full spool drops and counts, and the
collector keeps running; bad spool keys are configuration errors.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from processes import Collect, free_port, send_tcp
from syslog_receivers import Receiver, wait_until

from trapline.collector.config import CollectorConfigError, validate


def _config(port: int, spool: Path, extra: str = "") -> str:
    return f"""
[collector]
stats_interval = 0.2
[[input]]
name = "in"
type = "tcp"
listen = "127.0.0.1:0"
format = "json"
[[output]]
name = "siem"
type = "tcp"
address = "127.0.0.1:{port}"
syslog_header = false
batch = 50
retries = 1
retry_interval = 0.2
spool = "{spool}"
{extra}"""


def _lines(start: int, count: int, pad: str = "") -> list[bytes]:
    return [json.dumps({"id": n, "pad": pad}).encode() + b"\n"
            for n in range(start, start + count)]


def _send(collect: Collect, start: int, count: int, pad: str = "") -> None:
    port = int(collect.addresses["in"].rsplit(":", 1)[1])
    for first in range(start, start + count, 100):
        send_tcp(port, _lines(first, min(100, start + count - first), pad))
        time.sleep(0.02)


def _on_disk(spool: Path) -> list[int]:
    """The ids in the output's spool segments (complete segments only)."""
    return [json.loads(line)["id"] for segment in sorted((spool / "siem").glob("*.jsonl"))
            for line in segment.read_text().splitlines()]


def _live(collect: Collect) -> dict[str, int]:
    """The last counters the collector logged (stats_interval)."""
    found = re.findall(r"INFO counters (\{.*\})", collect.log())
    return json.loads(found[-1]) if found else {}


def _ids(receiver: Receiver) -> Counter[Any]:
    return Counter(json.loads(message)["id"] for message in receiver.snapshot())


def test_a_receiver_that_is_down_loses_nothing(tmp_path: Path) -> None:
    """Up, down (events spooled, none dropped), up again: every event arrives once."""
    port, spool = free_port(), tmp_path / "spool"
    receiver = Receiver(port=port).start()
    collect = Collect(tmp_path, _config(port, spool)).start()
    try:
        _send(collect, 0, 200)
        receiver.wait_count(200, timeout=20)
        receiver.stop()
        _send(collect, 200, 1000)  # the receiver is down
        wait_until(lambda: _live(collect).get("output_siem_spooled") == 1000, 30,
                   "1000 events spooled")
        assert "output_siem_dropped" not in _live(collect)
        assert sorted(_on_disk(spool)) == list(range(200, 1200))
        assert collect.process is not None and collect.process.poll() is None
        receiver.start()
        _send(collect, 1200, 300)  # new events while the spool is replayed
        receiver.wait_count(1500, timeout=30)
        time.sleep(0.5)  # nothing comes twice
        ids = _ids(receiver)
    finally:
        counters = collect.stop()
        receiver.stop()
    assert ids == Counter(range(1500))
    # events that came before the output knew the receiver was back went to the spool too
    assert counters["output_siem_spooled"] == counters["output_siem_replayed"] >= 1000
    assert counters["output_siem_sent"] + counters["output_siem_replayed"] == 1500
    assert "output_siem_dropped" not in counters
    assert _on_disk(spool) == []  # every segment deleted once sent
    for directory in (spool, spool / "siem"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    log = collect.log()
    assert "output siem: down" in log and "output siem: up again" in log


def test_kill_9_with_events_in_the_spool_then_a_restart_replays_them(tmp_path: Path) -> None:
    port, spool = free_port(), tmp_path / "spool"
    config = _config(port, spool)
    collect = Collect(tmp_path, config).start()
    try:
        _send(collect, 0, 600)
        wait_until(lambda: len(_on_disk(spool)) == 600, 30, "600 events in the spool")
        segments = list((spool / "siem").glob("*.jsonl"))
        assert len(segments) >= 12  # a batch (at most 50 events) per segment
        assert all(stat.S_IMODE(s.stat().st_mode) == 0o600 for s in segments)
    finally:
        assert collect.process is not None
        collect.process.kill()  # kill -9: no draining
        collect.process.wait(10)
    # a segment a crash left half written: never replayed, removed at start
    half = spool / "siem" / ".00000000000000099999.jsonl.tmp"
    half.write_bytes(b'{"id": 99999}\n{"id": 999')
    ids, counters, again = _restart_and_receive(tmp_path, config, port, 600)
    assert ids == Counter(range(600))  # none lost, none twice, the half segment not sent
    assert counters["output_siem_replayed"] == 600
    assert not half.exists() and _on_disk(spool) == []
    assert "from an earlier run" in again.log()


def _restart_and_receive(tmp_path: Path, config: str, port: int, count: int
                         ) -> tuple[Counter[int], dict[str, int], Collect]:
    """Start the collector again with the receiver up; the ids it receives, the
    counters at stop, and the second collector (for its log)."""
    with Receiver(port=port) as receiver:
        again = Collect(tmp_path, config, name="collect2").start()
        try:
            receiver.wait_count(count, timeout=30)
            time.sleep(0.5)  # anything sent twice would arrive now
            ids = _ids(receiver)
        finally:
            counters = again.stop()
    return ids, counters, again


def test_sigterm_with_the_receiver_down_spools_without_waiting_out_the_retries(
        tmp_path: Path) -> None:
    """Default retries (5, from 1 s: about 31 s of pauses): SIGTERM still exits at once,
    the queued events in the spool; the next start sends them."""
    port, spool = free_port(), tmp_path / "spool"
    config = _config(port, spool).replace("retries = 1\nretry_interval = 0.2\n", "")
    collect = Collect(tmp_path, config).start()
    _send(collect, 0, 300)
    wait_until(lambda: "retrying in" in collect.log(), 20, "the first retry")
    started = time.monotonic()
    counters = collect.stop()
    took = time.monotonic() - started
    assert took < 10, f"stopping took {took:.1f} s"
    assert counters["output_siem_spooled"] == 300
    assert "output_siem_dropped" not in counters
    assert sorted(_on_disk(spool)) == list(range(300))
    ids, _, _ = _restart_and_receive(tmp_path, config, port, 300)
    assert ids == Counter(range(300))


def test_a_full_spool_drops_and_counts_and_the_collector_keeps_running(
        tmp_path: Path) -> None:
    port, spool = free_port(), tmp_path / "spool"
    collect = Collect(tmp_path, _config(port, spool, "spool_max_bytes = 4096\n")
                      .replace("batch = 50", "batch = 5")).start()
    receiver = Receiver(port=port)
    try:
        _send(collect, 0, 100, pad="x" * 200)  # about 230 bytes each: 3 batches fit
        wait_until(lambda: _live(collect).get("output_siem_spooled", 0)
                   + _live(collect).get("output_siem_spool_full", 0) == 100, 30,
                   "100 events spooled or dropped")
        live = _live(collect)
        assert live["output_siem_spool_full"] > 0
        assert live["output_siem_dropped"] == live["output_siem_spool_full"]
        assert sum(s.stat().st_size for s in (spool / "siem").glob("*.jsonl")) <= 4096
        assert collect.process is not None and collect.process.poll() is None
        assert "is full" in collect.log()
        spooled = sorted(_on_disk(spool))
        receiver.start()
        wait_until(lambda: receiver.count() >= len(spooled), 30, "the spool replayed")
        _send(collect, 100, 20)  # the output works again
        receiver.wait_count(len(spooled) + 20, timeout=30)
        time.sleep(0.3)
        ids = _ids(receiver)
    finally:
        counters = collect.stop()
        receiver.stop()
    assert ids == Counter(spooled + list(range(100, 120)))
    assert counters["output_siem_spooled"] == counters["output_siem_replayed"] == len(spooled)
    assert counters["output_siem_spooled"] + counters["output_siem_spool_full"] == 100


def test_one_spool_directory_one_collector(tmp_path: Path) -> None:
    port, spool = free_port(), tmp_path / "spool"
    first = Collect(tmp_path, _config(port, spool)).start()
    try:
        second = tmp_path / "second.toml"
        second.write_text(_config(port, spool), encoding="utf-8")
        result = subprocess.run([sys.executable, "-m", "trapline", "collect", "--config",
                                 str(second)], capture_output=True, text=True, timeout=60)
    finally:
        first.stop()
    assert result.returncode != 0
    assert "in use by another trapline collect" in result.stderr


OUTPUT = {"type": "tcp", "address": "127.0.0.1:514"}


@pytest.mark.parametrize(("keys", "message"), [
    ({"spool": 5}, "output[0].spool: must be a directory's path, got 5"),
    ({"spool": "FILE"}, "output[0].spool: 'FILE' exists and is not a directory"),
    ({"spool": "FILE/sub"}, "output[0].spool: 'FILE' is not a directory this user can write"),
    ({"spool": "DIR", "spool_max_bytes": 100},
     "output[0].spool_max_bytes: must be from 4096 to"),
    ({"spool": "DIR", "spool_max_bytes": "1G"},
     "output[0].spool_max_bytes: must be an integer, got '1G'"),
    ({"spool_max_bytes": 1 << 20}, "output[0].spool_max_bytes: only used with a spool"),
])
def test_bad_spool_keys_are_configuration_errors(tmp_path: Path, keys: dict[str, Any],
                                                 message: str) -> None:
    (tmp_path / "file").write_text("x")

    def placed(value: Any) -> Any:
        return value.replace("FILE", str(tmp_path / "file")).replace(
            "DIR", str(tmp_path / "spool")) if isinstance(value, str) else value

    config = {"input": [{"type": "tcp", "listen": "127.0.0.1:5514"}],
              "output": [dict(OUTPUT, **{key: placed(v) for key, v in keys.items()})]}
    message = placed(message)
    with pytest.raises(CollectorConfigError) as caught:
        validate(config, "c.toml")
    assert any(error.startswith(message) for error in caught.value.errors), \
        caught.value.errors


def test_outputs_sharing_a_spool_need_distinct_names(tmp_path: Path) -> None:
    spooled = dict(OUTPUT, name="siem", spool=str(tmp_path / "spool"))
    config = {"input": [{"type": "tcp", "listen": "127.0.0.1:5514"}],
              "output": [spooled, dict(spooled)]}
    with pytest.raises(CollectorConfigError, match=r"output\[1\].name: output\[0\] has the "
                       "same name and spool"):
        validate(config)
    config["output"][1]["name"] = "other"
    outputs = validate(config).outputs
    assert [o.spool_max_bytes for o in outputs] == [1 << 30, 1 << 30]
    assert validate({"input": config["input"], "output": [OUTPUT]}).outputs[0].spool == ""
