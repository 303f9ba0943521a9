"""``POST /api/1.x/lookup``: the CyberTrace-compatible answer, its errors and its limits."""

from __future__ import annotations

import base64
import json

import pytest
from asgi_calls import exchange
from http_unit import ACME, ADMIN, KUMA, Call, Lookups, basic

from trapline.errors import SnapshotError
from trapline.service.http import AppContext, create_app
from trapline.service.http.lookup import SLICE

DEMO_MD5 = "e6301b768ef6f9946cbca6d55e2bb10c"
VERSIONS = ["/api/1.0/lookup", "/api/1.1/lookup", "/api/1.2/lookup", "/api/1.3/General/lookup"]


def objects(*values: str) -> list[dict[str, str]]:
    return [{"object": v} for v in values]


def error(response: object, status: int) -> str:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == {"status", "reason"} and body[0]["status"] == "error"
    assert response.headers["content-type"] == "application/json"  # type: ignore[attr-defined]
    return body[0]["reason"]


@pytest.mark.parametrize("path", VERSIONS)
def test_every_api_version_answers_the_same(call: Call, path: str) -> None:
    response = call("POST", path, json=objects("192.0.2.1", "clean.example"), headers=KUMA)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [
        {"object": "192.0.2.1", "result": "detected", "categories": [{
            "category": "Demo_IP_Reputation", "detected_indicator": "192.0.2.1",
            "context": {"threat_score": 90, "category": "Scanner", "geo.country": "ZZ",
                        "geo.asn": 64496, "comment": "documented test IP (TEST-NET-1)",
                        "first_seen": "2026-01-01T00:00:00Z",
                        "feed": "Demo_IP_Reputation.json"}}]},
        {"object": "clean.example", "result": "not detected", "categories": []},
    ]


def test_order_is_kept_and_each_match_is_one_category(call: Call) -> None:
    asked = ["http://malicious.trapline-demo.test/x", "203.0.113.1", DEMO_MD5.upper(),
             "198.51.100.7", "http://a.b.c2.trapline-demo.test/", "clean.example",
             "2001:db8:dead::1", "fakess123.nu"]
    response = call("POST", "/api/1.1/lookup", json=objects(*asked), headers=KUMA)
    entries = response.json()
    assert [e["object"] for e in entries] == asked
    assert [e["result"] for e in entries] == ["detected", "not detected", "detected",
                                              "detected", "detected", "not detected",
                                              "detected", "detected"]
    for entry in entries:
        assert set(entry) == {"object", "result", "categories"}
        for category in entry["categories"]:
            assert set(category) == {"category", "detected_indicator", "context"}
            assert category["context"]["feed"].endswith(".json")
    md5 = entries[2]["categories"]
    assert sorted(c["category"] for c in md5) == ["Demo_Botnet_CnC_Hash", "Demo_Malicious_Hash"]
    assert {c["detected_indicator"] for c in md5} == {DEMO_MD5}
    assert entries[3]["categories"][0]["detected_indicator"] == "198.51.100.0/24"
    assert entries[4]["categories"][0]["detected_indicator"] == "*.c2.trapline-demo.test"


def test_unicode_and_non_indicators_come_back_as_sent(call: Call) -> None:
    asked = ["тест.рф", "http://пример.испытание/путь?q=ü", "😀", "", "not an indicator",
             "a\u0000b", "\\u2028"]
    response = call("POST", "/api/1.1/lookup", headers={**KUMA, "Content-Type":
                    "application/json; charset=utf-8"},
                    content=json.dumps(objects(*asked), ensure_ascii=False).encode())
    entries = response.json()
    assert [e["object"] for e in entries] == asked
    assert {e["result"] for e in entries} == {"not detected"}
    response.content.decode("utf-8")


