"""Typed rules, extract modes, normalizing rules and request ids (docs/extraction.md, *Rules*)."""

from __future__ import annotations

import pytest

from trapline.extract import MAX_EVENT_CHARS, Observed, Rule, RuleSet

MD5 = "44d88612fea8a8f36de82e1278abb02f"
SHA1 = "3395856ce81f2b7382dee72602f798b642f14140"
SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"


def values(rule_set: RuleSet, event: str) -> list[tuple[str, str, str]]:
    extraction = rule_set.extract(event)
    assert extraction is not None
    return [tuple(o) for o in extraction.observables]


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("URL", "x=http://evil.example/a", ("URL", "http://evil.example/a")),
        ("IP", "x=192.0.2.7", ("IP", "192.0.2.7")),
        ("IP", "x=2001:db8::1", ("IP", "2001:db8::1")),
        ("DOMAIN", "x=evil.example", ("DOMAIN", "evil.example")),
        ("DOMAIN", "x=198.51.100.1", ("IP", "198.51.100.1")),  # an address in a name field
        ("MD5", f"x={MD5}", ("MD5", MD5)),
        ("SHA1", f"x={SHA1}", ("SHA1", SHA1)),
        ("SHA256", f"x={SHA256}", ("SHA256", SHA256)),
        ("HASH", f"x={MD5}", ("MD5", MD5)),
        ("HASH", f"x={SHA1}", ("SHA1", SHA1)),
        ("HASH", f"x={SHA256.upper()}", ("SHA256", SHA256.upper())),
    ],
)
def test_each_type(kind: str, text: str, expected: tuple[str, str]) -> None:
    rule_set = RuleSet("t", [Rule("x", kind, r"x=(\S+)")])
    assert values(rule_set, text) == [("x", *expected)]


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("MD5", SHA1),  # wrong length for the type
        ("SHA1", MD5),
        ("SHA256", "z" * 64),  # not hex
        ("HASH", "abc"),
        ("IP", "-"),
        ("IP", "not-an-address"),
        ("DOMAIN", "WORKSTATION5"),  # one label: a host name, not a domain indicator
        ("DOMAIN", "-"),
        ("URL", "/index.html"),  # a path has no host
        ("URL", "-"),
    ],
)
def test_values_that_do_not_look_like_the_type_are_captured_only(kind: str, value: str) -> None:
    extraction = RuleSet("t", [Rule("x", kind, r"x=(\S+)")]).extract(f"x={value}")
    assert extraction is not None
    assert extraction.observables == []
    assert extraction.captures == {"x": [value]}


def test_context_rules_are_captured_never_observed() -> None:
    rule_set = RuleSet("t", [Rule("user", "CONTEXT", r"user=(\S+)"),
                             Rule("ip", "IP", r"ip=(\S+)")])
    extraction = rule_set.extract("user=alice ip=192.0.2.7 user=bob")
    assert extraction is not None
    assert extraction.observables == [Observed("ip", "IP", "192.0.2.7")]
    assert extraction.captures == {"user": ["alice", "bob"], "ip": ["192.0.2.7"]}


def test_extract_all_and_first() -> None:
    event = "ip=192.0.2.1 ip=192.0.2.2 ip=192.0.2.3"
    every = RuleSet("t", [Rule("ip", "IP", r"ip=(\S+)", "all")])
    first = RuleSet("t", [Rule("ip", "IP", r"ip=(\S+)", "first")])
    assert [v for _, _, v in values(every, event)] == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert [v for _, _, v in values(first, event)] == ["192.0.2.1"]


def test_first_skips_empty_matches() -> None:
    rule_set = RuleSet("t", [Rule("ip", "IP", r"ip=(\S*)", "first")])
    assert values(rule_set, "ip= ip=192.0.2.2") == [("ip", "IP", "192.0.2.2")]


def test_value_is_group_one_or_the_whole_match() -> None:
    grouped = RuleSet("t", [Rule("h", "HASH", rf"(?:md5|hash)=({MD5})")])
    whole = RuleSet("t", [Rule("h", "HASH", r"\b[0-9a-f]{32}\b")])
    assert values(grouped, f"md5={MD5}") == [("h", "MD5", MD5)]
    assert values(whole, f"seen {MD5} twice") == [("h", "MD5", MD5)]


