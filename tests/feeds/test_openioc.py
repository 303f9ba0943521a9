"""OpenIOC 1.0 and 1.1: search terms, conditions, AND/OR, context, XML safety, malformed
files, and the real ESET Windigo file in ../shared/data/feeds/eset-malware-ioc."""

from __future__ import annotations

import re
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trapline.errors import FeedParseError
from trapline.feeds import openioc
from trapline.feeds.config import FeedConfig, feed_for_path
from trapline.feeds.openioc import AND_REASON, read_openioc
from trapline.feeds.report import FeedReport
from trapline.index import IndicatorRecord, SnapshotBuilder, build_memory_snapshot

KINDS = {"ipv4", "ipv6", "cidr", "domain", "url", "url-mask", "md5", "sha1", "sha256", "email"}
NS10 = "http://schemas.mandiant.com/2010/ioc"
NS11 = "http://openioc.org/schemas/OpenIOC_1.1"
MD5 = "f8e92d8b5488ea76c40601c8f1a08790"
SHA1 = "d5235d136cfcadbef431eea7253d80bde414db9d"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
IOC_ID = "5ce6b1e9-0000-4000-8000-000000000001"


def feed_of(path: Path, **settings: Any) -> FeedConfig:
    # format "auto": FeedConfig does not list "openioc" yet; the reader ignores the format
    return feed_for_path(path, **settings)


def read(path: Path, **settings: Any) -> tuple[list[IndicatorRecord], FeedReport]:
    report = FeedReport()
    return list(read_openioc(path, feed_of(path, **settings), report)), report


def item(search: str, content: str, condition: str | None = "is", *, id: str = "",
         negate: str | None = None, comment: str | None = None) -> str:
    attributes = f" id={quoteattr(id)}" if id else ""
    if condition is not None:
        attributes += f" condition={quoteattr(condition)}"
    if negate is not None:
        attributes += f" negate={quoteattr(negate)}"
    document = search.split("/", 1)[0]
    text = (f"<IndicatorItem{attributes}>"
            f"<Context document={quoteattr(document)} search={quoteattr(search)} type=\"mir\"/>"
            f"<Content type=\"string\">{escape(content)}</Content>")
    if comment is not None:
        text += f"<Comment>{escape(comment)}</Comment>"
    return text + "</IndicatorItem>\n"


def indicator(operator: str | None, *children: str) -> str:
    attribute = "" if operator is None else f" operator={quoteattr(operator)}"
    return f"<Indicator{attribute} id=\"i\">\n{''.join(children)}</Indicator>\n"


def ioc10(*children: str, namespace: str = NS10, short: str = "Test IOC",
          author: str = "Analyst") -> str:
    xmlns = f" xmlns={quoteattr(namespace)}" if namespace else ""
    return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
            f"<ioc{xmlns} id=\"{IOC_ID}\" last-modified=\"2014-03-21T15:58:14\">\n"
            f"<short_description>{escape(short)}</short_description>\n"
            f"<description>A long description</description>\n"
            f"<authored_by>{escape(author)}</authored_by>\n"
            f"<authored_date>2014-03-18T20:23:23</authored_date>\n<links />\n"
            f"<definition>\n{''.join(children)}</definition>\n</ioc>\n")


def ioc11(*children: str, params: str = "") -> str:
    return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
            f"<OpenIOC xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
            f"id=\"{IOC_ID}\" last-modified=\"2015-12-18T19:02:58Z\" xmlns=\"{NS11}\">\n"
            f"<metadata><short_description>Version 1.1</short_description>"
            f"<authored_by>william</authored_by><links/></metadata>\n"
            f"<criteria>\n{''.join(children)}</criteria>\n"
            f"<parameters>{params}</parameters>\n</OpenIOC>\n")


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def built(records: list[IndicatorRecord]) -> SnapshotBuilder:
    builder = SnapshotBuilder()
    builder.add_all(records)
    assert builder.rejected == 0, builder.reject_samples
    return builder


# -- search terms and kinds -------------------------------------------------------------------


