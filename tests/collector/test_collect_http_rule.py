"""The ``cybertrace-http`` rule against a real `trapline serve` over HTTPS: several
waiting events share one POST and each gets its own share of the answer; the
service's self-signed certificate is trusted through ``ca_file`` and refused
without it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import Collect, Serve, wait_for_events

HIT = "192.0.2.1"  # Demo_IP_Reputation.json
URL_HIT = "http://malicious.trapline-demo.test/a"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("collect-http")
    serve = Serve(folder, tls=True)
    serve.add_user("kuma", "kuma-secret-password-1")
    serve.start()
    secret = folder / "kuma.secret"
    secret.write_text('user = "kuma"\npassword = "kuma-secret-password-1"\n')
    os.chmod(secret, 0o600)
    try:
        yield {"folder": folder, "serve": serve, "secret": secret,
               "ca": serve.data / "tls" / "cert.pem"}
    finally:
        serve.stop()


def _collect(service: dict[str, Any], out: Path, name: str, **rule: Any) -> Collect:
    serve = service["serve"]
    settings = {"connections": 1, "timeout": 10, "cache_ttl": 0, "batch": 50,
                "ca_file": str(service["ca"])} | rule
    lines = "\n".join(f"{key} = {value!r}".replace("'", '"') if isinstance(value, str)
                      else f"{key} = {str(value).lower() if isinstance(value, bool) else value}"
                      for key, value in settings.items() if value is not None)
    return Collect(service["folder"], f"""
[collector]
stats_interval = 0
[[input]]
type = "http"
listen = "127.0.0.1:0"
[[rule]]
name = "ct"
kind = "cybertrace-http"
url = "127.0.0.1:{serve.http_port}"
secret_file = "{service["secret"]}"
{lines}
mapping = [{{ field = "ip", type = "ip" }}, {{ field = "url", type = "url" }}]
[[output]]
type = "file"
path = "{out}"
""", name=name).start()


def _post(collect: Collect, events: list[dict[str, Any]]) -> None:
    address = collect.addresses["input[0]:http"]
    answer = httpx.post(f"http://{address}/events", json=events, timeout=30)
    assert answer.status_code == 200 and answer.json() == {"accepted": len(events)}


def test_waiting_events_share_a_post_and_each_keeps_its_own_answer(
        service: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    collect = _collect(service, out, "batched")
    try:
        events: list[dict[str, Any]] = []
        for number in range(600):
            if number % 3 == 0:
                events.append({"id": number, "ip": HIT})
            elif number % 3 == 1:
                events.append({"id": number, "ip": f"100.64.1.{number % 250}",
                               "url": URL_HIT})
            else:
                events.append({"id": number, "ip": f"203.0.113.{number % 250}"})
        _post(collect, events)
        got = {event["id"]: event for event in wait_for_events(out, len(events))}
    finally:
        counters = collect.stop()
    assert sorted(got) == list(range(600))
    for number, event in got.items():
        assert event["TIStatus"] == {"ct": "enriched"}, event
        if number % 3 == 0:
            assert [(t["field"], t["value"], t["category"]) for t in event["TI"]] == \
                [("ip", HIT, "Demo_IP_Reputation")]
        elif number % 3 == 1:  # the URL is the hit, not the address beside it
            assert [(t["field"], t["value"]) for t in event["TI"]] == [("url", URL_HIT)]
        else:
            assert "TI" not in event
    assert counters["rule_ct_requests"] == 600
    # One connection: while a POST is on its way the others wait and go together.
    assert 600 / 50 <= counters["rule_ct_posts"] < 600 / 2


def test_the_service_certificate_is_trusted_only_through_ca_file(
        service: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "untrusted.jsonl"
    collect = _collect(service, out, "untrusted", ca_file=None)
    try:
        _post(collect, [{"id": 1, "ip": HIT}])
        (event,) = wait_for_events(out, 1)
    finally:
        counters = collect.stop()
    assert event["TIStatus"]["ct"].startswith("unenriched: unavailable"), event
    assert "certificate" in event["TIStatus"]["ct"].lower()
    assert "TI" not in event and counters["rule_ct_unenriched"] == 1

    out = tmp_path / "unchecked.jsonl"  # verify = false: the operator's explicit choice
    collect = _collect(service, out, "unchecked", ca_file=None, verify=False)
    try:
        _post(collect, [{"id": 2, "ip": HIT}])
        (event,) = wait_for_events(out, 1)
    finally:
        collect.stop()
    assert event["TI"][0]["category"] == "Demo_IP_Reputation"