def test_an_optional_group_that_did_not_take_part_yields_nothing() -> None:
    rule_set = RuleSet("t", [Rule("u", "URL", r"req(?:=(\S+))?")])
    assert values(rule_set, "req req=http://evil.example/") == [
        ("u", "URL", "http://evil.example/")]


def test_duplicates_dropped_first_rule_kept_and_order_is_rule_then_match() -> None:
    rule_set = RuleSet("t", [Rule("src", "IP", r"src=(\S+)"), Rule("dst", "IP", r"dst=(\S+)")])
    got = values(rule_set, "dst=192.0.2.1 src=192.0.2.2 src=192.0.2.1")
    assert got == [("src", "IP", "192.0.2.2"), ("src", "IP", "192.0.2.1")]
    extraction = rule_set.extract("dst=192.0.2.1 src=192.0.2.2 src=192.0.2.1")
    assert extraction is not None
    assert extraction.captures["dst"] == ["192.0.2.1"]  # captured though not observed again


def test_replace_then_ignore() -> None:
    rule_set = RuleSet("t", [Rule("request", "URL", r"request=(.*?)(?:\s|$)")],
                       replace=[("\\=", "="), ("[.]", ".")], ignore=["heartbeat"])
    assert values(rule_set, r"request=http://evil[.]example/?a\=b") == [
        ("request", "URL", "http://evil.example/?a=b")]
    assert rule_set.extract("heartbeat request=http://evil.example/") is None


def test_ignore_sees_the_replaced_text() -> None:
    rule_set = RuleSet("t", [Rule("ip", "IP", r"ip=(\S+)")], replace=[("HB", "heartbeat")],
                       ignore=["heartbeat"])
    assert rule_set.extract("HB ip=192.0.2.1") is None
    assert rule_set.extract("hb ip=192.0.2.1") is not None  # literal, case-sensitive


def test_replacements_apply_in_order() -> None:
    rule_set = RuleSet("t", [Rule("v", "CONTEXT", r"v=(\S+)")], replace=[("a", "b"), ("b", "c")])
    extraction = rule_set.extract("v=ab")
    assert extraction is not None and extraction.captures == {"v": ["cc"]}


def test_request_id_group_one_whole_match_or_none() -> None:
    rules = [Rule("ip", "IP", r"ip=(\S+)")]
    grouped = RuleSet("t", rules, request_id=r"reqid=(\S+)")
    whole = RuleSet("t", rules, request_id=r"^\d+")
    assert grouped.extract("reqid=42 ip=192.0.2.1").request_id == "42"  # type: ignore[union-attr]
    assert whole.extract("17 ip=192.0.2.1").request_id == "17"  # type: ignore[union-attr]
    assert grouped.extract("ip=192.0.2.1").request_id is None  # type: ignore[union-attr]
    assert RuleSet("t", rules).extract("reqid=1").request_id is None  # type: ignore[union-attr]


def test_request_id_is_read_before_the_replacements() -> None:
    rule_set = RuleSet("t", [Rule("ip", "IP", r"ip=(\S+)")], request_id=r"req=(\S+)",
                       replace=[("req=", "x=")])
    extraction = rule_set.extract("req=A1 ip=192.0.2.1")
    assert extraction is not None and extraction.request_id == "A1"


def test_events_are_read_up_to_64_kib() -> None:
    rule_set = RuleSet("t", [Rule("ip", "IP", r"ip=(\S+)")])
    padding = "x" * (MAX_EVENT_CHARS - len("ip=192.0.2.1 "))
    inside = f"ip=192.0.2.1 {padding}ip=192.0.2.2"
    assert [v for _, _, v in values(rule_set, inside)] == ["192.0.2.1"]


def test_a_rule_set_without_rules_finds_nothing() -> None:
    extraction = RuleSet("empty").extract("ip=192.0.2.1")
    assert extraction is not None
    assert extraction.observables == [] and extraction.captures == {}
