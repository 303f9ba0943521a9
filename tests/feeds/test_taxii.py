"""The TAXII 2.1 client against a small real TAXII server on 127.0.0.1."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from local_http import LocalServer, RequestHandler, Seen, redirect, reply

from trapline.errors import FeedFetchError, FeedRefused
from trapline.feeds.bundles import BundleWriter, merge_bundles
from trapline.feeds.config import FeedConfig, HttpOptions
from trapline.feeds.http_fetch import SafeHttpClient
from trapline.feeds.report import FeedReport
from trapline.feeds.sources import fetch
from trapline.feeds.taxii import TAXII_MEDIA_TYPE, TaxiiClient, collection_url, fetch_taxii

COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
AUTH = "Basic " + base64.b64encode(b"trapline:taxii-pw").decode()


def indicator(n: int, modified: str = "2024-01-01T00:00:00.000Z", **extra: Any) -> dict:
    return {"type": "indicator", "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
            "created": "2024-01-01T00:00:00.000Z", "modified": modified,
            "pattern": f"[domain-name:value = 'evil{n}.example']", "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z", "confidence": 80, "x_score": 0.5, **extra}


class TaxiiServer:
    """Discovery, an API root, one collection; objects paged with ``more``/``next``.

    ``paging = "next"`` sends next tokens; ``"added_after"`` sends ``more`` without
    ``next`` (clients must page by X-TAXII-Date-Added-Last).
    """

    def __init__(self, http: LocalServer, paging: str = "next") -> None:
        self.http = http
        self.paging = paging
        self.gzip = False
        self.objects: list[tuple[str, dict]] = []   # (date_added, object), in added order
        self.root = http.url("/api1/")
        base = f"/api1/collections/{COLLECTION}/"
        for path, handler in {"/taxii2/": self.discovery, "/api1/": self.api_root,
                              "/api1/collections/": self.collections, base: self.collection,
                              base + "objects/": self.objects_page}.items():
            http.route(path, self.guarded(handler))

    @property
    def collection_url(self) -> str:
        return f"{self.root}collections/{COLLECTION}/"

    def add(self, obj: dict) -> None:
        self.objects.append((f"2024-02-01T00:00:{len(self.objects):02d}.000Z", obj))

    def guarded(self, handler):
        def run(req: RequestHandler) -> None:
            if req.headers.get("Authorization") != AUTH:
                reply(req, 401, b'{"title": "unauthorized"}', {"WWW-Authenticate": "Basic"})
            elif "application/taxii+json" not in req.headers.get("Accept", ""):
                reply(req, 406, b"")
            else:
                handler(req)
        return run

    def send(self, req: RequestHandler, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        extra = {"Content-Type": TAXII_MEDIA_TYPE, **(headers or {})}
        if self.gzip:
            data, extra["Content-Encoding"] = gzip.compress(data), "gzip"
        reply(req, 200, data, extra)

    def discovery(self, req: RequestHandler) -> None:
        self.send(req, {"title": "test", "default": "/api1/", "api_roots": ["/api1/"]})

    def api_root(self, req: RequestHandler) -> None:
        self.send(req, {"title": "API 1", "versions": [TAXII_MEDIA_TYPE],
                        "max_content_length": 10_000_000})

    def collections(self, req: RequestHandler) -> None:
        self.send(req, {"collections": [{"id": COLLECTION, "title": "Indicators",
                                         "can_read": True, "can_write": False}]})

    def collection(self, req: RequestHandler) -> None:
        self.send(req, {"id": COLLECTION, "title": "Indicators", "can_read": True})

    def objects_page(self, req: RequestHandler) -> None:
        query = Seen("GET", req.path, {}).query
        limit = int(query.get("limit", "100"))
        matching = [(d, o) for d, o in self.objects if d > query.get("added_after", "")]
        start = int(query.get("next", "0")) if self.paging == "next" else 0
        page = matching[start:start + limit]
        more = start + limit < len(matching)
        body: dict[str, Any] = {"more": more, "objects": [o for _, o in page]}
        if more and self.paging == "next":
            body["next"] = str(start + limit)
        headers = {}
        if page:
            headers = {"X-TAXII-Date-Added-First": page[0][0],
                       "X-TAXII-Date-Added-Last": page[-1][0]}
        if not page:
            body.pop("objects")
        self.send(req, body, headers)


@pytest.fixture
def http():
    with LocalServer() as running:
        yield running


@pytest.fixture
def taxii(http: LocalServer) -> TaxiiServer:
    server = TaxiiServer(http)
    for n in range(7):
        server.add(indicator(n))
    return server


def taxii_feed(source: str, **http: Any) -> FeedConfig:
    options = {"username": "trapline", "password": "taxii-pw", "allow_private": True,
               "timeout": 30.0, **http}
    return FeedConfig(source=source, format="taxii", http=HttpOptions(**options))


def bundle_ids(path: Path) -> list[str]:
    bundle = json.loads(path.read_text())
    assert bundle["type"] == "bundle" and bundle["id"].startswith("bundle--")
    return [obj["id"] for obj in bundle["objects"]]


def objects_queries(http: LocalServer) -> list[dict[str, str]]:
    return [seen.query for seen in http.requests if "/objects/" in seen.path]


def test_discovery_api_root_and_collections(taxii: TaxiiServer) -> None:
    options = HttpOptions(username="trapline", password="taxii-pw", allow_private=True)
    with SafeHttpClient(options) as http:
        client = TaxiiClient(http)
        found = client.discovery(taxii.http.url("/taxii2/"))
        assert found["default"] == taxii.root and found["api_roots"] == [taxii.root]
        assert client.api_root(taxii.root)["versions"] == [TAXII_MEDIA_TYPE]
        (collection,) = client.collections(taxii.root)
        assert collection["url"] == taxii.collection_url and collection["can_read"]
        assert client.collection(taxii.collection_url)["id"] == COLLECTION
    assert all(seen.headers["Accept"] == TAXII_MEDIA_TYPE for seen in taxii.http.requests)


def test_full_poll_pages_into_one_bundle(taxii: TaxiiServer, tmp_path: Path) -> None:
    state: dict[str, Any] = {}
    report = FeedReport()
    path = fetch_taxii(taxii_feed(taxii.collection_url), tmp_path, report, state=state,
                       page_limit=3)
    assert bundle_ids(path) == [o["id"] for _, o in taxii.objects]
    assert json.loads(path.read_text())["objects"][0] == taxii.objects[0][1]  # round-trips
    assert [q.get("next") for q in objects_queries(taxii.http)] == [None, "3", "6"]
    assert all(q["limit"] == "3" for q in objects_queries(taxii.http))
    assert state == {"added_after": taxii.objects[-1][0],
                     "collection": taxii.collection_url}
    assert report.notes["taxii_pages"] == "3" and report.notes["taxii_objects"] == "7"
    assert report.notes["taxii_poll"] == "full"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taxii-bundle.json"]


def test_incremental_poll_fetches_only_new_objects(taxii: TaxiiServer, tmp_path: Path) -> None:
    state: dict[str, Any] = {}
    first = fetch_taxii(taxii_feed(taxii.collection_url), tmp_path / "1", FeedReport(),
                        state=state, page_limit=3)
    kept = tmp_path / "kept.json"
    first.rename(kept)
    cursor = state["added_after"]
    taxii.http.requests.clear()
    taxii.add(indicator(1, modified="2024-03-01T00:00:00.000Z", name="updated"))
    taxii.add(indicator(2, modified="2024-03-01T00:00:00Z", revoked=True))
    taxii.add(indicator(100))
    report = FeedReport()
    merged = fetch_taxii(taxii_feed(taxii.collection_url), tmp_path / "2", report,
                         state=state, previous=kept, page_limit=3)
    (query,) = objects_queries(taxii.http)
    assert query["added_after"] == cursor
    assert report.notes["taxii_poll"] == "incremental"
    assert report.notes["taxii_objects_fetched"] == "3"
    assert report.notes["taxii_revoked_dropped"] == "1"
    ids = bundle_ids(merged)
    expected = [indicator(n)["id"] for n in (0, 3, 4, 5, 6, 1, 100)]
    assert ids == expected
    updated = json.loads(merged.read_text())["objects"][ids.index(indicator(1)["id"])]
    assert updated["name"] == "updated"
    assert state["added_after"] == taxii.objects[-1][0]


def test_without_previous_bundle_the_poll_is_full(taxii: TaxiiServer, tmp_path: Path) -> None:
    state = {"added_after": "2030-01-01T00:00:00Z", "collection": taxii.collection_url}
    path = fetch_taxii(taxii_feed(taxii.collection_url), tmp_path, FeedReport(), state=state,
                       previous=tmp_path / "gone.json")
    assert len(bundle_ids(path)) == 7
    assert "added_after" not in objects_queries(taxii.http)[0]


def test_paging_by_added_after_when_the_server_sends_no_next(http: LocalServer,
                                                             tmp_path: Path) -> None:
    server = TaxiiServer(http, paging="added_after")
    for n in range(5):
        server.add(indicator(n))
    path = fetch_taxii(taxii_feed(server.collection_url), tmp_path, FeedReport(),
                       page_limit=2)
    assert len(bundle_ids(path)) == 5
    assert [q.get("added_after") for q in objects_queries(http)] == [
        None, server.objects[1][0], server.objects[3][0]]


def test_max_pages_stops_and_the_next_poll_continues(taxii: TaxiiServer, tmp_path: Path) -> None:
    state: dict[str, Any] = {}
    report = FeedReport()
    first = fetch_taxii(taxii_feed(taxii.collection_url), tmp_path / "1", report, state=state,
                        page_limit=2, max_pages=2)
    assert len(bundle_ids(first)) == 4 and "taxii_incomplete" in report.notes
    assert state["added_after"] == taxii.objects[3][0]
    second = fetch_taxii(taxii_feed(taxii.collection_url), tmp_path / "2", FeedReport(),
                         state=state, previous=first, page_limit=2, max_pages=2)
    assert bundle_ids(second) == [o["id"] for _, o in taxii.objects]


def test_through_fetch_with_gzip_pages(taxii: TaxiiServer, tmp_path: Path) -> None:
    taxii.gzip = True
    path = fetch(taxii_feed(taxii.collection_url + "objects/"), tmp_path, FeedReport())
    assert len(bundle_ids(path)) == 7


def test_basic_auth_is_required(taxii: TaxiiServer, tmp_path: Path) -> None:
    with pytest.raises(FeedFetchError, match="HTTP 401") as caught:
        fetch_taxii(taxii_feed(taxii.collection_url, password="bad-pw"), tmp_path, FeedReport())
    assert "bad-pw" not in str(caught.value)


def test_an_html_page_is_not_an_envelope(http: LocalServer, tmp_path: Path) -> None:
    http.route(f"/api1/collections/{COLLECTION}/objects/",
               lambda req: reply(req, 200, b"<html>sign in</html>", {"Content-Type": "text/html"}))
    with pytest.raises(FeedFetchError, match="text/html"):
        fetch_taxii(taxii_feed(http.url(f"/api1/collections/{COLLECTION}/")), tmp_path,
                    FeedReport())


def test_a_repeated_next_token_stops_the_poll(http: LocalServer, tmp_path: Path) -> None:
    page = json.dumps({"more": True, "next": "same", "objects": [indicator(1)]}).encode()
    http.route(f"/api1/collections/{COLLECTION}/objects/",
               lambda req: reply(req, 200, page, {"Content-Type": TAXII_MEDIA_TYPE}))
    with pytest.raises(FeedFetchError, match="repeated"):
        fetch_taxii(taxii_feed(http.url(f"/api1/collections/{COLLECTION}/")), tmp_path,
                    FeedReport())


def test_total_size_limit_across_pages(taxii: TaxiiServer, tmp_path: Path) -> None:
    options = HttpOptions(username="trapline", password="taxii-pw", allow_private=True)
    with SafeHttpClient(options) as http, BundleWriter(tmp_path / "out.json") as writer, \
            pytest.raises(FeedRefused, match="pages total"):
        TaxiiClient(http, page_limit=2, max_total_bytes=1500).poll(
            taxii.collection_url, writer, tmp_path)


def test_a_redirect_to_metadata_is_refused(http: LocalServer, tmp_path: Path) -> None:
    http.route(f"/api1/collections/{COLLECTION}/objects/",
               redirect("http://169.254.169.254/latest/meta-data/"))
    with pytest.raises(FeedRefused, match="cloud metadata"):
        fetch_taxii(taxii_feed(http.url(f"/api1/collections/{COLLECTION}/")), tmp_path,
                    FeedReport())


def test_collection_url_convention() -> None:
    base = "https://taxii.example/api1/collections/abc"
    for source in (base, base + "/", base + "/objects/", base + "/?limit=1"):
        assert collection_url(source) == base + "/"


def test_merge_keeps_the_newest_version_and_drops_revoked(tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    with BundleWriter(old) as writer:
        writer.add(indicator(1, modified="2024-05-01T00:00:00Z", name="newer in old"))
        writer.add(indicator(2))
        writer.add(indicator(3))
        writer.add({"type": "indicator", "no": "id"})
    with BundleWriter(new) as writer:
        writer.add(indicator(1, modified="2024-04-01T00:00:00.123Z", name="older in new"))
        writer.add(indicator(2, modified="2024-01-01T00:00:00.000Z", name="tie: new wins"))
        writer.add(indicator(3, modified="2024-06-01T00:00:00Z", revoked=True))
        writer.add({"type": "marking-definition", "id": "marking-definition--1"})
    report = FeedReport()
    stats = merge_bundles(old, new, tmp_path / "out.json", report)
    merged = {o["id"]: o for o in json.loads((tmp_path / "out.json").read_text())["objects"]}
    assert merged[indicator(1)["id"]]["name"] == "newer in old"
    assert merged[indicator(2)["id"]]["name"] == "tie: new wins"
    assert indicator(3)["id"] not in merged and "marking-definition--1" in merged
    assert (stats.written, stats.superseded, stats.revoked, stats.invalid) == (3, 3, 1, 1)
    assert report.skipped["STIX object without an id"] == 1


def test_the_bundle_reads_as_a_stix_feed(taxii: TaxiiServer, tmp_path: Path) -> None:
    stix = pytest.importorskip("trapline.feeds.stix")
    feed = taxii_feed(taxii.collection_url)
    path = fetch(feed, tmp_path, FeedReport())
    records = list(stix.read_stix(path, feed, FeedReport()))
    assert sorted(r.value for r in records) == [f"evil{n}.example" for n in range(7)]


def test_the_updater_polls_incrementally_and_keeps_the_bundle(taxii: TaxiiServer,
                                                              tmp_path: Path) -> None:
    """Through FeedUpdater: the kept bundle and cursor make the second poll incremental."""
    from trapline.alerts import CollectedAlerts
    from trapline.feeds.state import FeedStates
    from trapline.feeds.updater import FeedUpdater
    from trapline.index import SnapshotCatalog

    feed = taxii_feed(taxii.collection_url)
    updater = FeedUpdater(tmp_path / "data", [feed], CollectedAlerts())
    [first] = updater.update()
    assert first.ok and first.records == 7
    assert (tmp_path / "data/feeds" / feed.name / "taxii-bundle.json").is_file()
    taxii.http.requests.clear()
    taxii.add(indicator(100))
    taxii.add(indicator(2, modified="2024-03-01T00:00:00Z", revoked=True))
    [second] = updater.update()
    assert second.ok and second.records == 7  # 7 - 1 revoked + 1 new
    assert [q.get("added_after") is not None for q in objects_queries(taxii.http)] == [True]
    snapshot = SnapshotCatalog(tmp_path / "data").open_current()
    assert snapshot.lookup("evil100.example").matches
    assert snapshot.lookup("evil0.example").matches  # kept from the first poll
    assert not snapshot.lookup("evil2.example").matches  # revoked
    state = FeedStates(tmp_path / "data").get(feed.name)
    assert state.source_state["added_after"] == taxii.objects[-1][0]
