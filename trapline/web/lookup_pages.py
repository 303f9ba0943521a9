"""Lookup and Indicators: verdicts with their explanations; the InternalTI and
FalsePositive lists.

    GET  /lookup                          the three forms and the user's recent lookups
    POST /lookup                          value | text (every indicator in it) | file (hashes)
    GET  /indicators?value=V              every feed and list holding V, with full context
    GET  /indicators?q=TEXT               search the lists (and look TEXT up when it is one)
    GET  /indicators/add?value=V          "Add to Internal TI": the confirmation (a console link)
    POST /indicators/internal-ti          add (internal_ti.add)
    POST /indicators/internal-ti/delete   remove (internal_ti.delete)
    POST /indicators/false-positive       mark (false_positive.write)
    POST /indicators/false-positive/delete  unmark
    (the tags of the entries: trapline.web.tag_pages)

A GET never changes anything: a console link to ``/indicators/add`` shows the
confirmation, and only its POST adds.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from trapline.errors import TraplineError
from trapline.extract import presets
from trapline.security.roles import Permission
from trapline.service.http.errors import ApiError
from trapline.service.http.lists_api import checked_value
from trapline.service.http.lookup_api import SAMPLE, result_out
from trapline.service.http.operations import Operation, needs
from trapline.service.http.schemas import LookupResult
from trapline.store import FALSE_POSITIVE, INTERNAL_TI, IndicatorInput, NotFound, StoreError
from trapline.web.guard import PageCall

log = logging.getLogger("trapline.web")

MAX_VALUES = 10_000
MAX_TEXT_CHARS = 4 << 20
MAX_FILE_BYTES = 32 << 20
LIST_PAGE = 100

NOTICES = {"added": "Added to InternalTI.", "deleted": "Removed from InternalTI.",
           "marked": "Marked as a false positive.", "unmarked": "No longer a false positive.",
           "tagged": "Tag added.", "untagged": "Tag removed."}


def _results(call: PageCall, values: list[str]) -> tuple[list[LookupResult], int, int]:
    """Verdicts for ``values`` in the call's tenant: results, snapshot, lists version."""
    context = call.context
    try:
        if context.matcher_view is not None:
            view = context.matcher_view(call.tenant)
            verdicts = view.lookup_many(values)
            snapshot, lists_version = view.snapshot.version, view.overlay.version
        else:
            verdicts = context.lookup_many(values, call.tenant)
            snapshot, lists_version = (verdicts[0].snapshot if verdicts else 0), 0
    except TraplineError as exc:
        raise ApiError(503, f"lookups are unavailable: {exc}") from None
    return [result_out(v) for v in verdicts], snapshot, lists_version


def extract_values(text: str) -> list[str]:
    """Every indicator found in a block of log text (preset ``generic``), once each."""
    rule_set = presets()["generic"]
    seen: dict[str, None] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        extraction = rule_set.extract(line)
        if extraction is None:
            continue
        for observed in extraction.observables:
            seen.setdefault(observed.value, None)
            if len(seen) >= MAX_VALUES:
                return list(seen)
    return list(seen)


def file_hashes(data: bytes) -> dict[str, str]:
    return {"MD5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "SHA-1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
            "SHA-256": hashlib.sha256(data).hexdigest()}


async def _history(call: PageCall) -> list[Any]:
    try:
        return await call.run(call.store.lookups.recent, call.user.name, limit=15)
    except StoreError as exc:
        log.error("lookup history unavailable: %s", exc)
        return []


async def lookup_page(call: PageCall) -> Response:
    return call.render("lookup.html", title="Lookup", mode=call.arg("mode", "value"),
                       value=call.arg("value")[:2048], text="", results=None, source="",
                       hashes=None, snapshot=0, lists_version=0, error="",
                       history=await _history(call))