def test_other_fields_of_an_item_are_ignored(call: Call) -> None:
    body = [{"object": "192.0.2.1", "type": "ip", "tags": [1, {"a": None}]}]
    response = call("POST", "/api/1.1/lookup", json=body, headers=KUMA)
    assert response.json()[0]["result"] == "detected"


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "malformed request"),
    (b"{", "malformed request"),
    (b"[{\"object\": \"x\"}", "malformed request"),
    (b"\xff\xfe[]", "malformed request"),
    (b"{\"object\": \"192.0.2.1\"}", "Expected `array`, got `object`"),
    (b"\"192.0.2.1\"", "Expected `array`, got `str`"),
    (b"[\"192.0.2.1\"]", "Expected `object`, got `str` - at `$[0]`"),
    (b"[{\"object\": \"a\"}, {\"object\": 7}]", "Expected `str`, got `int` - at `$[1].object`"),
    (b"[{\"object\": null}]", "got `null` - at `$[0].object`"),
    (b"[{\"value\": \"192.0.2.1\"}]", "missing required field `object`"),
    (b"[]", "at least one object"),
    (b"[{\"object\": \"x\", \"deep\": " + b"[" * 100_000 + b"]" * 100_000 + b"}]",
     "nested too deeply"),
])
def test_malformed_bodies_are_400_with_the_reason(call: Call, body: bytes, reason: str) -> None:
    response = call("POST", "/api/1.1/lookup", content=body, headers=KUMA)
    assert reason in error(response, 400)


def test_missing_or_wrong_credentials_are_401_with_a_challenge(call: Call) -> None:
    attempts = [
        {},
        basic("kuma", "wrong"),
        basic("someone", "kuma-secret"),
        {"Authorization": "Bearer kuma-secret"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"kuma").decode()},  # no colon
    ]
    for headers in attempts:
        response = call("POST", "/api/1.1/lookup", json=objects("192.0.2.1"), headers=headers)
        reason = error(response, 401)
        assert response.headers["www-authenticate"] == 'Basic realm="trapline"'
        assert reason == ("authentication required" if not headers
                          else "wrong user name or password")


def test_credentials_are_checked_before_the_body(context: AppContext) -> None:
    answer = exchange(create_app(context), "POST", "/api/1.1/lookup", [b"[{"],
                      headers={"content-length": "3"})
    assert answer.status == 401 and answer.receives == 0


def test_tenants(call: Call, lookups: Lookups) -> None:
    body = objects("192.0.2.1")
    assert call("POST", "/api/1.3/Acme/lookup", json=body, headers=ACME).status_code == 200
    assert call("POST", "/api/1.1/lookup", json=body, headers=ACME).status_code == 200
    assert call("POST", "/api/1.3/Acme/lookup", json=body, headers=ADMIN).status_code == 200
    assert call("POST", "/api/1.3/General/lookup", json=body, headers=KUMA).status_code == 200
    assert [tenant for _, tenant in lookups.calls] == ["Acme", "Acme", "Acme", "General"]
    denied = call("POST", "/api/1.3/General/lookup", json=body, headers=ACME)
    assert error(denied, 403) == "user 'acme' may not look up in tenant 'General'"
    denied = call("POST", "/api/1.3/Acme/lookup", json=body, headers=KUMA)
    assert "tenant 'Acme'" in error(denied, 403)
    assert len(lookups.calls) == 4


def test_a_role_without_the_lookup_permission_is_403(call: Call) -> None:
    response = call("POST", "/api/1.1/lookup", json=objects("192.0.2.1"),
                    headers=basic("nobody", "nobody-secret"))
    assert error(response, 403) == "user 'nobody' may not look up"


@pytest.mark.parametrize("path", ["/api/1.3/lookup", "/api/1.3//lookup", "/api/1.1/lookup/",
                                  "/api/8.0/lookup", "/api/1.3/a/b/lookup", "/api/lookup"])
def test_other_paths_are_404(call: Call, path: str) -> None:
    response = call("POST", path, json=objects("192.0.2.1"), headers=KUMA)
    assert error(response, 404) == f"request not supported: POST {path}"


def test_lookup_is_post_only(call: Call) -> None:
    response = call("GET", "/api/1.1/lookup", headers=KUMA)
    assert "lookups are POST" in error(response, 405)
    assert response.headers["allow"] == "POST"


def test_a_declared_body_over_the_cap_is_refused_unread(context: AppContext) -> None:
    context.max_body_bytes = 1000
    answer = exchange(create_app(context), "POST", "/api/1.1/lookup", [b"x" * 1001],
                      headers={**KUMA, "content-length": "1001"})
    assert answer.status == 413 and answer.receives == 0
    assert "1001 bytes is over the limit of 1000 bytes" in json.loads(answer.body)[0]["reason"]


