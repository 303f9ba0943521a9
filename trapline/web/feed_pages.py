"""Adding a custom feed, with a validation preview of its first records (Administrators).

    GET  /feeds/add              the form: name, source, format, category, kind,
                                 schedule, CSV columns, vendor JSON field mapping
    POST /feeds/add              action = preview: fetch and parse, show the first
                                 records and the errors; nothing changes
                                 action = save: the same checks, then the feed is kept
                                 in the store setting ``feeds.custom``
    POST /feeds/custom/delete    name: forget a kept custom feed

The source is read the way the updater reads it (``trapline.feeds.sources.fetch``:
the address policy, redirects and size limits for a URL; a local path only inside
the data directory, the configuration file's folder or the demo feeds), parsed by
``trapline.feeds.formats.read_feed`` with the ``FeedConfig`` the form describes.
A kept feed joins the running feeds once it is in the configuration file (the
snippet on the Settings page) and the service is reloaded (SIGHUP) or restarted.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from starlette.responses import Response

from trapline.config import DEMO_FEEDS
from trapline.errors import FeedConfigError, FeedError
from trapline.feeds.config import (
    _KINDS,
    FORMATS,
    SCHEDULES,
    FeedConfig,
    feed_from_dict,
    folder_name,
)
from trapline.feeds.formats import read_feed
from trapline.feeds.report import FeedReport
from trapline.feeds.sources import fetch
from trapline.index.records import IndicatorRecord
from trapline.security.roles import Permission
from trapline.service.http.errors import ApiError
from trapline.service.http.operations import Operation, needs
from trapline.web import runtime
from trapline.web.guard import PageCall

PREVIEW_RECORDS = 10
COUNT_LIMIT = 100_000         # records counted for the preview, at most
PREVIEW_DOWNLOAD_MB = 64      # a preview downloads at most this much
PREVIEW_TIMEOUT = 20.0
MAX_CUSTOM_FEEDS = 100
KINDS = ["", *sorted(_KINDS)]
FORM_FIELDS = ("name", "source", "format", "category", "kind", "schedule", "delimiter",
               "header", "value_column", "kind_column", "category_column", "mapping")


class Refused(ValueError):
    pass


@dataclass
class Preview:
    records: list[IndicatorRecord] = field(default_factory=list)
    counted: int = 0
    more: bool = False
    format: str = ""
    skipped: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    error: str = ""


def _column(text: str) -> str | int | None:
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() else text


def feed_table(form: dict[str, str]) -> dict[str, Any]:
    """The form as a ``[[feeds]]`` table (only what was filled in)."""
    table: dict[str, Any] = {"source": form.get("source", "").strip()}
    for key in ("name", "format", "category", "kind"):
        if form.get(key, "").strip():
            table[key] = form[key].strip()
    schedule = form.get("schedule", "").strip()
    if schedule:
        if not schedule.isdigit():
            raise Refused(f"Refused: schedule {schedule[:20]!r} is not a number of minutes.")
        table["schedule"] = int(schedule)
    csv: dict[str, Any] = {}
    if form.get("delimiter", ""):
        csv["delimiter"] = "\t" if form["delimiter"] in ("\\t", "tab") else form["delimiter"]
    if form.get("header") in ("yes", "no"):
        csv["header"] = form["header"] == "yes"
    for key in ("value_column", "kind_column", "category_column"):
        column = _column(form.get(key, ""))
        if column is not None:
            csv[key] = column
    if csv:
        table["csv"] = csv
    mapping = form.get("mapping", "").strip()
    if mapping:
        try:
            fields = json.loads(mapping)
        except ValueError as exc:
            raise Refused(f"Refused: the field mapping is not JSON ({exc}).") from None
        if not isinstance(fields, dict):
            raise Refused('Refused: the field mapping is a JSON object: '
                          '{"MD5": {"kind": "md5"}, "threat": {"category": "..."}}.')
        table["fields"] = fields
    return table


def allowed_roots(call: PageCall) -> list[Path]:
    settings = runtime.base_settings(call.context.settings)
    roots = [Path(settings.data_dir), DEMO_FEEDS]
    if settings.path is not None:
        roots.append(Path(settings.path).parent)
    return [r.expanduser().resolve() for r in roots]


def check_feed(call: PageCall, table: dict[str, Any], custom: list[dict[str, Any]]) -> FeedConfig:
    """A FeedConfig for ``table``, or Refused with the reason."""
    if not table["source"]:
        raise Refused("Refused: give the feed's source (an http(s) URL or a local path).")
    if table.get("format") == "taxii":
        raise Refused("Refused: TAXII collections are added in the configuration file.")
    try:
        feed = feed_from_dict(table)
    except FeedConfigError as exc:
        raise Refused(f"Refused: {exc}.") from None
    if not feed.is_remote:
        path = Path(feed.source).expanduser()
        if not path.is_absolute():
            raise Refused("Refused: a local source is an absolute path.")
        resolved = path.resolve()
        roots = allowed_roots(call)
        if not any(resolved.is_relative_to(root) for root in roots):
            raise Refused("Refused: a local source must be inside "
                          + ", ".join(str(r) for r in roots)
                          + "; or give an http(s) URL.")
    settings = runtime.base_settings(call.context.settings)
    taken = {folder_name(f.name) for f in settings.feeds_or_demo}
    taken |= {folder_name(str(t.get("name", ""))) for t in custom}
    if folder_name(feed.name) in taken:
        raise Refused(f"Refused: a feed named {feed.name!r} exists; give this one its own "
                      "name.")
    return feed


def preview(feed: FeedConfig) -> Preview:
    """Fetch and parse ``feed``: its first records, how many (up to COUNT_LIMIT), errors.
    Runs off the event loop; changes nothing."""
    import msgspec

    limited = msgspec.structs.replace(feed, http=msgspec.structs.replace(
        feed.http, max_download_mb=min(feed.http.max_download_mb, PREVIEW_DOWNLOAD_MB),
        timeout=min(feed.http.timeout, PREVIEW_TIMEOUT)))
    report = FeedReport()
    result = Preview()
    with tempfile.TemporaryDirectory(prefix="trapline-preview-") as work:
        try:
            path = fetch(limited, Path(work), report)
            records = read_feed(path, limited, report)
            result.records = list(islice(records, PREVIEW_RECORDS))
            result.counted = len(result.records) + sum(
                1 for _ in islice(records, COUNT_LIMIT - len(result.records)))
            result.more = next(records, None) is not None
        except FeedError as exc:
            result.error = str(exc)
        except (OSError, UnicodeError, ValueError) as exc:
            result.error = f"cannot read the feed: {exc}"
    result.format = report.notes.get("format", feed.format)
    result.skipped = dict(report.skipped)
    result.samples = list(report.samples)
    return result


async def _custom(call: PageCall) -> list[dict[str, Any]]:
    found = await call.run(call.store.settings.get, runtime.CUSTOM_FEEDS, [])
    return found if isinstance(found, list) else []


async def add_form(call: PageCall, *, form: dict[str, str] | None = None, error: str = "",
                   result: Preview | None = None, status: int = 200) -> Response:
    return call.render("feed_add.html", status, title="Add a custom feed",
                       form={k: "" for k in FORM_FIELDS} | {"format": "auto", "schedule": "60"}
                       | (form or {}), formats=FORMATS, schedules=SCHEDULES, kinds=KINDS,
                       error=error, result=result)


async def add_submit(call: PageCall) -> Response:
    form = {k: call.form.get(k, "") for k in FORM_FIELDS}
    custom = await _custom(call)
    try:
        table = feed_table(form)
        feed = check_feed(call, table, custom)
    except Refused as exc:
        return await add_form(call, form=form, error=str(exc), status=400)
    result = await call.run(preview, feed)
    if call.field("action") != "save":
        return await add_form(call, form=form, result=result)
    if result.error or not result.records:
        return await add_form(call, form=form, result=result, status=400,
                              error="Refused: the feed gave no record"
                                    + (f" ({result.error})" if result.error else "")
                                    + "; fix the source or the mapping and preview again.")
    if len(custom) >= MAX_CUSTOM_FEEDS:
        return await add_form(call, form=form, result=result, status=400,
                              error=f"Refused: at most {MAX_CUSTOM_FEEDS} custom feeds.")
    table["name"] = feed.name
    await call.run(call.store.settings.set, call.actor, runtime.CUSTOM_FEEDS,
                   [*custom, table])
    return call.redirect("/feeds?notice=custom-added")


async def delete_custom(call: PageCall) -> Response:
    name = call.field("name")
    custom = await _custom(call)
    kept = [t for t in custom if t.get("name") != name]
    if len(kept) == len(custom):
        raise ApiError(404, f"no custom feed named {name[:128]!r}")
    if kept:
        await call.run(call.store.settings.set, call.actor, runtime.CUSTOM_FEEDS, kept)
    else:
        await call.run(call.store.settings.delete, call.actor, runtime.CUSTOM_FEEDS)
    return call.redirect("/feeds?notice=custom-removed")


SETTINGS = needs(Permission.SETTINGS_MANAGE)

OPERATIONS = [
    Operation("GET", "/feeds/add", add_form, SETTINGS, "Add a custom feed", "web"),
    Operation("POST", "/feeds/add", add_submit, SETTINGS,
              "Preview or keep a custom feed", "web"),
    Operation("POST", "/feeds/custom/delete", delete_custom, SETTINGS,
              "Forget a custom feed", "web"),
]
