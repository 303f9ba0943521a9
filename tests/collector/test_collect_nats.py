"""The NATS JetStream input and output of a real `trapline collect`, on a real broker.

Every test uses its own streams and subjects (a random suffix) and deletes them. The
broker is ``$TRAPLINE_TEST_NATS`` (default nats://127.0.0.1:4222, JetStream enabled);
where it cannot be reached the tests skip, but fail when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
import pytest
from databases import in_ci
from nats.js import api
from processes import Collect, read_events, wait_for_events
from subprocesses import terminate
from syslog_receivers import wait_until

from trapline.collector.config import CollectorConfigError, validate

NATS_ENV = "TRAPLINE_TEST_NATS"
NATS_URL = os.environ.get(NATS_ENV) or "nats://127.0.0.1:4222"


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _probe() -> str | None:
    async def quiet(exc: Exception) -> None:
        return None

    try:
        async with asyncio.timeout(5):  # nats-py may keep trying a refused first connect
            nc = await nats.connect(NATS_URL, connect_timeout=3, allow_reconnect=False,
                                    max_reconnect_attempts=1, error_cb=quiet)
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        return f"NATS at {NATS_URL} is unreachable ({type(exc).__name__}: {exc}); set {NATS_ENV}"
    try:
        await nc.jetstream().account_info()
    except nats.errors.Error as exc:
        return f"NATS at {NATS_URL} has no JetStream ({type(exc).__name__}: {exc})"
    finally:
        await nc.close()
    return None


@pytest.fixture(scope="module")
def broker() -> str:
    reason = _run(_probe())
    if reason is not None:
        if in_ci():
            pytest.fail(f"{reason} (CI=true: NATS JetStream must be available)")
        pytest.skip(reason)
    return NATS_URL


class Names:
    """Unique stream and subject names for one test; the streams are deleted after."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:12]
        self.tag = tag
        self.in_stream, self.in_subject = f"tl_in_{tag}", f"tl.test.{tag}.in"
        self.out_stream, self.out_subject = f"tl_out_{tag}", f"tl.test.{tag}.out"

    async def _delete(self) -> None:
        nc = await nats.connect(NATS_URL, connect_timeout=3)
        js = nc.jetstream()
        for stream in (self.in_stream, self.out_stream):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(stream)
        await nc.close()


@pytest.fixture
def names(broker: str) -> Iterator[Names]:
    made = Names()
    yield made
    _run(made._delete())


async def _publish(subject: str, stream: str, bodies: list[bytes]) -> None:
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    with contextlib.suppress(nats.js.errors.BadRequestError):
        await js.add_stream(name=stream, subjects=[subject])
    for start in range(0, len(bodies), 200):
        await asyncio.gather(*(js.publish(subject, body, stream=stream)
                               for body in bodies[start:start + 200]))
    await nc.close()


def publish(names: Names, bodies: list[bytes]) -> None:
    _run(_publish(names.in_subject, names.in_stream, bodies))


async def _read_all(subject: str, stream: str, expect: int, timeout: float) -> list[bytes]:
    """Every message on ``subject`` (an ephemeral consumer from the start of the stream),
    waiting up to ``timeout`` for ``expect`` of them, then a little more for extras."""
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    deadline = time.monotonic() + timeout
    while True:  # the collector's output creates the stream on its first send
        try:
            sub = await js.pull_subscribe(subject, stream=stream, config=api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.ALL, ack_policy=api.AckPolicy.EXPLICIT))
            break
        except nats.js.errors.NotFoundError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    got: list[bytes] = []
    settle: float | None = None
    while True:
        now = time.monotonic()
        if len(got) >= expect and settle is None:
            settle = now + 1.0  # a duplicate would come now
        if (settle is not None and now >= settle) or now >= deadline:
            break
        try:
            messages = await sub.fetch(500, timeout=0.5)
        except TimeoutError:  # nats-py raises plain asyncio.TimeoutError too
            continue
        for message in messages:
            got.append(message.data)
            await message.ack()
    await nc.close()
    return got


def read_subject(subject: str, stream: str, expect: int, timeout: float = 60) -> list[bytes]:
    return _run(_read_all(subject, stream, expect, timeout))


def _bodies(count: int, start: int = 0) -> list[bytes]:
    return [json.dumps({"id": n, "ip": f"198.51.100.{n % 250}"}).encode()
            for n in range(start, start + count)]


def _input(names: Names, durable: str = "collectors", **extra: Any) -> str:
    keys = "".join(f"{key} = {json.dumps(value)}\n" for key, value in extra.items())
    return f"""
[[input]]
name = "nats"
type = "nats"
url = "{NATS_URL}"
stream = "{names.in_stream}"
subject = "{names.in_subject}"
durable = "{durable}"
{keys}"""