async def lookup(call: PageCall) -> Response:
    mode = call.field("mode", "value")
    hashes: dict[str, str] | None = None
    error = ""
    values: list[str] = []
    source = ""
    if mode == "text":
        text = call.form.get("text", "")
        if len(text) > MAX_TEXT_CHARS:
            error = f"The text is over {MAX_TEXT_CHARS >> 20} MiB."
        else:
            values = extract_values(text)
            source = f"{len(values)} indicator(s) found in {len(text.splitlines())} line(s)"
            if not values:
                error = "No indicator found in that text."
    elif mode == "file":
        name, data = call.files.get("file", ("", b""))
        if not name:
            error = "Choose a file."
        elif len(data) > MAX_FILE_BYTES:
            error = f"The file is over {MAX_FILE_BYTES >> 20} MiB."
        else:
            hashes = file_hashes(data)
            values = list(hashes.values())
            source = f"{name} ({len(data):,} bytes)"
    else:
        mode = "value"
        value = call.field("value")
        if not value:
            error = "Enter a value to look up."
        elif len(value) > 2048:
            error = "The value is over 2,048 characters."
        else:
            values = [value]
    results = None
    snapshot = lists_version = 0
    if values:
        results, snapshot, lists_version = await call.run(_results, call, values)
        detected = [r.value for r in results if r.matches]
        summary = {"detected": len(detected), "not_detected": len(results) - len(detected),
                   "invalid": sum(1 for r in results if r.error), "snapshot": snapshot,
                   "lists_version": lists_version, "detected_values": detected[:SAMPLE]}
        try:
            await call.run(call.store.lookups.add, call.user.name, values, summary,
                           tenant=call.tenant)
        except StoreError as exc:  # the history is a log: it must not fail the lookup
            log.error("lookup history not recorded: %s", exc)
        results.sort(key=lambda r: not r.matches)  # detected first, each group in order
    return call.render("lookup.html", 400 if error else 200, title="Lookup", mode=mode,
                       value=call.field("value")[:2048], text=call.form.get("text", "")[:100_000],
                       results=results, source=source, hashes=hashes, snapshot=snapshot,
                       lists_version=lists_version, error=error,
                       history=await _history(call))


# -- indicators ---------------------------------------------------------------------------


def _entry(call: PageCall, supplier: str, value: str) -> Any:
    try:
        return call.store.indicators.get(supplier, value, tenant=call.tenant)
    except NotFound:
        return None


async def indicators_page(call: PageCall) -> Response:
    value = call.arg("value").strip()[:2048]
    q = call.arg("q").strip()[:2048]
    wanted = value or q
    result = None
    snapshot = 0
    entries: dict[str, Any] = {}
    if wanted:
        try:
            checked_value(wanted, "")
        except ApiError:
            pass
        else:
            [result], snapshot, _ = await call.run(_results, call, [wanted])
            for supplier in (INTERNAL_TI, FALSE_POSITIVE):
                entries[supplier] = await call.run(_entry, call, supplier, wanted)
    search = None if value else (q or None)
    offset = max(0, min(int(call.arg("offset", "0") or 0) if call.arg("offset", "0").isdigit()
                        else 0, 1 << 30))
    lists = {}
    for supplier in (INTERNAL_TI, FALSE_POSITIVE):
        lists[supplier] = await call.run(call.store.indicators.page, supplier,
                                         tenant=call.tenant, search=search, limit=LIST_PAGE,
                                         offset=offset if supplier == INTERNAL_TI else 0)
    return call.render("indicators.html", title="Indicators", value=value, q=q,
                       wanted=wanted, result=result, snapshot=snapshot, entries=entries,
                       lists=lists, offset=offset, page_size=LIST_PAGE,
                       notice=NOTICES.get(call.arg("notice"), ""),
                       may_add=call.user.can(Permission.INTERNAL_TI_ADD),
                       may_delete=call.user.can(Permission.INTERNAL_TI_DELETE),
                       may_mark=call.user.can(Permission.FALSE_POSITIVE_WRITE),
                       tags=await call.run(call.store.tags.all, tenant=call.tenant))


