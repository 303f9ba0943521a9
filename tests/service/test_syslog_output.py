"""SyslogSink over real sockets: framing, retries, the spool across outages and kill -9."""

from __future__ import annotations

import asyncio
import calendar
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from syslog_receivers import Receiver, free_port, rsyslog_or_skip, wait_until

from trapline.alerts import Alert
from trapline.service.syslog_output import MAX_UDP, SyslogSink
from trapline.service.templates import Renderer, Templates

APR16 = calendar.timegm((2024, 4, 16, 9, 5, 41))
HEADERS = {
    "raw": r"",
    "rfc5424": r"<12>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ trapline \d+ (?P<id>\S+) - ",
    "rfc3164": r"<12>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ trapline\[\d+\]: ",
}
LINES = [
    "Category=KL_Malicious_URL|MatchedIndicator=evil.example|popularity=5",
    "a line with\na raw newline and \r a CR",
    "non-ASCII: Ünïcødé, and a lone surrogate \udcff",
]
EXPECTED = [
    LINES[0],
    "a line with\\na raw newline and \\r a CR",
    "non-ASCII: Ünïcødé, and a lone surrogate ?",
]


async def settle(sink: SyslogSink, condition: object, timeout: float = 60.0) -> None:
    """Let the sink's task run until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; counters {sink.counters()}")
        await asyncio.sleep(0.02)


def check_framed(received: list[str], framing: str) -> None:
    assert len(received) == len(EXPECTED), received
    for message, line in zip(received, EXPECTED, strict=True):
        assert re.fullmatch(HEADERS[framing] + re.escape(line), message), message


@pytest.mark.parametrize("framing", ["raw", "rfc5424", "rfc3164"])
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_delivery_with_each_framing(protocol: str, framing: str) -> None:
    with Receiver(protocol) as receiver:
        async def run() -> dict[str, int]:
            sink = SyslogSink("127.0.0.1", receiver.port, protocol=protocol, framing=framing)
            await sink.start()
            for line in LINES:
                sink.send(line)
            await settle(sink, lambda: sink.counters()["sent"] == len(LINES))
            await sink.stop(10)
            return sink.counters()

        counters = asyncio.run(run())
        check_framed(receiver.wait_count(len(LINES)), framing)
    assert counters["sent"] == 3 and counters["dropped"] == counters["errors"] == 0


def test_udp_datagrams_are_cut_to_the_largest_payload() -> None:
    with Receiver("udp") as receiver:
        async def run() -> dict[str, int]:
            sink = SyslogSink("127.0.0.1", receiver.port, protocol="udp")
            await sink.start()
            sink.send("é" * 40_000)  # 80,000 bytes
            await sink.stop(10)
            return sink.counters()

        counters = asyncio.run(run())
        (message,) = receiver.wait_count(1)
    assert counters["truncated"] == 1
    assert len(message.encode()) <= MAX_UDP and set(message) == {"é"}


def test_alerts_go_out_as_the_vendor_writes_them() -> None:
    renderer = Renderer(Templates(date_utc=True))
    with Receiver() as receiver:
        async def run() -> None:
            sink = SyslogSink("127.0.0.1", receiver.port, renderer=renderer, framing="rfc5424")
            await sink.start()
            sink.alert(Alert("KL_ALERT_UpdatedFeed",
                             {"feed": "Phishing_URL_Data_Feed.json", "records": "200473"},
                             time=APR16))
            sink.alert(Alert("KL_ALERT_FailedToUpdateFeed", {"feed": "F", "reason": "a\nb"},
                             time=APR16))
            await sink.stop(10)

        asyncio.run(run())
        updated, failed = receiver.wait_count(2)
    assert updated.startswith("<13>1 ")  # user.notice
    assert updated.endswith(" - Apr 16 09:05:41 alert=KL_ALERT_UpdatedFeed "
                            "feed=Phishing_URL_Data_Feed.json records=200473")
    assert failed.startswith("<12>1 ")  # user.warning
    assert failed.endswith(" - Apr 16 09:05:41 alert=KL_ALERT_FailedToUpdateFeed feed=F "
                           "reason=a\\nb")


def test_send_many_and_given_event_ids() -> None:
    with Receiver() as receiver:
        async def run() -> None:
            sink = SyslogSink("127.0.0.1", receiver.port, framing="rfc5424", queue_size=3)
            await sink.start()
            sink.send_many(["one", "two"], ["id 1", "id\t2"])
            sink.send_many(["three", "four"])  # one over the queue size: dropped
            assert sink.counters()["dropped"] == 1
            await sink.stop(10)

        asyncio.run(run())
        received = receiver.wait_count(3)
    assert [m.split(" ", 6)[5:] for m in received[:2]] == [["id_1", "- one"], ["id_2", "- two"]]
    assert re.fullmatch(HEADERS["rfc5424"] + "three", received[2])


def test_without_spool_lines_beyond_the_retries_are_dropped_and_counted() -> None:
    port = free_port()  # nothing listens yet

    async def run() -> tuple[dict[str, int], dict[str, int], Receiver]:
        sink = SyslogSink("127.0.0.1", port, retries=2, retry_interval=0.1)
        await sink.start()
        for i in range(10):
            sink.send(f"lost {i}")
        await settle(sink, lambda: sink.counters()["dropped"] == 10)
        down = sink.counters()
        receiver = Receiver(port=port).start()
        for i in range(5):
            sink.send(f"kept {i}")
        await settle(sink, lambda: sink.counters()["sent"] == 5)
        await sink.stop(10)
        return down, sink.counters(), receiver

    down, after, receiver = asyncio.run(run())
    try:
        assert receiver.wait_count(5) == [f"kept {i}" for i in range(5)]
    finally:
        receiver.stop()
    assert down["retried"] == 2 and down["sent"] == 0
    assert after["dropped"] == 10 and after["sent"] == 5


def test_stopping_does_not_wait_out_a_retry_pause(tmp_path: Path) -> None:
    """Receiver down, a 60 s retry pause under way: stop makes one last attempt and ends."""
    port = free_port()

    async def run() -> tuple[float, dict[str, int]]:
        sink = SyslogSink("127.0.0.1", port, retries=3, retry_interval=60,
                          spool_dir=tmp_path / "spool")
        await sink.start()
        sink.send("kept in the spool")
        await settle(sink, lambda: sink.counters()["retried"] == 1)
        started = time.monotonic()
        await sink.stop(30)
        return time.monotonic() - started, sink.counters()

    took, counters = asyncio.run(run())
    assert took < 15, f"stop waited {took:.1f} s: the retry pause was not cut short"
    assert counters["sent"] == 0

    async def later() -> dict[str, int]:  # the spooled line goes out once a receiver is up
        sink = SyslogSink("127.0.0.1", port, spool_dir=tmp_path / "spool")
        await sink.start()
        await settle(sink, lambda: sink.counters()["sent"] == 1)
        await sink.stop(10)
        return sink.counters()

    with Receiver(port=port) as receiver:
        asyncio.run(later())
        assert receiver.wait_count(1) == ["kept in the spool"]


def test_a_short_outage_is_bridged_by_the_retries() -> None:
    port = free_port()
    receiver = Receiver(port=port)

    async def run() -> dict[str, int]:
        sink = SyslogSink("127.0.0.1", port, retries=10, retry_interval=0.2)
        await sink.start()
        for i in range(100):
            sink.send(f"line {i}")
        await asyncio.sleep(0.5)
        receiver.start()
        await settle(sink, lambda: sink.counters()["sent"] == 100)
        await sink.stop(10)
        return sink.counters()

    try:
        counters = asyncio.run(run())
        assert receiver.wait_count(100) == [f"line {i}" for i in range(100)]
    finally:
        receiver.stop()
    assert counters["retried"] >= 1 and counters["dropped"] == 0


def numbered(received: list[str], framing: str = "rfc5424") -> Counter[tuple[str, int]]:
    """(event id, sequence number) of every message; the id must name its number."""
    seen: Counter[tuple[str, int]] = Counter()
    for message in received:
        found = re.fullmatch(HEADERS[framing] + r"seq=(?P<n>\d+)", message)
        assert found, message
        eid, n = found.group("id"), int(found.group("n"))
        assert eid == f"e{n}", message  # a duplicate carries the same id
        seen[eid, n] += 1
    return seen


def test_with_spool_nothing_is_lost_while_the_receiver_is_down(tmp_path: Path) -> None:
    receiver = Receiver().start()
    port = receiver.port
    total = 10_100

    async def run() -> dict[str, int]:
        sink = SyslogSink("127.0.0.1", port, framing="rfc5424", retries=1,
                          retry_interval=0.2, spool_dir=tmp_path / "spool",
                          spool_segment_bytes=64 << 10, batch_lines=500)
        await sink.start()
        for i in range(100):
            sink.send(f"seq={i}", f"e{i}")
        await settle(sink, lambda: sink.counters()["sent"] == 100)
        receiver.stop()  # down: the port closed and the connection with it
        for i in range(100, total):
            sink.send(f"seq={i}", f"e{i}")
        await asyncio.sleep(2.0)  # several retry rounds, well past the retry count
        assert sink.counters()["retried"] >= 2
        receiver.start()
        await settle(sink, lambda: sink.counters()["spool_bytes"] == 0
                     and sink.counters()["sent"] >= total)
        await sink.stop(10)
        return sink.counters()

    try:
        counters = asyncio.run(run())
        seen = numbered(receiver.wait_count(total))
    finally:
        receiver.stop()
    assert {n for _, n in seen} == set(range(total))
    assert counters["dropped"] == 0 and counters["spooled"] == total
    assert len(list((tmp_path / "spool").glob("*.seg"))) <= 1  # delivered segments deleted


CHILD = """
import asyncio, sys
from pathlib import Path
from trapline.service.syslog_output import SyslogSink