def _nats_output(names: Names) -> str:
    return f"""
[[output]]
name = "out"
type = "nats"
url = "{NATS_URL}"
subject = "{names.out_subject}"
stream = "{names.out_stream}"
retry_interval = 0.2
"""


HEAD = "[collector]\nstats_interval = 0\n"


def test_every_event_goes_from_an_input_subject_to_an_output_subject_once(
        tmp_path: Path, names: Names) -> None:
    total = 500
    publish(names, [*_bodies(total - 1), b"not json {"])  # one malformed message
    collect = Collect(tmp_path, HEAD + _input(names) + _nats_output(names)).start()
    try:
        got = read_subject(names.out_subject, names.out_stream, total)
    finally:
        counters = collect.stop()
    events = [json.loads(body) for body in got]
    ids = Counter(event["id"] for event in events if "id" in event)
    assert ids == Counter(range(total - 1))  # every event, once
    kept = [event for event in events if "id" not in event]
    assert len(kept) == 1 and kept[0]["message"] == "not json {"  # kept, like other inputs
    assert counters["input_nats_received"] == total
    assert counters["input_nats_parse_errors"] == 1
    assert counters["input_nats_acked"] == total  # the malformed one was processed: acked
    assert counters["output_out_sent"] == total
    assert "output_out_dropped" not in counters and "input_nats_errors" not in counters
    assert not any(body.endswith(b"\n") for body in got)  # one event line per message


def test_two_collectors_with_one_durable_share_the_messages(
        tmp_path: Path, names: Names) -> None:
    total = 2000
    publish(names, _bodies(1))  # the stream exists before the collectors start
    config = HEAD + _input(names, durable="shared", batch=10) + _nats_output(names)
    first = Collect(tmp_path, config, name="first").start()
    second = Collect(tmp_path, config, name="second").start()
    try:
        publish(names, _bodies(total - 1, start=1))
        got = read_subject(names.out_subject, names.out_stream, total)
    finally:
        one, two = first.stop(), second.stop()
    ids = Counter(json.loads(body)["id"] for body in got)
    assert ids == Counter(range(total))  # all of them, once in total
    shares = one.get("input_nats_received", 0), two.get("input_nats_received", 0)
    assert sum(shares) == total
    assert min(shares) > 0, shares  # each collector did some of the work


def test_events_fetched_but_not_emitted_are_redelivered_after_a_kill(
        tmp_path: Path, names: Names) -> None:
    """A rule whose service never answers holds the fetched events (neither emitted nor
    acked); kill -9; a new collector gets them again once ack_wait has passed."""
    total = 300
    out = tmp_path / "out.jsonl"
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(64)
        stuck = Collect(tmp_path, "[collector]\nstats_interval = 0.2\n"
                        + _input(names, ack_wait=2) + f"""
[[rule]]
name = "stuck"
kind = "cybertrace"
url = "127.0.0.1:{black_hole.getsockname()[1]}"
timeout = 600
cache_ttl = 0
mapping = [{{ field = "ip", type = "ip" }}]
[[output]]
type = "file"
path = "{out}"
""", name="stuck").start()
        publish(names, _bodies(total))
        wait_until(lambda: f'"input_nats_received":{total}' in stuck.log(), 30,
                   "every message fetched")
        assert stuck.process is not None
        stuck.process.send_signal(signal.SIGKILL)
        stuck.process.wait(10)
    assert read_events(out) == []  # nothing went out: nothing was acked
    again = Collect(tmp_path, HEAD + _input(names, ack_wait=2) + f"""
[[output]]
type = "file"
path = "{out}"
""", name="again").start()
    try:
        events = wait_for_events(out, total, timeout=60)
        time.sleep(0.5)
    finally:
        counters = again.stop()
    ids = Counter(event["id"] for event in read_events(out))
    assert set(ids) == set(range(total))  # none lost (a duplicate would be allowed)
    assert len(events) >= total
    assert counters["input_nats_acked"] == counters["input_nats_received"]


def test_a_stopped_collector_acks_what_went_out_and_nothing_else(
        tmp_path: Path, names: Names) -> None:
    """SIGTERM drains: everything fetched goes out and is acked; a second run sees no
    message again."""
    total = 200
    out = tmp_path / "out.jsonl"
    config = HEAD + _input(names) + f'\n[[output]]\ntype = "file"\npath = "{out}"\n'
    publish(names, _bodies(total))
    first = Collect(tmp_path, config, name="first").start()
    try:
        wait_for_events(out, total, timeout=30)
    finally:
        counters = first.stop()
    assert counters["input_nats_acked"] == total
    second = Collect(tmp_path, config, name="second").start()
    time.sleep(3)
    counters = second.stop()
    assert "input_nats_received" not in counters
    assert Counter(event["id"] for event in read_events(out)) == Counter(range(total))