async def add_confirmation(call: PageCall) -> Response:
    value = call.arg("value").strip()[:2048]
    error = ""
    if not value:
        error = "No value was given."
    else:
        try:
            checked_value(value, "")
        except ApiError as exc:
            error = exc.reason
    existing = await call.run(_entry, call, INTERNAL_TI, value) if value and not error else None
    return call.render("indicator_add.html", 400 if error else 200,
                       title="Add to Internal TI", value=value, error=error,
                       existing=existing,
                       tags=await call.run(call.store.tags.all, tenant=call.tenant))


def _back(call: PageCall, value: str, notice: str) -> str:
    return call.in_tenant(f"/indicators?value={quote(value, safe='')}&notice={notice}")


def _value(call: PageCall) -> str:
    value = call.field("value")
    if not value:
        raise ApiError(400, "no value was given")
    if len(value) > 2048:
        raise ApiError(400, "the value is over 2,048 characters")
    return value


async def add_internal_ti(call: PageCall) -> Response:
    value = checked_value(_value(call), "")
    tags = tuple(t.strip() for t in call.field("tags").split(",") if t.strip())
    entry = IndicatorInput(value=value, category=call.field("category")[:128],
                           comment=call.field("comment")[:4096], tags=tags,
                           context={"source": "web"})
    await call.run(call.store.indicators.put, call.actor, INTERNAL_TI, [entry],
                   tenant=call.tenant)
    return call.redirect(_back(call, value, "added"))


async def _remove(call: PageCall, supplier: str, done: str) -> Response:
    """Take the form's value off a list (404 when it is not on it), back to its page."""
    value = _value(call)
    await call.run(call.store.indicators.get, supplier, value, tenant=call.tenant)
    await call.run(call.store.indicators.delete, call.actor, supplier, [value],
                   tenant=call.tenant)
    return call.redirect(_back(call, value, done))


async def delete_internal_ti(call: PageCall) -> Response:
    return await _remove(call, INTERNAL_TI, "deleted")


async def mark_false_positive(call: PageCall) -> Response:
    value = checked_value(_value(call), "")
    entry = IndicatorInput(value=value, comment=call.field("comment")[:4096])
    await call.run(call.store.indicators.put, call.actor, FALSE_POSITIVE, [entry],
                   tenant=call.tenant)
    return call.redirect(_back(call, value, "marked"))


async def unmark_false_positive(call: PageCall) -> Response:
    return await _remove(call, FALSE_POSITIVE, "unmarked")


LOOKUP = needs(Permission.LOOKUP, tenant=True)
READ = needs(Permission.READ, tenant=True)

OPERATIONS = [
    Operation("GET", "/lookup", lookup_page, LOOKUP, "Lookup page", "web"),
    Operation("POST", "/lookup", lookup, LOOKUP, "Look up a value, text or file", "web"),
    Operation("GET", "/indicators", indicators_page, READ, "Indicators page", "web"),
    Operation("GET", "/indicators/add", add_confirmation,
              needs(Permission.INTERNAL_TI_ADD, tenant=True),
              "Add to Internal TI: confirmation", "web"),
    Operation("POST", "/indicators/internal-ti", add_internal_ti,
              needs(Permission.INTERNAL_TI_ADD, tenant=True), "Add to InternalTI", "web"),
    Operation("POST", "/indicators/internal-ti/delete", delete_internal_ti,
              needs(Permission.INTERNAL_TI_DELETE, tenant=True), "Remove from InternalTI",
              "web"),
    Operation("POST", "/indicators/false-positive", mark_false_positive,
              needs(Permission.FALSE_POSITIVE_WRITE, tenant=True), "Mark a false positive",
              "web"),
    Operation("POST", "/indicators/false-positive/delete", unmark_false_positive,
              needs(Permission.FALSE_POSITIVE_WRITE, tenant=True), "Unmark a false positive",
              "web"),
]
