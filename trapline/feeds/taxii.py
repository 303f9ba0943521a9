"""A small TAXII 2.1 client, over the safe HTTP layer of trapline.feeds.http_fetch.

A TAXII feed's ``source`` is the URL of one collection
(``https://taxii.example/api1/collections/<id>/``) and its format ``taxii``.
``fetch_taxii`` pages through the collection's ``objects/`` endpoint and
writes the objects, page by page, into a STIX bundle file that
trapline.feeds.stix parses. Incremental polls send ``added_after`` (the last
``X-TAXII-Date-Added-Last`` the server sent) and merge the new objects into
the bundle the previous update kept (trapline.feeds.bundles).

taxii2-client is not used: it is built on requests, where the address policy
cannot be enforced at connect time on every redirect hop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ijson

from trapline.errors import FeedFetchError, FeedRefused
from trapline.feeds.address_policy import AddressPolicy
from trapline.feeds.bundles import BundleWriter, merge_bundles
from trapline.feeds.config import FeedConfig, MiB, redact_url
from trapline.feeds.http_fetch import SafeHttpClient
from trapline.feeds.report import FeedReport
from trapline.feeds.unpack import gunzip, sniff

__all__ = ["DEFAULT_MAX_PAGES", "DEFAULT_PAGE_LIMIT", "TAXII_MEDIA_TYPE", "PollResult",
           "TaxiiClient", "collection_url", "fetch_taxii"]

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
DEFAULT_PAGE_LIMIT = 1000   # objects asked for per page; servers may send fewer
DEFAULT_MAX_PAGES = 1000    # per poll; the next poll continues where this one stopped
_ACCEPT = {"Accept": TAXII_MEDIA_TYPE}


@dataclass
class PollResult:
    """One poll: objects written, pages read, the new cursor, whether it reached the end."""

    objects: int = 0
    pages: int = 0
    added_after: str | None = None
    complete: bool = True


def collection_url(source: str) -> str:
    """The canonical collection URL of a feed source: a trailing ``/``, no ``objects/``."""
    url = source.split("#", 1)[0].split("?", 1)[0].rstrip("/") + "/"
    return url[: -len("objects/")] if url.endswith("/objects/") else url


class TaxiiClient:
    """TAXII 2.1 requests over one SafeHttpClient (Basic auth, limits, address policy)."""

    def __init__(self, http: SafeHttpClient, *, page_limit: int = DEFAULT_PAGE_LIMIT,
                 max_pages: int = DEFAULT_MAX_PAGES, max_total_bytes: int | None = None,
                 ) -> None:
        self.http = http
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.max_total_bytes = (http.options.max_unpacked_mb * MiB if max_total_bytes is None
                                else max_total_bytes)

    def _get(self, url: str) -> dict[str, Any]:
        body = self.http.get_json(url, headers=_ACCEPT)
        if not isinstance(body, dict):
            raise FeedFetchError(f"{redact_url(url)}: not a TAXII resource (a JSON object)")
        return body

    def discovery(self, url: str) -> dict[str, Any]:
        """The server's discovery resource (``/taxii2/``), API root URLs made absolute."""
        body = self._get(url)
        base = httpx.URL(url)
        if isinstance(body.get("default"), str):
            body["default"] = str(base.join(body["default"]))
        body["api_roots"] = [str(base.join(r)) for r in body.get("api_roots") or []
                             if isinstance(r, str)]
        return body

    def api_root(self, url: str) -> dict[str, Any]:
        """An API root's information (title, versions, max_content_length)."""
        return self._get(url.rstrip("/") + "/")

    def collections(self, api_root: str) -> list[dict[str, Any]]:
        """An API root's collections, each with its feed ``source`` URL added as ``url``."""
        root = api_root.rstrip("/") + "/"
        found = self._get(root + "collections/").get("collections") or []
        return [{**c, "url": f"{root}collections/{c['id']}/"} for c in found
                if isinstance(c, dict) and isinstance(c.get("id"), str)]

    def collection(self, url: str) -> dict[str, Any]:
        """One collection's information (id, title, can_read, media_types)."""
        return self._get(collection_url(url))

    def poll(self, url: str, writer: BundleWriter, scratch: Path, *,
             added_after: str | None = None, report: FeedReport | None = None) -> PollResult:
        """Page through collection ``url``'s objects into ``writer``.

        Follows ``more``/``next``; a server that sends ``more`` without ``next``
        is paged by ``added_after`` from ``X-TAXII-Date-Added-Last``. Stops after
        ``max_pages`` (``complete`` False: the cursor lets the next poll go on).
        Each page is limited to ``max_download_mb``, all pages together to
        ``max_total_bytes``.
        """
        objects_url = collection_url(url) + "objects/"
        result = PollResult(added_after=added_after)
        params: dict[str, str] = {"limit": str(self.page_limit)}
        if added_after:
            params["added_after"] = added_after
        total, seen_tokens = 0, set[str]()
        while True:
            if result.pages == self.max_pages:
                result.complete = False
                break
            result.pages += 1
            page = scratch / f"taxii-page-{result.pages}.json"
            query = str(httpx.URL(objects_url, params=params))
            download = self.http.download(query, page, headers=_ACCEPT)
            total += download.size
            if total > self.max_total_bytes:
                raise FeedRefused(f"{redact_url(objects_url)}: pages total over "
                                  f"{self.max_total_bytes // MiB} MB (http.max_unpacked_mb)")
            if sniff(page) == "gzip":  # Content-Encoding: gzip, left to us by iter_raw
                plain = page.with_suffix(".plain")
                budget = self.max_total_bytes - total + download.size
                total += gunzip(page, plain, max_bytes=budget) - download.size
                page.unlink()
                page = plain
            more, token, date_added = _read_envelope(page, writer, result, report,
                                                     download.content_type)
            page.unlink()
            last = download.headers.get("x-taxii-date-added-last") or date_added
            if last:
                result.added_after = last
            if not more:
                break
            if token:
                if token in seen_tokens:
                    raise FeedFetchError(f"{redact_url(objects_url)}: the server repeated "
                                         f"its paging token {token[:80]!r}")
                seen_tokens.add(token)
                params["next"] = token
            elif last and last != params.get("added_after"):
                params.pop("next", None)
                params["added_after"] = last
            else:
                if report is not None:
                    report.notes["taxii_paging"] = ("the server said more but gave neither "
                                                    "next nor X-TAXII-Date-Added-Last")
                result.complete = False
                break
        return result