def test_a_streamed_body_stops_being_read_at_the_cap(context: AppContext) -> None:
    context.max_body_bytes = 1000
    chunks = [b"[" + b" " * 299] + [b" " * 300] * 20 + [b"]"]
    answer = exchange(create_app(context), "POST", "/api/1.1/lookup", chunks, headers=KUMA)
    assert answer.status == 413
    assert answer.receives == 4  # 1,200 bytes read, not 6,300
    assert answer.headers["connection"] == "close"
    assert json.loads(answer.body) == [{"status": "error", "reason":
                                        "request body is over the limit of 1000 bytes"}]
    assert context.stats.counters["http_too_large"] == 1


def test_a_body_at_the_cap_in_many_chunks_is_read_whole(context: AppContext) -> None:
    body = json.dumps(objects(*["192.0.2.1"] * 40)).encode()
    context.max_body_bytes = len(body)
    chunks = [body[i:i + 7] for i in range(0, len(body), 7)]
    answer = exchange(create_app(context), "POST", "/api/1.1/lookup", chunks,
                      headers={**KUMA, "content-length": str(len(body))})
    assert answer.status == 200
    assert [e["result"] for e in json.loads(answer.body)] == ["detected"] * 40


def test_a_client_gone_mid_body_gets_nothing(context: AppContext) -> None:
    answer = exchange(create_app(context), "POST", "/api/1.1/lookup", [b"[", b"]", b""],
                      headers=KUMA, disconnect_after=1)
    assert answer.status == 0 and answer.body == b""
    assert context.stats.counters["http_disconnected"] == 1


def test_big_batches_are_looked_up_in_slices_in_order(call: Call, lookups: Lookups) -> None:
    asked = [f"10.0.{i >> 8 & 255}.{i & 255}" if i % 3 else "192.0.2.1" for i in range(10_000)]
    response = call("POST", "/api/1.1/lookup", json=objects(*asked), headers=KUMA)
    entries = response.json()
    assert [e["object"] for e in entries] == asked
    assert [e["result"] == "detected" for e in entries] == [i % 3 == 0 for i in range(10_000)]
    assert [n for n, _ in lookups.calls] == [SLICE, SLICE, 10_000 - 2 * SLICE]


def test_lookup_failures_are_503_and_bugs_500(context: AppContext, call: Call,
                                              caplog: pytest.LogCaptureFixture) -> None:
    def no_snapshot(values: list[str], tenant: str) -> list[object]:
        raise SnapshotError("no snapshot published in /data/snapshots")

    context.lookup_many = no_snapshot
    response = call("POST", "/api/1.1/lookup", json=objects("192.0.2.1"), headers=KUMA)
    assert error(response, 503) == ("lookups unavailable: no snapshot published in "
                                    "/data/snapshots")

    def bug(values: list[str], tenant: str) -> list[object]:
        raise KeyError("oops")

    context.lookup_many = bug
    response = call("POST", "/api/1.1/lookup", json=objects("192.0.2.1"), headers=KUMA)
    assert error(response, 500) == "internal error"
    assert "lookup failed" in caplog.text and "KeyError" in caplog.text


def test_counters(call: Call, context: AppContext) -> None:
    call("POST", "/api/1.1/lookup", json=objects("192.0.2.1", "clean.example", DEMO_MD5),
         headers=KUMA)
    call("POST", "/api/1.1/lookup", json=objects("192.0.2.1"))
    call("POST", "/api/1.1/lookup", content=b"[", headers=KUMA)
    call("POST", "/api/1.3/General/lookup", json=objects("192.0.2.1"), headers=ACME)
    counters = context.stats.counters
    assert (counters["http_lookups"], counters["http_observables"], counters["http_detected"],
            counters["http_unauthorized"], counters["http_bad_requests"],
            counters["http_forbidden"]) == (1, 3, 2, 1, 1, 1)
    assert counters["detections"] == 0  # lookups answered back are not detection statistics
