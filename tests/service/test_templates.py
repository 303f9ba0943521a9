"""Output templates: every placeholder, escaping, context flattening, config errors."""

from __future__ import annotations

import calendar
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trapline.alerts import Alert
from trapline.errors import ConfigError
from trapline.index.verdict import Match
from trapline.service.templates import (
    EventIds,
    Renderer,
    Templates,
    context_pairs,
    escape_name,
    escape_value,
    templates_from_config,
)

# 2024-04-16 09:05:41 UTC, the vendor's alert example
APR16 = calendar.timegm((2024, 4, 16, 9, 5, 41))


def match(**changes: object) -> Match:
    fields: dict[str, object] = dict(
        how="parent-domain", pattern="evil.example", feed="Demo_URL_Feed.json",
        category="KL_Malicious_URL", context={"popularity": 5, "geo": "us"}, via="url-host")
    fields.update(changes)
    return Match(**fields)  # type: ignore[arg-type]


def utc(**templates: object) -> Renderer:
    return Renderer(templates_from_config({"date_utc": True, **templates}))


def test_default_detection_is_the_integration_guides() -> None:
    line = Renderer().detection(match(), observable="http://a.evil.example/x")
    assert line == ("Category=KL_Malicious_URL|MatchedIndicator=evil.example"
                    "|popularity=5|geo=us")


def test_lifecycle_fields_join_the_record_context() -> None:
    line = Renderer().detection(match(context={}, first_seen=APR16, confidence=80),
                                observable="x")
    assert line.endswith("|first_seen=2024-04-16T09:05:41Z|confidence=80")


def test_the_vendor_alert_example_exactly() -> None:
    alert = Alert("KL_ALERT_UpdatedFeed",
                  {"feed": "Phishing_URL_Data_Feed.json", "records": "200473"}, time=APR16)
    assert utc().alert(alert) == ("Apr 16 09:05:41 alert=KL_ALERT_UpdatedFeed "
                                  "feed=Phishing_URL_Data_Feed.json records=200473")


def test_an_alert_without_fields_and_a_local_date() -> None:
    stamp = time.mktime((2024, 1, 5, 7, 8, 9, 0, 0, -1))
    assert Renderer().alert(Alert("KL_ALERT_ServiceStarted", time=stamp)) == (
        "Jan 05 07:08:09 alert=KL_ALERT_ServiceStarted")


def test_every_detection_placeholder() -> None:
    renderer = utc(detection="%Date%|%Category%|%MatchedIndicator%|%SourceId%|%IndicatorInfo%"
                   "|%ActionableFields%|%RE_URL%|%RE_IP%|%RE_NONE%|%Feed%|%Observable%|%REQ%"
                   "|%EventId%%RecordContext%")
    line = renderer.detection(
        match(), observable="http://a.evil.example/x", source_id="10.0.0.5:41000",
        captures={"URL": ["http://a.evil.example/x", "http://b/"], "IP": ["192.0.2.1"]},
        request_id="req-7", event_id="w1-abc-1", now=APR16)
    assert line == (
        "Apr 16 09:05:41|KL_Malicious_URL|evil.example|10.0.0.5:41000"
        "|url-host parent-domain evil.example from Demo_URL_Feed.json"
        "|URL:http://a.evil.example/x,URL:http://b/,IP:192.0.2.1"
        "|http://a.evil.example/x,http://b/|192.0.2.1||Demo_URL_Feed.json"
        "|http://a.evil.example/x|req-7|w1-abc-1|popularity=5|geo=us")
    assert renderer.capture_names == {"URL", "IP", "NONE"}


def test_event_id_made_when_not_given() -> None:
    renderer = Renderer(Templates(detection="%EventId%"))
    first = renderer.detection(match(), observable="x")
    second = renderer.detection(match(), observable="x")
    assert first != second and re.fullmatch(r"\d+-[0-9a-z]+-[0-9a-f]+", first)


def test_ha_mode_prefixes_every_reply_line_with_the_request_id() -> None:
    renderer = Renderer()
    detection = renderer.detection(match(), observable="x", request_id="42")
    assert detection.startswith("42 Category=KL_Malicious_URL|")
    assert renderer.finished(1, {"KL_Malicious_URL": 1}, request_id="42") == "42 LookupFinished"
    # a template that places %REQ% itself is not prefixed twice
    placed = Renderer(Templates(detection="%REQ%:%Category%", finished="%REQ% LookupFinished"))
    assert placed.detection(match(), observable="x", request_id="42") == "42:KL_Malicious_URL"
    assert placed.finished(0, {}, request_id="42") == "42 LookupFinished"
    assert placed.detection(match(), observable="x") == ":KL_Malicious_URL"


def test_finished_line_and_its_record_context() -> None:
    assert Renderer().finished(0, {}) == "LookupFinished"
    renderer = Renderer(Templates(finished="LookupFinished%RecordContext%"))
    assert renderer.finished(0, {}) == "LookupFinished|sent_events=0|total="
    assert renderer.finished(3, {"KL_Malicious_URL": 2, "KL_IP_Reputation": 1}) == (
        "LookupFinished|sent_events=3|total=KL_Malicious_URL:2;KL_IP_Reputation:1;")