TERMS = [  # (search, content, kind of the record)
    ("FileItem/Md5sum", MD5, "md5"),
    ("FileItem/Sha1sum", SHA1, "sha1"),
    ("FileItem/Sha256sum", SHA256, "sha256"),
    ("ProcessItem/Md5sum", MD5.upper(), "md5"),
    ("DriverItem/Md5sum", MD5, "md5"),
    ("ServiceItem/serviceDLLmd5sum", MD5, "md5"),
    ("ServiceItem/serviceDLLsha1sum", SHA1, "sha1"),
    ("TaskItem/sha256sum", SHA256, "sha256"),
    ("Network/DNS", "evil.example", "domain"),
    ("Network/DNS", "198.51.100.5", "cidr"),  # an address in DNS traffic: a DNS answer
    ("DnsEntryItem/Host", "c2.evil.example", "domain"),
    ("DnsEntryItem/RecordName", "rr.evil.example", "domain"),
    ("DnsEntryItem/RecordData/Host", "cname.evil.example", "domain"),
    ("DnsEntryItem/RecordData/IPv4Address", "198.51.100.6", "cidr"),
    ("UrlHistoryItem/HostName", "visited.example", "domain"),
    ("Network/URI", "http://evil.example/gate.php", "url"),
    ("UrlHistoryItem/URL", "https://evil.example/a?b=1", "url"),
    ("FileDownloadHistoryItem/SourceURL", "http://dl.example/x.exe", "url"),
    ("PortItem/remoteIP", "198.51.100.1", "cidr"),
    ("ProcessItem/PortList/PortItem/remoteIP", "2001:db8::1", "cidr"),
    ("RouteEntryItem/Destination", "203.0.113.0/24", "cidr"),
    ("Email/ReceivedFromIP", "198.51.100.2", "cidr"),
    ("Network/IP", "198.51.100.3", "cidr"),
    ("Email/From", "phish@evil.example", "email"),
    ("Network/String", "198.51.100.4", "cidr"),
]


def test_search_terms_and_kinds(tmp_path: Path) -> None:
    items = [item(search, content) for search, content, _ in TERMS]
    records, report = read(write(tmp_path / "t.ioc", ioc10(indicator("OR", *items))))
    assert report.skipped_total == 0
    assert [(r.context["search"], r.value, r.kind) for r in records] == TERMS
    assert built(records).counts == {"md5": 4, "sha1": 2, "sha256": 2, "domain": 5, "url": 3,
                                     "ipv4": 6, "ipv6": 1, "cidr": 1, "email": 1}


def test_search_terms_ignore_case_and_spaces(tmp_path: Path) -> None:
    items = [item("fileitem/MD5SUM", MD5), item("network/dns ", "evil.example")]
    records, _ = read(write(tmp_path / "t.ioc", ioc10(indicator("OR", *items))))
    assert [(r.kind, r.context["search"]) for r in records] == [
        ("md5", "fileitem/MD5SUM"), ("domain", "network/dns")]


def test_value_is_the_content_text(tmp_path: Path) -> None:
    # Whitespace around the text is XML layout; the rest is left to the snapshot builder.
    items = [item("FileItem/Sha1sum", f"\r\n  {SHA1.upper()} "),
             item("Network/DNS", "evil[.]example"),
             item("FileItem/Md5sum", "not a hash")]
    records, report = read(write(tmp_path / "t.ioc", ioc10(indicator("OR", *items))))
    assert [r.value for r in records] == [SHA1.upper(), "evil[.]example", "not a hash"]
    assert report.skipped_total == 0
    builder = SnapshotBuilder()
    assert builder.add_all(records) == 2
    assert builder.rejected == 1  # counted by the builder, as for every feed


