"""Allow lists in the index: an observable an allow record matches produces no detection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trapline.index import IndicatorRecord, Snapshot, SnapshotBuilder, SnapshotCatalog
from trapline.index.runs import RunMerge, write_shard

MakeSnapshot = Callable[..., Snapshot]


def bad(value: str, feed: str = "bad") -> IndicatorRecord:
    return IndicatorRecord(value=value, feed=feed, category="Malicious")


def allow(value: str, list_type: str, kind: str | None = None,
          feed: str = "allow.json") -> IndicatorRecord:
    return IndicatorRecord(value=value, kind=kind, feed=feed, category="Allow", allow=True,
                           context={"list": "Test list", "list_type": list_type})


def test_hostname_list_allows_the_name_its_subdomains_and_urls_on_them(
        make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot([bad("cdn.example"), bad("a.cdn.example"),
                              bad("cdn.example/evil/*"), allow("cdn.example", "hostname",
                                                               "domain")])
    for observable in ("cdn.example", "a.cdn.example", "http://cdn.example/evil/x"):
        verdict = snapshot.lookup(observable)
        assert verdict.matches == [], observable
        assert verdict.suppressed, observable
        assert {m.feed for m in verdict.allowed_by} == {"allow.json"}
        assert verdict.allowed_by[0].context["list"] == "Test list"
    assert snapshot.lookup("other.example").allowed_by == []


def test_string_list_allows_only_the_exact_value(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot([bad("example.com"), bad("www2.example.com"),
                              allow("example.com", "string")])
    assert snapshot.lookup("example.com").matches == []
    assert snapshot.lookup("example.com").allowed_by[0].how == "exact"
    # The parent-domain match of a subdomain is not an exact string: it stays a detection.
    sub = snapshot.lookup("www2.example.com")
    assert [m.pattern for m in sub.matches] == ["www2.example.com", "example.com"]
    assert sub.allowed_by == []
    url = snapshot.lookup("http://example.com/")
    assert url.matches and not url.allowed_by


def test_cidr_list_allows_addresses_inside(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot([bad("10.1.2.3"), bad("192.0.2.0/24"),
                              allow("10.0.0.0/8", "cidr"), allow("2001:db8::/32", "cidr"),
                              bad("2001:db8::5")])
    verdict = snapshot.lookup("10.1.2.3")
    assert verdict.matches == [] and verdict.allowed_by[0].how == "cidr"
    assert snapshot.lookup("2001:db8::5").matches == []
    assert snapshot.lookup("192.0.2.7").matches  # outside every allowed network


def test_substring_list(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot([bad("http://evil.example/update.windowsupdate.com/x"),
                              bad("evil.example"),
                              allow("WindowsUpdate.com", "substring", "substring")])
    verdict = snapshot.lookup("http://evil.example/update.windowsupdate.com/x")
    assert verdict.matches == []
    assert [(m.how, m.pattern) for m in verdict.allowed_by] == [
        ("substring", "windowsupdate.com")]
    assert snapshot.lookup("evil.example").matches


def test_allow_record_alone_is_not_a_detection(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot([allow("8.8.8.8", "cidr")])
    verdict = snapshot.lookup("8.8.8.8")
    assert not verdict.detected and verdict.suppressed == [] and verdict.allowed_by


def test_allow_feeds_survive_a_merge_of_shards(tmp_path: Path) -> None:
    """Shards intern feeds separately; the merge must keep the allow flags on the right feed."""
    first = SnapshotBuilder()
    first.add_all([bad("198.51.100.1", "one"), bad("evil.example", "one")])
    second = SnapshotBuilder()
    second.add_all([allow("198.51.100.0/24", "cidr", feed="allow.json"),
                    allow("trusted", "substring", "substring", feed="allow.json"),
                    bad("trusted.example", "two")])
    shards = [write_shard(first, tmp_path / "a"), write_shard(second, tmp_path / "b")]
    catalog = SnapshotCatalog(tmp_path / "data")
    catalog.publish(RunMerge(shards))
    snapshot = catalog.open_current()
    assert snapshot.meta.feeds == ["one", "allow.json", "two"]
    assert snapshot.meta.allow_feeds == [1]
    assert snapshot.lookup("198.51.100.1").allowed_by[0].feed == "allow.json"
    assert snapshot.lookup("trusted.example").allowed_by[0].feed == "allow.json"
    assert [m.feed for m in snapshot.lookup("evil.example").matches] == ["one"]


def test_hostname_list_on_a_public_suffix_allows_its_subdomains(
        make_snapshot: MakeSnapshot) -> None:
    """akamai.net is a public suffix: a feed's parent-domain rule skips it, an allow list not."""
    snapshot = make_snapshot([bad("x.akamai.net"), bad("akamai.net", "parent-feed"),
                              allow("akamai.net", "hostname", "domain")])
    verdict = snapshot.lookup("x.akamai.net")
    assert verdict.matches == [] and verdict.allowed_by[0].how == "parent-domain"
    assert [m.pattern for m in verdict.suppressed] == ["x.akamai.net"]