def test_custom_item_templates_and_separator() -> None:
    renderer = Renderer(Templates(
        detection="%Category%%RecordContext% [%ActionableFields%]",
        context_item=";%ParamValue%<-%ParamName%", actionable_item="%ParamName%=%ParamValue%",
        actionable_separator=" "))
    line = renderer.detection(match(), observable="x", captures={"URL": ["u1"], "IP": ["i1"]})
    assert line == "KL_Malicious_URL;5<-popularity;us<-geo [URL=u1 IP=i1]"
    braces = Renderer(Templates(detection="{%Category%} {0}", context_item="{}"))
    assert braces.detection(match(), observable="x") == "{KL_Malicious_URL} {0}"


def test_escaping_keeps_one_detection_on_one_line() -> None:
    nasty = "a|b\\c\nd\re\tf\x00g\x1bh\x7fi\x85j\u2028k\ud800l=m"
    line = Renderer().detection(match(pattern="evil.example/p|q", context={"note": nasty,
                                                                          "k|e=y\n": "v"}),
                                observable="x")
    assert line == ("Category=KL_Malicious_URL|MatchedIndicator=evil.example/p\\|q"
                    "|note=a\\|b\\\\c\\nd\\re\\tf\\x00g\\x1bh\\x7fi\\x85j\\u2028k\ufffdl=m"
                    "|k\\|e\\=y\\n=v")


def test_escape_functions() -> None:
    assert escape_value("plain text = ok") == "plain text = ok"
    assert escape_value("C:\\Windows|x") == "C:\\\\Windows\\|x"
    assert escape_name("a=b") == "a\\=b"
    assert escape_value("\ud83d") == "\ufffd"


def test_nested_context_is_flattened_never_raw_json() -> None:
    context = {
        "whois": {"country": "US", "registrar": {"name": "R1"}, "emails": ["a@x", "b@y"]},
        "files": [{"MD5": "m1", "size": 1}, {"MD5": "m2"}],
        "geo": ["de", "fr"], "empty": [], "none": None, "flag": True, "ratio": 0.5,
        "mixed": ["s", {"k": "v"}],
    }
    pairs = context_pairs(context)
    assert pairs == [("whois.country", "US"), ("whois.registrar.name", "R1"),
                     ("whois.emails", "a@x,b@y"), ("files.MD5", "m1,m2"), ("files.size", "1"),
                     ("geo", "de,fr"), ("flag", "true"), ("ratio", "0.5"), ("mixed", "s"),
                     ("mixed.k", "v")]
    line = Renderer().detection(match(context=context), observable="x")
    assert "|whois.country=US|" in line
    assert "[{" not in line and "}]" not in line and "{'" not in line


def test_deep_context_is_capped() -> None:
    deep: dict[str, object] = {"v": 1}
    for _ in range(20):
        deep = {"d": deep}
    (name, value), = context_pairs({"top": deep})
    assert value == "..." and name.count(".") == 8


@pytest.mark.parametrize(("table", "message"), [
    ({"detection": "Category=%Categroy%"}, "unknown placeholder %Categroy%"),
    ({"alert": "%Date% %Category%"}, "output.templates.alert: unknown placeholder %Category%"),
    ({"context_item": "|%Name%=%ParamValue%"}, "context_item: unknown placeholder %Name%"),
    ({"finished": "LookupFinished%Observable%"}, "finished: unknown placeholder"),
    ({"detection": "%RE_%"}, "unknown placeholder %RE_%"),
    ({"detection": "a\nb"}, "control characters"),
    ({"detections": "x"}, "unknown field `detections`"),
    ({"detection": 5}, "Expected `str`"),
    ({"actionable_separator": "\n"}, "actionable_separator"),
])
def test_config_errors_name_the_setting(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        templates_from_config(table)


def test_config_defaults_and_literal_percent() -> None:
    assert templates_from_config({}) == Templates()
    renderer = Renderer(templates_from_config({"detection": "100% %Category% 50%"}))
    assert renderer.detection(match(), observable="x") == "100% KL_Malicious_URL 50%"
    assert templates_from_config({"date_utc": "true"}).date_utc is True


def test_event_ids_are_unique_and_fit_an_rfc5424_msgid() -> None:
    ids = EventIds(9999999)
    seen = {ids() for _ in range(10_000)}
    assert len(seen) == 10_000
    assert all(len(i) <= 32 for i in seen)
    assert EventIds(1).prefix != EventIds(2).prefix


@given(st.text(), st.text(), st.dictionaries(st.text(), st.text() | st.integers()
                                             | st.lists(st.text(), max_size=3)))
def test_any_input_renders_one_clean_line(pattern: str, observable: str,
                                          context: dict[str, object]) -> None:
    renderer = Renderer(Templates(detection="%MatchedIndicator%|%Observable%%RecordContext%"))
    line = renderer.detection(match(pattern=pattern, context=context), observable=observable)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]", line)
    line.encode("utf-8")  # never raises: no lone surrogates


def test_rendering_speed() -> None:
    renderer = Renderer()
    m = match(context={"popularity": 5, "geo": "us", "first_seen": "19.05.2024 08:32",
                       "whois": {"country": "US"}})
    count = 20_000
    start = time.perf_counter()
    for _ in range(count):
        renderer.detection(m, observable="http://a.evil.example/x")
    rate = count / (time.perf_counter() - start)
    assert rate > 20_000, f"{rate:.0f} detections/s"
