"""Plain-list feeds: line splitting, records, and the real public feeds in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from trapline.feeds.plain import parse_plain, read_plain, split_line
from trapline.index import IndicatorRecord, SnapshotBuilder, build_memory_snapshot

# -- split_line and parse_plain ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("evil.example", ("evil.example", "")),
        ("evil.example\n", ("evil.example", "")),
        ("  evil.example  ", ("evil.example", "")),
        ("198.51.100.7\t12", ("198.51.100.7", "12")),  # ipsum: IP<TAB>count
        ("198.51.100.7    12", ("198.51.100.7", "12")),
        ("evil.example some words here", ("evil.example", "some words here")),
        ("d41d8cd98f00b204e9800998ecf8427e;known bad", ("d41d8cd98f00b204e9800998ecf8427e",
                                                        "known bad")),
        ("evil.example;APT X", ("evil.example", "APT X")),  # signature-base: ioc;comment
        ("198.51.100.7,scanner", ("198.51.100.7", "scanner")),
        ("evil.example  # a trailing comment", ("evil.example", "")),
        ("http://evil.example/x#frag", ("http://evil.example/x#frag", "")),  # # inside a URL
        ("http://evil.example/x.php?*", ("http://evil.example/x.php?*", "")),
        ("http://evil.example/a,b;c", ("http://evil.example/a,b;c", "")),  # kept in a URL
        ("\ufeffevil.example", ("evil.example", "")),  # a byte order mark
        ("0.0.0.0 evil.example", ("evil.example", "")),  # a hosts file: the name
        ("127.0.0.1\tevil.example  # sinkholed", ("evil.example", "")),
        ("0.0.0.0", ("0.0.0.0", "")),  # an address alone is the value
        ("||evil.example/x.pdf^$all", ("evil.example/x.pdf", "")),  # adblock filter
        ("||evil.example^", ("evil.example", "")),
    ],
)
def test_split_line(line: str, expected: tuple[str, str]) -> None:
    assert split_line(line) == expected


@pytest.mark.parametrize("line", ["", "\n", "   ", "# comment", "   # indented comment", "#",
                                  "! adblock comment"])
def test_blank_and_comment_lines(line: str) -> None:
    assert split_line(line) is None


def test_parse_plain_records() -> None:
    lines = ["# header\n", "\n", "198.51.100.7\t12\n", "evil.example\n", "not an indicator\n"]
    records = list(parse_plain(lines, feed="F", category="C"))
    assert records == [
        IndicatorRecord(value="198.51.100.7", feed="F", category="C",
                        context={"comment": "12"}),
        IndicatorRecord(value="evil.example", feed="F", category="C"),
        IndicatorRecord(value="not", feed="F", category="C",
                        context={"comment": "an indicator"}),
    ]
    builder = SnapshotBuilder()
    assert builder.add_all(records) == 2
    assert builder.rejected == 1


def test_read_plain_defaults_feed_and_category(tmp_path: Path) -> None:
    path = tmp_path / "bad-hosts.txt"
    path.write_bytes(b"evil.example\n\xff\xfe.example\n198.51.100.7 x\n")
    records = list(read_plain(path))
    assert {r.feed for r in records} == {"bad-hosts.txt"}
    assert {r.category for r in records} == {"bad-hosts"}
    assert records[0].value == "evil.example"
    assert records[-1].context == {"comment": "x"}
    named = list(read_plain(path, feed="mine", category="c2"))
    assert {(r.feed, r.category) for r in named} == {("mine", "c2")}


def test_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("a.example\nb.example")
    assert [r.value for r in read_plain(path)] == ["a.example", "b.example"]


# -- the real public feeds (../shared/data/feeds) ---------------------------------------------


def build(path: Path) -> SnapshotBuilder:
    builder = SnapshotBuilder()
    builder.add_all(read_plain(path))
    return builder


@pytest.mark.parametrize(
    ("relative", "counts"),
    [
        ("ipsum/ipsum.txt", {"ipv4": 120_430}),
        ("ipsum/levels_5.txt", {"ipv4": 1_413}),
        # the README says 19,862, which is `wc -l`: the last line has no newline
        ("threatfox-ips/ips.txt", {"ipv4": 19_863}),
        ("neo23x0-signature-base/c2-iocs.txt", {"domain": 1_709, "ipv4": 135}),
        ("neo23x0-signature-base/hash-iocs.txt", {"md5": 1_039, "sha1": 926, "sha256": 1_259}),
        # hosts-file format: "0.0.0.0 name", 2,689 names
        ("urlhaus-filter/urlhaus-filter-hosts.txt", {"domain": 2_689}),
        ("urlhaus-filter/urlhaus-filter-domains.txt", {"domain": 2_689, "ipv4": 23_079}),
        # adblock format: "!" comments, 3,510 "||host/path^$all" lines and bare hosts
        ("urlhaus-filter/urlhaus-filter-online.txt", {"domain": 620, "ipv4": 2_234,
                                                      "url": 3_509}),
        ("eset-malware-ioc/agrius_samples.md5", {"md5": 7}),
        ("eset-malware-ioc/agrius_samples.sha1", {"sha1": 7}),
        ("eset-malware-ioc/agrius_samples.sha256", {"sha256": 7}),
    ],
)
def test_real_feed_counts(shared_data: Path, relative: str, counts: dict[str, int]) -> None:
    builder = build(shared_data / "feeds" / relative)
    assert builder.rejected == 0, builder.reject_samples
    assert dict(builder.counts) == counts


def test_c2_iocs_known_true_hits(shared_data: Path) -> None:
    snapshot = build_memory_snapshot(
        build(shared_data / "feeds" / "neo23x0-signature-base" / "c2-iocs.txt"), version=1
    )
    for name in ("drivres-update.info", "softupdates.info"):
        verdict = snapshot.lookup(name)
        assert [(m.how, m.pattern) for m in verdict.matches] == [("exact", name)]
        assert verdict.matches[0].feed == "c2-iocs.txt"
        assert [m.explain() for m in snapshot.lookup(f"dl.{name}").matches] == [
            f"parent-domain {name}"
        ]
        assert [m.explain() for m in snapshot.lookup(f"www.cdn.{name.upper()}.").matches] == [
            f"parent-domain {name}"
        ]
    assert [m.explain() for m in snapshot.lookup("http://softupdates.info/x").matches] == [
        "url-host exact softupdates.info"
    ]
    assert [m.explain() for m in snapshot.lookup("hxxp://a.softupdates[.]info/x?y").matches] == [
        "url-host parent-domain softupdates.info"
    ]
    assert not snapshot.lookup("notsoftupdates.info").detected
    assert not snapshot.lookup("softupdates.info.example").detected


def test_threatfox_known_true_hit(shared_data: Path) -> None:
    snapshot = build_memory_snapshot(build(shared_data / "feeds" / "threatfox-ips" / "ips.txt"))
    verdict = snapshot.lookup("74.120.55.163")
    assert [(m.how, m.pattern, m.feed) for m in verdict.matches] == [
        ("exact", "74.120.55.163", "ips.txt")
    ]
    assert [m.explain() for m in snapshot.lookup("http://74.120.55.163/file76").matches] == [
        "url-host exact 74.120.55.163"
    ]
    assert snapshot.lookup("::ffff:74.120.55.163").detected


def test_ipsum_count_column_is_the_comment(shared_data: Path) -> None:
    path = shared_data / "feeds" / "ipsum" / "ipsum.txt"
    # read data lines independently of the parser: IP<TAB>number-of-blacklists
    with open(path, encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle
                if line.strip() and not line.startswith("#")]
    assert len(rows) == 120_430
    snapshot = build_memory_snapshot(build(path))
    for address, count in (rows[0], rows[len(rows) // 2], rows[-1]):
        [match] = snapshot.lookup(address).matches
        assert match.context == {"comment": count}
        assert match.category == "ipsum"
        assert match.feed == "ipsum.txt"


def test_hash_iocs_comment_kept(shared_data: Path) -> None:
    path = shared_data / "feeds" / "neo23x0-signature-base" / "hash-iocs.txt"
    with open(path, encoding="utf-8") as handle:
        first = next(line for line in handle if line.strip() and not line.startswith("#"))
    digest, _, comment = first.rstrip("\n").partition(";")
    snapshot = build_memory_snapshot(build(path))
    matches = snapshot.lookup(digest.upper()).matches
    assert matches
    assert matches[0].pattern == digest.lower()
    assert matches[0].context.get("comment") == comment.strip()
