"""Properties of every preset on any input, and bounded time on hostile 64 KiB lines.

Timing is measured, not asserted (run with ``-s`` to see it): the point is that every
case finishes. ``HYPOTHESIS_PROFILE=thorough`` runs 100,000 examples per property.
"""

from __future__ import annotations

import json
import logging
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trapline.extract import (
    MAX_EVENT_CHARS,
    RULE_TYPES,
    Extraction,
    Rule,
    RuleSet,
    choose_rule_set,
    presets,
    rule_set_from_config,
)
from trapline.extract.guard import literal_prefix, slow_pattern

SHIPPED = presets()
CONFIGURED = RuleSet("vendor", [
    Rule("request", "URL", r"request=(.*?)(?:\s|$)"),
    Rule("src", "IP", r"src=(\S*)"),
    Rule("fileHash", "HASH", r"fileHash=(\S*)"),
    Rule("user", "CONTEXT", r"suser=(\S+)", "first"),
], replace=[("\\=", "=")], ignore=["heartbeat"], request_id=r"^(\S+) ")
ALL = [*SHIPPED.values(), CONFIGURED]
OUTPUT_TYPES = {"URL", "MD5", "SHA1", "SHA256", "IP", "DOMAIN"}

# Text that looks like the formats: the punctuation and words the readers act on.
FRAGMENTS = st.sampled_from([
    " ", "|", "=", ":", "::", ".", "/", "\\", '"', "'", "{", "}", "[", "]", ",", "\t",
    "ip=", "url=", "hash=", "src=", "dst=", "request=", "CEF:0|", "LookupRequest ",
    '{"event_type":"dns",', '"dns":{"rrname":', '"src_ip":', '"Hashes":"MD5=', "SHA1=",
    "http://", "hxxp://", "[.]", "(.)", "192.0.2.1", "2001:db8::1", "evil.example.com",
    "44d88612fea8a8f36de82e1278abb02f", "\u0442\u0435\u0441\u0442.\u0440\u0444", "\x00",
])
TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(FRAGMENTS, max_size=60).map("".join),
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)), max_size=80).map("".join),
)


def check(extraction: Extraction | None) -> None:
    if extraction is None:
        return
    keys = [(o.type, o.value) for o in extraction.observables]
    assert len(keys) == len(set(keys))  # no duplicates
    for observed in extraction.observables:
        assert observed.type in OUTPUT_TYPES
        assert observed.value and observed.value == observed.value.strip()
        # Captured under its rule as found: the value may be trimmed (quotes, a port...).
        assert any(observed.value in captured
                   for captured in extraction.captures.get(observed.rule, []))
    for name, values in extraction.captures.items():
        assert isinstance(name, str)
        assert all(isinstance(value, str) and value for value in values)


@given(TEXTS)
def test_any_text_through_any_preset_returns(text: str) -> None:
    for rule_set in ALL:
        check(rule_set.extract(text))


@given(TEXTS)
def test_choosing_never_raises(text: str) -> None:
    chosen = choose_rule_set(text, list(SHIPPED.values()), SHIPPED["generic"])
    check(chosen.extract(text))


@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=20), st.sampled_from(["192.0.2.1", "evil.example.com"])),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from([
                                   "event_type", "src_ip", "dest_ip", "dns", "rrname",
                                   "queries", "answers", "grouped", "http", "hostname", "url",
                                   "tls", "sni", "fileinfo", "files", "md5", "email", "alert",
                                   "EventID", "Hashes", "QueryResults", "winlog", "event_data",
                                   "DestinationIp", "CommandLine", "A", "rrtype", "rdata"]),
                                   children, max_size=5)),
    max_leaves=25))
def test_any_json_shape_through_the_json_presets(value: object) -> None:
    line = json.dumps(value)
    for name in ("eve", "sysmon"):
        check(SHIPPED[name].extract(line))


@given(st.lists(st.tuples(st.sampled_from(["ip", "url", "hash", "md5", "domain"]),
                          st.from_regex(r"[A-Za-z0-9./:_-]{1,30}", fullmatch=True)),
                min_size=1, max_size=6))
def test_kuma_reads_back_what_was_written(pairs: list[tuple[str, str]]) -> None:
    line = "LookupRequest " + "|".join(f"{k}={v}" for k, v in pairs)
    extraction = SHIPPED["kuma"].extract(line)
    assert extraction is not None
    for key, value in pairs:
        assert value in extraction.captures[key]