def test_unsupported_terms_and_missing_parts(tmp_path: Path) -> None:
    items = [
        item("FileItem/FileName", "dropper.exe"),
        item("RegistryItem/Path", "HKLM\\Software\\x"),
        item("ProcessItem/HandleList/Handle/Name", "mutex"),
        item("Snort/Snort", "alert tcp any any -> any any (msg:\"x\";)", "contains"),
        item("Network/UserAgent", "Mozilla/4.0", "contains"),
        item("FileItem/Md5sum", "   "),
        item("", "evil.example"),
        "<IndicatorItem condition=\"is\"><Content>evil.example</Content></IndicatorItem>",
        "<IndicatorItem condition=\"is\"><Context search=\"Network/DNS\"/></IndicatorItem>",
        item("Network/DNS", "kept.example"),
    ]
    records, report = read(write(tmp_path / "t.ioc", ioc10(indicator("OR", *items))))
    assert [r.value for r in records] == ["kept.example"]
    assert dict(report.skipped) == {
        "unsupported search term FileItem/FileName": 1,
        "unsupported search term RegistryItem/Path": 1,
        "unsupported search term ProcessItem/HandleList/Handle/Name": 1,
        "unsupported search term Snort/Snort": 1,
        "unsupported search term Network/UserAgent": 1,
        "item without content": 2,
        "item without a search term": 2,
    }
    assert report.samples[0] == "unsupported search term FileItem/FileName: " \
                                "FileItem/FileName is dropper.exe"


def test_unsupported_reasons_are_bounded(tmp_path: Path) -> None:
    items = [item(f"Term{i}/X", "v") for i in range(300)]
    _, report = read(write(tmp_path / "t.ioc", ioc10(indicator("OR", *items))))
    assert report.skipped_total == 300
    assert len(report.skipped) == 201
    assert report.skipped["unsupported search term (others)"] == 100


# -- conditions and negation -----------------------------------------------------------------


def test_conditions(tmp_path: Path) -> None:
    items = [
        item("Network/DNS", "is.example", "is"),
        item("Network/DNS", "upper.example", "IS"),
        item("Network/DNS", "nocondition.example", None),  # no condition: read as "is"
        item("Network/DNS", "matches.example", "matches"),
        item("Network/DNS", "starts.example", "starts-with"),
        item("Network/DNS", "ends.example", "ends-with"),
        item("Network/DNS", "10", "greater-than"),
        item("Network/DNS", "x.example", "like"),
    ]
    records, report = read(write(tmp_path / "t.ioc", ioc10(indicator("OR", *items))))
    assert [r.value for r in records] == ["is.example", "upper.example", "nocondition.example"]
    assert all("condition" not in r.context for r in records)
    assert dict(report.skipped) == {"unsupported condition matches": 1,
                                    "unsupported condition starts-with": 1,
                                    "unsupported condition ends-with": 1,
                                    "unsupported condition greater-than": 1,
                                    "unsupported condition like": 1}


def test_contains_reads_whole_values_only(tmp_path: Path) -> None:
    items = [
        item("Network/DNS", "evil.example", "contains"),
        item("Network/DNS", "evil", "contains"),                   # a part of a name
        item("Network/DNS", "198.51.100.8", "contains"),
        item("Network/URI", "host.example", "contains"),           # a host: its domain
        item("Network/URI", "198.51.100.9", "contains"),           # an address host
        item("Network/URI", "http://evil.example/gate.php", "contains"),
        item("Network/URI", "/gate.php", "contains"),              # a path alone
        item("Network/URI", "?id=1&cmd=", "contains"),
        item("FileItem/Md5sum", MD5, "contains"),
        item("FileItem/Md5sum", MD5[:12], "contains"),
        item("PortItem/remoteIP", "203.0.113.0/24", "contains"),
        item("PortItem/remoteIP", "203.0.113.", "contains"),
        item("Email/From", "phish@evil.example", "contains"),
        item("Email/From", "@evil.example", "contains"),
        item("Network/String", "198.51.100.10", "contains"),
        item("Network/String", "evil.example", "contains"),       # strings: addresses only
        item("Network/String", "evil.example", "is"),
    ]
    records, report = read(write(tmp_path / "t.ioc", ioc10(indicator("OR", *items))))
    assert [(r.value, r.kind) for r in records] == [
        ("evil.example", "domain"),
        ("198.51.100.8", "cidr"),
        ("host.example", "domain"),
        ("198.51.100.9", "cidr"),
        ("http://evil.example/gate.php", "url"),
        (MD5, "md5"),
        ("203.0.113.0/24", "cidr"),
        ("phish@evil.example", "email"),
        ("198.51.100.10", "cidr"),
    ]
    assert all(r.context["condition"] == "contains" for r in records)
    assert dict(report.skipped) == {
        "contains: not a whole domain": 1,
        "contains: not a whole URL or host": 2,
        "contains: not a whole md5": 1,
        "contains: not a whole IP address": 1,
        "contains: not a whole email": 1,
        "Network/String: not an IP address": 2,
    }
    # "the URI contains host.example" is met by any URL on host.example and its subdomains
    snapshot = build_memory_snapshot(records)
    assert snapshot.lookup("http://host.example/any/path").detected
    assert snapshot.lookup("https://www.a.host.example/x").detected
    assert not snapshot.lookup("http://nothost.example/").detected