async def main():
    port, spool, count = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    sink = SyslogSink("127.0.0.1", port, framing="rfc5424", spool_dir=spool,
                      retry_interval=0.2, batch_lines=200, spool_segment_bytes=256 << 10)
    await sink.start()
    for i in range(count):
        sink.send(f"seq={i}", f"e{i}")
    print("spooled", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_a_killed_process_resumes_from_its_spool(tmp_path: Path) -> None:
    total = 20_000
    spool = tmp_path / "spool"
    receiver = Receiver(read_delay=0.01).start()  # slow: lines stay pending
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(receiver.port), str(spool),
                              str(total)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "spooled"
        wait_until(lambda: receiver.count() >= 1000, 60, "the child to send")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
        before = receiver.count()
        assert before < total, "nothing was pending at the kill"
        time.sleep(0.5)  # the receiver reads what the dead child's socket still held
        receiver.read_delay = 0.0

        async def resume() -> dict[str, int]:
            sink = SyslogSink("127.0.0.1", receiver.port, framing="rfc5424", spool_dir=spool,
                              retry_interval=0.2)
            await sink.start()
            await settle(sink, lambda: sink.counters()["spool_bytes"] == 0)
            await sink.stop(10)
            return sink.counters()

        counters = asyncio.run(resume())
        wait_until(lambda: len({m for m in receiver.snapshot()}) >= total, 60, "every line")
        seen = numbered(receiver.snapshot())
    finally:
        if child.poll() is None:
            child.kill()
        receiver.stop()
    assert {n for _, n in seen} == set(range(total))
    duplicates = sum(c - 1 for c in seen.values())
    assert duplicates <= 200, f"{duplicates} duplicates"  # the batch in flight, no more
    assert counters["errors"] == 0


def test_a_full_queue_never_blocks_the_caller() -> None:
    port = free_port()  # nothing listens: the sink is in its retry pause

    async def run() -> tuple[float, float, dict[str, int]]:
        sink = SyslogSink("127.0.0.1", port, queue_size=100, retries=10, retry_interval=5)
        await sink.start()
        sink.send("first")
        await asyncio.sleep(0.3)
        start = time.perf_counter()
        for i in range(100_000):
            sink.send(f"line {i}")
        in_loop = time.perf_counter() - start
        elapsed: list[float] = []

        def from_a_thread() -> None:
            begin = time.perf_counter()
            for i in range(10_000):
                sink.send(f"thread {i}")
            elapsed.append(time.perf_counter() - begin)

        thread = threading.Thread(target=from_a_thread)
        thread.start()
        thread.join(30)
        counters = sink.counters()
        await sink.stop(0.5)
        return in_loop, elapsed[0], counters

    in_loop, in_thread, counters = asyncio.run(run())
    assert in_loop < 5 and in_thread < 5
    assert counters["queued"] == 100
    assert counters["dropped"] == 110_001 - 100  # "first" waits in the queue too


def test_a_full_spool_refuses_and_counts(tmp_path: Path) -> None:
    async def run() -> dict[str, int]:
        sink = SyslogSink("127.0.0.1", free_port(), spool_dir=tmp_path / "s", spool_max_mb=1,
                          retry_interval=5)
        await sink.start()
        for i in range(20_000):
            sink.send(f"line {i:05d} " + "x" * 80)
        counters = sink.counters()
        await sink.stop(0.5)
        return counters

    counters = asyncio.run(run())
    assert 0 < counters["dropped"] < 20_000
    assert counters["spooled"] + counters["dropped"] == 20_000
    assert counters["errors"] == counters["dropped"]


@pytest.mark.parametrize("framing", ["raw", "rfc5424", "rfc3164"])
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_rsyslog_receives_every_framing(tmp_path: Path, protocol: str, framing: str) -> None:
    rsyslog = rsyslog_or_skip(tmp_path).start()
    port = rsyslog.tcp_port if protocol == "tcp" else rsyslog.udp_port
    try:
        async def run() -> None:
            sink = SyslogSink("127.0.0.1", port, protocol=protocol, framing=framing)
            await sink.start()
            for line in LINES:
                sink.send(line)
            await sink.stop(10)

        asyncio.run(run())
        received = rsyslog.wait_count(len(LINES))
    finally:
        rsyslog.stop()
    check_framed(received, framing)


def test_rsyslog_restarted_while_lines_wait_in_the_spool(tmp_path: Path) -> None:
    rsyslog = rsyslog_or_skip(tmp_path).start()
    total = 2000
    try:
        async def run() -> dict[str, int]:
            sink = SyslogSink("127.0.0.1", rsyslog.tcp_port, framing="rfc5424",
                              spool_dir=tmp_path / "spool", retries=1, retry_interval=0.2)
            await sink.start()
            for i in range(10):
                sink.send(f"seq={i}", f"e{i}")
            await settle(sink, lambda: sink.counters()["sent"] == 10)
            await asyncio.to_thread(rsyslog.wait_count, 10)
            await asyncio.to_thread(rsyslog.stop)
            for i in range(10, total):
                sink.send(f"seq={i}", f"e{i}")
            await asyncio.sleep(1.0)
            await asyncio.to_thread(rsyslog.start)
            await settle(sink, lambda: sink.counters()["spool_bytes"] == 0)
            await sink.stop(10)
            return sink.counters()

        counters = asyncio.run(run())
        received = rsyslog.wait_count(total)
    finally:
        rsyslog.stop()
    seen = numbered(received)
    assert {n for _, n in seen} == set(range(total))
    assert counters["dropped"] == 0