HOSTILE = {
    "letters": "a" * MAX_EVENT_CHARS,
    "spaces": " " * MAX_EVENT_CHARS,
    "dots": "." * MAX_EVENT_CHARS,
    "labels": "a." * (MAX_EVENT_CHARS // 2),
    "long label": ("a" * 70 + ".") * (MAX_EVENT_CHARS // 71),
    "numbers": "1." * (MAX_EVENT_CHARS // 2),
    "octets": "255.255.255." * (MAX_EVENT_CHARS // 12),
    "colons": ":" * MAX_EVENT_CHARS,
    "hex colons": "f:" * (MAX_EVENT_CHARS // 2),
    "hex": "f" * MAX_EVENT_CHARS,
    "hex words": ("0" * 33 + " ") * (MAX_EVENT_CHARS // 34),
    "pairs": "a=" * (MAX_EVENT_CHARS // 2),
    "spaced pairs": "a= " * (MAX_EVENT_CHARS // 3),
    "pipes": "ip=|" * (MAX_EVENT_CHARS // 4),
    "kuma value": "ip=" + "a" * MAX_EVENT_CHARS,
    "quotes": 'a="' * (MAX_EVENT_CHARS // 3),
    "escaped quotes": 'a="\\" ' * (MAX_EVENT_CHARS // 6),
    "backslashes": "CEF:0|" + "\\" * MAX_EVENT_CHARS,
    "cef pipes": "CEF:0|" + "\\|" * (MAX_EVENT_CHARS // 2),
    "cef pairs": "CEF:0|a|b|c|d|e|f|" + "k=v " * (MAX_EVENT_CHARS // 4),
    "schemes": "http://" * (MAX_EVENT_CHARS // 7),
    "colon slashes": "://" * (MAX_EVENT_CHARS // 3),
    "defanged": "[.]" * (MAX_EVENT_CHARS // 3),
    "hxxp": "hxxp://" * (MAX_EVENT_CHARS // 7),
    "json nesting": '{"event_type":"a","dns":' + "[" * 30000 + "]" * 30000 + "}",
    "json keys": "{" + ",".join(f'"k{i}":"192.0.2.1"' for i in range(4000)) + "}",
    "over the limit": "ip=192.0.2.1 " * 10_000,
    "request prefix": "request=" * (MAX_EVENT_CHARS // 8),
    "src prefix": "src=" * (MAX_EVENT_CHARS // 4),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_64_kib_lines_finish(name: str) -> None:
    line = HOSTILE[name]
    timings = []
    for rule_set in ALL:
        start = time.perf_counter()
        check(rule_set.extract(line))
        choose_rule_set(line, list(SHIPPED.values()), SHIPPED["generic"])
        timings.append(f"{rule_set.name}={(time.perf_counter() - start) * 1000:.1f}ms")
    print(f"{name:15s} {len(line):6d} chars: {' '.join(timings)}")


def test_the_guard_flags_the_vendor_example_and_not_its_linear_form() -> None:
    assert slow_pattern(re.compile(r"src=([^\s]*?)\s"))
    assert not slow_pattern(re.compile(r"src=(\S*)"))
    assert not slow_pattern(re.compile(r"request=(.*?)(?:\s|$)"))
    assert literal_prefix(re.compile(r"fileHash=([^\s]*?)\s")) == "fileHash="
    assert literal_prefix(re.compile(r"(?:a|b)=")) == ""


def test_a_slow_configured_pattern_is_accepted_with_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    table = {"name": "fw", "rules": [{"name": "src", "type": "IP",
                                      "regex": r"src=([^\s]*?)\s"}]}
    with caplog.at_level(logging.WARNING, logger="trapline.extract.config"):
        rule_set = rule_set_from_config(table)
    assert rule_set.rules[0].type == "IP"
    assert "rule 'src': regex: regular expression" in caplog.text
    assert r"src=(\S*)" in caplog.text


def test_rule_types_are_the_documented_ones() -> None:
    assert RULE_TYPES == ("URL", "MD5", "SHA1", "SHA256", "HASH", "IP", "DOMAIN", "CONTEXT")