def test_negated_items(tmp_path: Path) -> None:
    items = [
        item("Network/DNS", "isnot.example", "isnot"),              # OpenIOC 1.0
        item("Network/DNS", "containsnot.example", "containsnot"),
        item("Network/DNS", "negated.example", "is", negate="true"),  # OpenIOC 1.1
        item("Network/DNS", "one.example", "is", negate="1"),
        item("Network/DNS", "read.example", "is", negate="false"),
    ]
    records, report = read(write(tmp_path / "t.ioc", ioc10(indicator("OR", *items))))
    assert [r.value for r in records] == ["read.example"]
    assert dict(report.skipped) == {"negated item": 4}


# -- AND / OR -------------------------------------------------------------------------------------


def test_and_or_structure(tmp_path: Path) -> None:
    document = ioc10(indicator(
        "OR",
        item("Network/DNS", "a.example"),
        indicator("AND", item("FileItem/FileName", "x.exe"), item("FileItem/Md5sum", MD5)),
        indicator("OR", item("Network/DNS", "b.example"),
                  indicator("AND", indicator("OR", item("Network/DNS", "c.example")))),
        indicator("or", item("Network/DNS", "d.example")),
        indicator("XOR", item("Network/DNS", "e.example")),
        indicator(None, item("Network/DNS", "f.example")),
        item("Network/DNS", "g.example"),
    ))
    records, report = read(write(tmp_path / "t.ioc", document))
    assert [r.value for r in records] == ["a.example", "b.example", "d.example", "g.example"]
    assert dict(report.skipped) == {AND_REASON: 3,
                                    "unsupported indicator operator 'XOR'": 1,
                                    "unsupported indicator operator ''": 1}
    # an AND skips whatever its items are: negated or unsupported ones too
    assert report.samples[0] == f"{AND_REASON}: FileItem/FileName is x.exe"


def test_top_level_and(tmp_path: Path) -> None:
    document = ioc10(indicator("AND", item("Network/DNS", "a.example"),
                               item("PortItem/remoteIP", "198.51.100.1")))
    records, report = read(write(tmp_path / "t.ioc", document))
    assert records == []
    assert dict(report.skipped) == {AND_REASON: 2}


def test_deep_nesting_is_linear(tmp_path: Path) -> None:
    depth = 20_000
    document = ioc10("<Indicator operator=\"AND\">" + "<Indicator operator=\"OR\">" * depth
                     + item("Network/DNS", "deep.example") * 200
                     + "</Indicator>" * (depth + 1) + item("Network/DNS", "top.example"))
    records, report = read(write(tmp_path / "t.ioc", document))
    assert [r.value for r in records] == ["top.example"]
    assert dict(report.skipped) == {AND_REASON: 200}


# -- context --------------------------------------------------------------------------------------


def test_context_1_0(tmp_path: Path) -> None:
    document = ioc10(indicator(
        "OR",
        item("Network/DNS", "evil.example", id="item-1", comment="C&C\n  server"),
        item("FileItem/Md5sum", MD5, id="item-2"),
    ), short="Operation  X\n", author="A. Analyst")
    path = write(tmp_path / "x.ioc", document)
    first, second = read(path)[0]
    assert first.context == {"ioc": "Operation X", "ioc_id": IOC_ID, "author": "A. Analyst",
                             "search": "Network/DNS", "comment": "C&C server"}
    assert second.context == {"ioc": "Operation X", "ioc_id": IOC_ID, "author": "A. Analyst",
                              "search": "FileItem/Md5sum"}
    assert msgspec.json.decode(msgspec.json.encode(first.context)) == first.context
    assert (first.feed, first.category, first.allow) == ("x.ioc", "x", False)
    assert (first.first_seen, first.last_seen, first.valid_until) == (None, None, None)
    report = FeedReport()
    [record, _] = read_openioc(path, feed_of(path, allow=True, name="good", category="ok"),
                               report)
    assert (record.feed, record.category, record.allow) == ("good", "ok", True)