def _read_envelope(page: Path, writer: BundleWriter, result: PollResult,
                   report: FeedReport | None, content_type: str,
                   ) -> tuple[bool, str | None, str | None]:
    """Stream one envelope's objects into ``writer``; its ``more``, ``next`` and the
    newest ``date_added`` among its objects (a non-standard hint some servers give)."""
    more, token, date_added = False, None, None
    builder: ijson.ObjectBuilder | None = None
    add: Callable[[dict[str, Any]], None] = writer.add
    try:
        with open(page, "rb") as handle:
            for prefix, event, value in ijson.parse(handle, use_float=True):
                if builder is not None:
                    builder.event(event, value)
                    if prefix == "objects.item" and event == "end_map":
                        obj = builder.value
                        builder = None
                        added = obj.get("date_added")
                        if isinstance(added, str) and (date_added is None or added > date_added):
                            date_added = added
                        add(obj)
                        result.objects += 1
                elif prefix == "objects.item":
                    if event == "start_map":
                        builder = ijson.ObjectBuilder()
                        builder.event(event, value)
                    elif report is not None and event != "end_array":
                        report.skip("TAXII envelope item that is not an object", str(value))
                elif prefix == "more" and event == "boolean":
                    more = value
                elif prefix == "next" and event in ("string", "number"):
                    token = str(value)
    except ijson.JSONError as exc:
        raise FeedFetchError(f"TAXII page {result.pages} is not a JSON envelope "
                             f"(Content-Type {content_type or 'none'}): {exc}") from None
    return more, token, date_added


def fetch_taxii(feed: FeedConfig, workdir: Path, report: FeedReport, *,
                state: dict[str, Any] | None = None, previous: Path | None = None,
                policy: AddressPolicy | None = None, page_limit: int = DEFAULT_PAGE_LIMIT,
                max_pages: int = DEFAULT_MAX_PAGES) -> Path:
    """Poll ``feed``'s collection into a complete STIX bundle in ``workdir``; its path.

    Incremental when ``state["added_after"]`` is set, ``state["collection"]``
    names the same collection and ``previous`` (the bundle the last update
    kept) exists; otherwise a full poll. ``state`` is updated in place with
    the new cursor: persist it, and keep the returned bundle as the next
    ``previous``, only once the update is live.
    """
    state = {} if state is None else state
    workdir.mkdir(parents=True, exist_ok=True)
    url = collection_url(feed.source)
    shown = redact_url(url)
    incremental = bool(state.get("added_after") and state.get("collection") == shown
                       and previous is not None and previous.is_file())
    new = workdir / "taxii-new.json"
    with SafeHttpClient(feed.http, policy=policy) as http, BundleWriter(new) as writer:
        client = TaxiiClient(http, page_limit=page_limit, max_pages=max_pages)
        result = client.poll(url, writer, workdir,
                             added_after=state["added_after"] if incremental else None,
                             report=report)
    out = workdir / "taxii-bundle.json"
    stats = merge_bundles(previous if incremental else None, new, out, report)
    new.unlink()
    state["collection"] = shown
    if result.added_after:
        state["added_after"] = result.added_after
    else:
        state.pop("added_after", None)
    report.notes.update({
        "taxii_poll": "incremental" if incremental else "full",
        "taxii_pages": str(result.pages),
        "taxii_objects_fetched": str(result.objects),
        "taxii_objects": str(stats.written),
        "taxii_added_after": result.added_after or "",
    })
    if stats.revoked:
        report.notes["taxii_revoked_dropped"] = str(stats.revoked)
    if not result.complete:
        report.notes["taxii_incomplete"] = (f"stopped after {result.pages} pages; the next "
                                            "poll continues from the cursor")
    return out