def _errors(document: dict[str, Any]) -> list[str]:
    with pytest.raises(CollectorConfigError) as caught:
        validate(document, "c.toml")
    return caught.value.errors


def test_config_errors_name_every_bad_nats_key() -> None:
    out = {"type": "stdout"}
    errors = _errors({"input": [
        {"type": "nats", "url": "http://127.0.0.1:4222", "stream": "a.b", "subject": "x y",
         "durable": "has space", "batch": 0, "ack_wait": -1},
        {"type": "nats", "stream": "s"},
        {"type": "tcp", "listen": "127.0.0.1:0", "durable": "d"},
    ], "output": [
        {"type": "nats"},
        {"type": "nats", "subject": "a.*"},
        {"type": "nats", "subject": "a", "url": "https://x"},
        {"type": "nats", "subject": "a..b"},
        {"type": "http", "url": "nats://127.0.0.1:4222"},
        out,
    ]})
    for where in ("input[0].url: must be a nats:// or tls:// URL",
                  "input[0].stream: must be a stream name",
                  "input[0].subject: must be dot-separated",
                  "input[0].durable: must be a durable consumer name",
                  "input[0].batch: must be from 1 to 10000",
                  "input[0].ack_wait: must be over 0",
                  "input[1].subject: required", "input[1].durable: required",
                  "input[2].durable: not used by an input of type 'tcp'",
                  "output[0].subject: required",
                  "output[1].subject: an output publishes to one subject: no wildcards",
                  "output[2].url: type 'nats' needs a nats:// or tls:// URL",
                  "output[3].subject: must be dot-separated",
                  "output[4].url: type 'http' needs an http:// or https:// URL"):
        assert any(error.startswith(where) for error in errors), (where, errors)
    good = validate({"input": [{"type": "nats", "stream": "S-1", "subject": "ev.>",
                                "durable": "c_1"}],
                     "output": [{"type": "nats", "subject": "out.all",
                                 "url": "tls://a:4222, nats://b:4222"}]})
    assert good.inputs[0].url == "nats://127.0.0.1:4222" and good.inputs[0].format == "json"
    assert good.inputs[0].batch == 100 and good.inputs[0].ack_wait == 30
    assert good.outputs[0].stream == ""


def test_an_unreachable_broker_is_refused_at_start_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    names = Names()
    collect = Collect(tmp_path, HEAD + _input(names).replace(NATS_URL,
                                                             f"nats://127.0.0.1:{port}")
                      + '\n[[output]]\ntype = "stdout"\n')
    try:
        with pytest.raises(AssertionError) as caught:
            collect.start()
        assert f"NATS at nats://127.0.0.1:{port}" in str(caught.value)
        assert collect.process is not None and collect.process.wait(30) != 0
    finally:
        terminate(collect.process)


async def _add_stream(stream: str, subject: str) -> None:
    nc = await nats.connect(NATS_URL)
    await nc.jetstream().add_stream(name=stream, subjects=[subject])
    await nc.close()


def test_a_nats_output_without_a_stream_spools_and_replays_once_there_is_one(
        tmp_path: Path, names: Names) -> None:
    """No stream holds the output subject: every publish fails (no PubAck), the batches
    go through the retries into the spool; once a stream exists they are replayed."""
    total = 100
    publish(names, _bodies(total))
    collect = Collect(tmp_path, HEAD + _input(names) + f"""
[[output]]
name = "out"
type = "nats"
url = "{NATS_URL}"
subject = "{names.out_subject}"
retries = 1
retry_interval = 0.2
timeout = 1
spool = "{tmp_path / 'spool'}"
""").start()
    try:
        wait_until(lambda: "down (" in collect.log(), 30, "the output to go down")
        _run(_add_stream(names.out_stream, names.out_subject))
        got = read_subject(names.out_subject, names.out_stream, total)
    finally:
        counters = collect.stop()
    assert Counter(json.loads(body)["id"] for body in got) == Counter(range(total))
    assert counters["output_out_errors"] >= 2
    assert counters["output_out_spooled"] >= total
    assert counters.get("output_out_sent", 0) + counters["output_out_replayed"] == total
    assert "output_out_dropped" not in counters