def test_context_without_metadata(tmp_path: Path) -> None:
    document = f"<ioc xmlns=\"{NS10}\"><definition>{indicator('OR', item('Network/DNS', 'a.b'))}" \
               "</definition></ioc>"
    [record], _ = read(write(tmp_path / "x.ioc", document))
    assert record.context == {"search": "Network/DNS"}


def test_openioc_1_1(tmp_path: Path) -> None:
    params = ("<param id=\"p1\" ref-id=\"item-1\" name=\"comment\" type=\"string\">"
              "<value>C&amp;C domain</value></param>"
              "<param id=\"p2\" ref-id=\"item-2\" name=\"score\"><value>80</value></param>"
              "<param id=\"p3\" ref-id=\"item-1\" name=\"comment\"><value>second</value></param>")
    document = ioc11(indicator(
        "OR",
        item("Network/DNS", "evil.example", id="item-1"),
        item("FileItem/Md5sum", MD5, id="item-2"),
        item("FileItem/FileName", "foo|duck.exe", "matches"),
        item("Network/DNS", "not.example", negate="true"),
        item("Network/URI", "evil.example/x", "starts-with"),
        indicator("AND", item("FileItem/SizeInBytes", "1000", "greater-than"),
                  item("FileItem/Sha256sum", SHA256)),
    ), params=params)
    records, report = read(write(tmp_path / "v11.ioc", document))
    assert [(r.value, r.kind, r.context) for r in records] == [
        ("evil.example", "domain", {"ioc": "Version 1.1", "ioc_id": IOC_ID,
                                    "author": "william", "search": "Network/DNS",
                                    "comment": "C&C domain"}),
        (MD5, "md5", {"ioc": "Version 1.1", "ioc_id": IOC_ID, "author": "william",
                      "search": "FileItem/Md5sum"}),
    ]
    assert dict(report.skipped) == {"unsupported search term FileItem/FileName": 1,
                                    "negated item": 1, "unsupported condition starts-with": 1,
                                    AND_REASON: 2}


@pytest.mark.parametrize("namespace", [NS10, ""])
def test_namespaces_read_alike(tmp_path: Path, namespace: str) -> None:
    document = ioc10(indicator("OR", item("Network/DNS", "evil.example", comment="c")),
                     namespace=namespace)
    [record], _ = read(write(tmp_path / "x.ioc", document))
    assert record.context == {"ioc": "Test IOC", "ioc_id": IOC_ID, "author": "Analyst",
                              "search": "Network/DNS", "comment": "c"}


def test_prefixed_namespace_and_foreign_elements(tmp_path: Path) -> None:
    document = (f"<o:OpenIOC xmlns:o=\"{NS11}\" xmlns:x=\"urn:other\" id=\"p\"><o:criteria>"
                "<o:Indicator operator=\"OR\">"
                "<o:IndicatorItem condition=\"is\"><o:Context search=\"Network/DNS\"/>"
                "<o:Content>prefixed.example</o:Content></o:IndicatorItem>"
                "<x:IndicatorItem condition=\"is\"><x:Context search=\"Network/DNS\"/>"
                "<x:Content>foreign.example</x:Content></x:IndicatorItem>"
                "<IndicatorItem condition=\"is\"><Context search=\"Network/DNS\"/>"
                "<Content>unqualified.example</Content></IndicatorItem>"
                "</o:Indicator></o:criteria></o:OpenIOC>")
    records, report = read(write(tmp_path / "x.ioc", document))
    assert [r.value for r in records] == ["prefixed.example"]
    assert report.skipped_total == 0  # elements of other namespaces are not OpenIOC items


# -- XML safety ---------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE ioc [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ioc xmlns="http://schemas.mandiant.com/2010/ioc"><short_description>&lol9;</short_description>
<definition><Indicator operator="OR"><IndicatorItem condition="is">
<Context search="Network/DNS"/><Content>&lol9;.example</Content></IndicatorItem>
</Indicator></definition></ioc>
"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE ioc [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ioc xmlns="http://schemas.mandiant.com/2010/ioc"><short_description>&xxe;</short_description>
<definition><Indicator operator="OR"><IndicatorItem condition="is">
<Context search="Network/DNS"/><Content>&xxe;</Content></IndicatorItem>
<IndicatorItem condition="is"><Context search="Network/DNS"/><Content>ok.example</Content>
</IndicatorItem></Indicator></definition></ioc>
"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE ioc SYSTEM "file:///etc/passwd">
<ioc><definition/></ioc>
"""
PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE ioc [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>
<ioc><definition/></ioc>
"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, XXE, EXTERNAL_DTD, PARAMETER_ENTITY],
                         ids=["billion-laughs", "xxe", "external-dtd", "parameter-entity"])
def test_dtds_and_entities_are_refused(tmp_path: Path, document: str) -> None:
    path = write(tmp_path / "evil.ioc", document)
    report = FeedReport()
    records: list[IndicatorRecord] = []
    with pytest.raises(FeedParseError, match=r"^evil.ioc: XML with a DTD .* refused") as caught:
        records.extend(read_openioc(path, feed_of(path), report))
    assert records == []
    assert report.skipped_total == 0 and report.samples == []
    passwd = Path("/etc/passwd")
    lines = passwd.read_text().splitlines() if passwd.is_file() else ["root:x:0:0"]
    message = str(caught.value)
    assert "lollol" not in message
    assert not any(line and line in message for line in lines)
    assert "root:" not in message


def test_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "big.ioc", ioc10(indicator("OR", item("Network/DNS", "a.example"))))
    assert len(read(path)[0]) == 1
    monkeypatch.setattr(openioc, "MAX_BYTES", path.stat().st_size - 1)
    with pytest.raises(FeedParseError, match=r"^big.ioc: larger than"):
        read(path)


def test_elements_are_dropped_once_read(tmp_path: Path) -> None:
    items = [item("PortItem/remoteIP", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                  id=f"5bbe5d1c-d100-42cc-bda4-{i:012d}", comment="C&C server")
             for i in range(20_000)]
    path = write(tmp_path / "big.ioc", ioc10(indicator("OR", *items)))
    del items
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_openioc(path, feed_of(path), FeedReport()))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 20_000
    size = path.stat().st_size
    assert peak < 2 * size + 2_000_000  # the file's bytes and little else (a tree: ~7x)


# -- malformed files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "malformed XML: no element found"),
        (b"not xml at all", "malformed XML: syntax error"),
        (b"{\"Event\": {}}", "malformed XML"),
            (ioc10(indicator("OR", item("Network/DNS", "a.example"))).encode()[:-40],
         "malformed XML: unclosed token"),
        (b"<ioc><definition></ioc>", "malformed XML: mismatched tag"),
        (b"<ioc/><ioc/>", "malformed XML: junk after document element"),
        (b"<ioc>\xff</ioc>", "malformed XML: not well-formed"),
        (b"<?xml version=\"1.0\" encoding=\"bogus\"?><ioc/>", "malformed XML"),
        (b"<?xml version=\"1.0\" encoding=\"rot13\"?><ioc/>", "malformed XML"),
        (b"<?xml version=\"1.0\" encoding=\"utf-7\"?><ioc/>", "malformed XML"),
        (b"<ioc>&undefined;</ioc>", "malformed XML: undefined entity"),
        (b"<stix:STIX_Package xmlns:stix=\"http://stix.mitre.org/stix-1\"/>",
         "not an OpenIOC document: the root element is '{http://stix.mitre.org/stix-1}"),
        (b"<html><body>Not found</body></html>", "not an OpenIOC document"),
        (b"<ioc xmlns=\"urn:something-else\"/>", "not an OpenIOC document"),
        (b"<OpenIOC xmlns=\"http://openioc.org/schemas/OpenIOC_1.0\"/>",
         "not an OpenIOC document"),
    ],
)
def test_malformed_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path / "bad.ioc", content)
    with pytest.raises(FeedParseError, match=f"^bad.ioc: {re.escape(message)}"):
        read(path)


def test_malformed_after_items_yields_nothing(tmp_path: Path) -> None:
    # Pass 1 reads the whole file first: a broken tail fails before any record.
    text = ioc10(indicator("OR", item("Network/DNS", "a.example"))).replace("</ioc>", "</io>")
    path = write(tmp_path / "bad.ioc", text)
    records: list[IndicatorRecord] = []
    with pytest.raises(FeedParseError, match="mismatched tag"):
        records.extend(read_openioc(path, feed_of(path), FeedReport()))
    assert records == []


def test_empty_documents(tmp_path: Path) -> None:
    assert read(write(tmp_path / "e.ioc", f"<ioc xmlns=\"{NS10}\"/>")) [0] == []
    assert read(write(tmp_path / "e.ioc", ioc11()))[0] == []


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FeedParseError, match=r"^nothing.ioc: cannot read"):
        read(tmp_path / "nothing.ioc")


def test_utf16_and_bom(tmp_path: Path) -> None:
    text = ioc10(indicator("OR", item("Network/DNS", "тест.example"))).replace(
        "encoding=\"utf-8\"", "encoding=\"utf-16\"")
    [record], _ = read(write(tmp_path / "u.ioc", text.encode("utf-16")))
    assert record.value == "тест.example"
    bom = b"\xef\xbb\xbf" + ioc10(indicator("OR", item("Network/DNS", "a.example"))).encode()
    assert len(read(write(tmp_path / "b.ioc", bom))[0]) == 1


# -- property: only records or FeedParseError ---------------------------------------------------


def check_only_records(path: Path, items: int | None = None) -> None:
    try:
        records, report = read(path)
    except FeedParseError as exc:
        assert str(exc).startswith(f"{path.name}: ")
        return
    for record in records:
        assert isinstance(record.value, str) and record.value.strip()
        assert record.kind in KINDS
        assert all(isinstance(v, str) and v for v in record.context.values())
        msgspec.json.encode(record.context)
    SnapshotBuilder().add_all(records)
    if items is not None:  # every item is accounted for: a record or a counted skip
        assert len(records) + report.skipped_total == items


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("openioc") / "bad.ioc"


@given(content=st.binary(max_size=300))
def test_any_bytes(scratch: Path, content: bytes) -> None:
    check_only_records(write(scratch, content))


@given(content=st.binary(max_size=300))
def test_any_bytes_after_an_ioc_start(scratch: Path, content: bytes) -> None:
    check_only_records(write(scratch, b"<?xml version=\"1.0\"?><ioc>" + content))


TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=24)
SEARCHES = st.sampled_from([search for search, _, _ in TERMS]
                           + ["FileItem/FileName", "Snort/Snort", ""]) | TEXT
CONTENTS = st.sampled_from(["evil.example", "198.51.100.7", "2001:db8::/32", MD5, SHA1, SHA256,
                            "http://evil.example/gate.php", "/gate.php", "a@evil.example",
                            "evil", "*.evil.example", " ", ""]) | TEXT
CONDITIONS = st.sampled_from(["is", "contains", "isnot", "containsnot", "matches",
                              "starts-with", "IS", "not", ""]) | TEXT
ITEMS = st.builds(
    lambda search, content, condition, negate, comment: (
        item(search, content, condition, negate=negate, comment=comment), 1),
    SEARCHES, CONTENTS, st.none() | CONDITIONS, st.none() | st.sampled_from(["true", "1", "x"]),
    st.none() | TEXT)


def _indicator(operator: str | None, children: list[tuple[str, int]]) -> tuple[str, int]:
    return indicator(operator, *(text for text, _ in children)), sum(n for _, n in children)


TREES = st.recursive(
    ITEMS,
    lambda inner: st.builds(_indicator, st.none() | st.sampled_from(["OR", "AND", "or", "x"]),
                            st.lists(inner, max_size=4)),
    max_leaves=12,
)


@given(tree=TREES, version=st.sampled_from(["1.0", "1.1", "none"]))
def test_any_openioc_document(scratch: Path, tree: tuple[str, int], version: str) -> None:
    text, items = tree
    document = ioc11(text) if version == "1.1" else ioc10(
        text, namespace=NS10 if version == "1.0" else "")
    check_only_records(write(scratch, document), items)


# -- the real ESET Windigo file (../shared/data/feeds/eset-malware-ioc) ---------------------------

# Independent check of the counts below, with grep rather than an XML parser:
#   grep -c '<IndicatorItem ' windigo_windigo.ioc                      -> 205
#   grep -o 'search="[^"]*"' windigo_windigo.ioc | sort | uniq -c
#     -> 68 FileItem/Sha1sum, 61 Network/DNS, 58 Network/URI, 3 Network/String, 15 Snort/Snort
#   grep -o 'condition="[^"]*"' windigo_windigo.ioc | sort | uniq -c   -> 68 is, 137 contains
#     (the Sha1sum items are "is", every other item "contains")
#   grep -A1 'search="Network/DNS"' windigo_windigo.ioc | grep -cE '>[0-9.]+<' -> 3 addresses
#     (77.67.80.31, 85.214.80.4, 94.23.208.20: the three Network/String items too)
# No item is negated and the one Indicator is an OR. The URI items hold bare host names.
WINDIGO_COUNTS = {
    ("sha1", "FileItem/Sha1sum"): 68,
    ("domain", "Network/DNS"): 58,
    ("cidr", "Network/DNS"): 3,
    ("domain", "Network/URI"): 58,
    ("cidr", "Network/String"): 3,
}
_RAW_ITEM = re.compile(r'<IndicatorItem [^>]*condition="(\w+)"[^>]*>\s*<Context [^>]*'
                       r'search="([^"]+)"[^>]*/>\s*<Content [^>]*>([^<]*)</Content>')


@pytest.fixture(scope="module")
def windigo(shared_data: Path) -> Path:
    return shared_data / "feeds" / "eset-malware-ioc" / "windigo_windigo.ioc"


def test_windigo_counts(windigo: Path) -> None:
    records, report = read(windigo)
    assert Counter((r.kind, r.context["search"]) for r in records) == WINDIGO_COUNTS
    assert dict(report.skipped) == {"unsupported search term Snort/Snort": 15}
    assert built(records).counts == {"sha1": 68, "domain": 116, "ipv4": 6}
    # the same, derived from the raw text with a regular expression instead of XML
    raw = _RAW_ITEM.findall(windigo.read_text(encoding="ascii"))
    assert len(raw) == 205 == len(records) + report.skipped_total
    expected: Counter[tuple[str, str]] = Counter()
    for condition, search, content in raw:
        if search == "Snort/Snort":
            continue
        address = re.fullmatch(r"\d+\.\d+\.\d+\.\d+", content) is not None
        kind = "sha1" if search == "FileItem/Sha1sum" else "cidr" if address else "domain"
        assert condition == ("is" if kind == "sha1" else "contains")
        assert "/" not in content
        expected[kind, search] += 1
    assert expected == WINDIGO_COUNTS
    assert {r.value for r in records if r.kind == "sha1"} == {
        content.strip() for _, search, content in raw if search == "FileItem/Sha1sum"}


def test_windigo_context_and_lookups(windigo: Path) -> None:
    records, _ = read(windigo)
    by_search = {r.context["search"]: r for r in records}
    assert by_search["FileItem/Sha1sum"].context == {
        "ioc": "Operation Windigo", "ioc_id": "ec3b97c8-5de7-444d-9bd9-8f868ca04748",
        "author": "David Westcott", "search": "FileItem/Sha1sum"}
    assert by_search["Network/DNS"].context["condition"] == "contains"
    assert records[0].feed == "windigo_windigo.ioc"
    assert records[0].category == "windigo_windigo"

    snapshot = build_memory_snapshot(records)
    [match] = snapshot.lookup("7314EADBDF18DA424C4D8510AFCC9FE5FCB56B39").matches  # trailing
    assert match.feed == "windigo_windigo.ioc"                                    # space in file
    assert match.context["ioc"] == "Operation Windigo"
    assert {m.context["search"] for m in snapshot.lookup("k2l8z1yeodm.info").matches} == {
        "Network/DNS", "Network/URI"}
    assert [m.explain() for m in snapshot.lookup("http://x.k2l8z1yeodm.info/a").matches] == [
        "url-host parent-domain k2l8z1yeodm.info"] * 2
    assert {m.context["search"] for m in snapshot.lookup("85.214.80.4").matches} == {
        "Network/DNS", "Network/String"}
    assert not snapshot.lookup("k2l8z1yeodm.info.example").detected
    assert not snapshot.lookup("github.com").detected
