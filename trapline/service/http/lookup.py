"""``POST /api/1.{0,1,2}/lookup`` and ``/api/1.3/{tenant}/lookup`` (protocol.md section 2).

    POST /api/1.1/lookup   Authorization: Basic ...
    [{"object": "http://example.com"}, {"object": "C1153422C5F68E731347F6A33F791598"}]
    -> [{"object": "http://example.com", "result": "not detected", "categories": []}, ...]

The hot path, so a bare ASGI handler: no Request or Response objects, the body
read in chunks up to the cap (``max_body_bytes``, refused at once when
``Content-Length`` already says more), decoded by msgspec into typed structs,
looked up in one call, encoded from structs. A request of more than ``SLICE``
objects is looked up slice by slice, letting other requests run in between;
each object still sees one snapshot version whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import msgspec

from trapline.errors import TraplineError
from trapline.index.verdict import Match
from trapline.security.roles import Permission
from trapline.service.http.auth import CHALLENGE, BasicAuth
from trapline.service.http.context import AppContext, may_act_in
from trapline.service.http.errors import error_body
from trapline.service.http.identity import (
    LoginThrottled,
    LoginUnavailable,
    recheck_changed_password,
)
from trapline.verdict_format import match_context

log = logging.getLogger("trapline.http")

PATHS = frozenset({"/api/1.0/lookup", "/api/1.1/lookup", "/api/1.2/lookup"})
TENANT_PREFIX = "/api/1.3/"
SUFFIX = "/lookup"
SLICE = 4096
DETECTED = "detected"
NOT_DETECTED = "not detected"
_JSON = (b"content-type", b"application/json")
_ALLOW = (b"allow", b"POST")
_CLOSE = (b"connection", b"close")


class LookupItem(msgspec.Struct):
    """One requested object; other fields of the item are ignored."""

    object: str


class Category(msgspec.Struct):
    category: str
    detected_indicator: str
    context: dict[str, Any]


class Entry(msgspec.Struct):
    object: str
    result: str
    categories: Sequence[Category]


_DECODER = msgspec.json.Decoder(list[LookupItem])
_ENCODER = msgspec.json.Encoder()
_NONE: tuple[Category, ...] = ()


def lookup_tenant(path: str) -> str | None:
    """For a lookup path, its tenant ("" for 1.0-1.2, which name none); else None."""
    if path in PATHS:
        return ""
    if path.startswith(TENANT_PREFIX) and path.endswith(SUFFIX):
        tenant = path[len(TENANT_PREFIX):-len(SUFFIX)]
        if tenant and "/" not in tenant:
            return tenant
    return None


def category(match: Match) -> Category:
    """One category entry: the record's context, its lifecycle fields, and its feed."""
    if match.first_seen is None and match.last_seen is None and match.valid_until is None \
            and match.confidence is None:
        context = {**match.context}  # no timestamps to format: the common case, made cheap
    else:
        context = match_context(match)
    context.setdefault("feed", match.feed)
    return Category(match.category, match.pattern, context)


class Refused(Exception):
    """A request answered with an error: status, reason, extra headers."""

    def __init__(self, status: int, reason: str, counter: str,
                 headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(reason)
        self.status, self.reason, self.counter, self.headers = status, reason, counter, headers


class _Disconnected(Exception):
    """The client went away before its body was read."""


class LookupHandler:
    """The bare ASGI lookup handler; ``__call__`` returns the status it answered."""

    def __init__(self, context: AppContext, auth: BasicAuth) -> None:
        self.context = context
        self.auth = auth
        self.stats = context.stats
        self.roles: dict[str, bool] = {}  # role: may look up (permissions are static)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any,
                       tenant: str) -> int:
        try:
            body = await self._answer(scope, receive, tenant)
        except Refused as refused:
            self.stats.count(refused.counter)
            await _respond(send, refused.status, error_body(refused.reason), refused.headers)
            return refused.status
        except _Disconnected:
            self.stats.count("http_disconnected")
            return 499
        except Exception:
            log.exception("lookup failed")
            self.stats.count("http_internal_errors")
            await _respond(send, 500, error_body("internal error"))
            return 500
        await _respond(send, 200, body)
        return 200

    async def _answer(self, scope: dict[str, Any], receive: Any, tenant: str) -> bytes:
        if scope["method"] != "POST":
            raise Refused(405, f"method not allowed: {scope['method']} {scope['path']} "
                          "(lookups are POST)", "http_bad_requests", (_ALLOW,))
        authorization = None
        length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                length = value
        client = scope.get("client")
        try:
            principal = await self.auth.check(authorization, client[0] if client else "")
        except LoginThrottled as exc:
            raise Refused(429, str(exc), "http_throttled",
                          ((b"retry-after", exc.header.encode()),)) from None
        except LoginUnavailable as exc:
            raise Refused(503, f"authentication unavailable: {exc}",
                          "http_auth_unavailable") from None
        authenticator = self.context.authenticator
        if principal is not None and authenticator is not None:
            # A user disabled or demoted since the password was checked; when the store
            # is briefly away, the checked credentials keep serving.
            with contextlib.suppress(LoginUnavailable):
                principal = await recheck_changed_password(
                    self.auth, authenticator, authorization or b"", principal,
                    client[0] if client else "")
                if principal is not None:
                    principal = await authenticator.current(principal)
        if principal is None:
            reason = "wrong user name or password" if authorization else \
                "authentication required"
            raise Refused(401, reason, "http_unauthorized", (CHALLENGE,))
        allowed = self.roles.get(principal.role)
        if allowed is None:
            allowed = self.roles[principal.role] = principal.can(Permission.LOOKUP)
        if not allowed:
            raise Refused(403, f"user {principal.name!r} may not look up", "http_forbidden")
        if not tenant:
            tenant = principal.tenant  # 1.0-1.2 name no tenant: the user's own
        elif not may_act_in(principal, tenant):
            raise Refused(403, f"user {principal.name!r} may not look up in tenant {tenant!r}",
                          "http_forbidden")
        cap = self.context.max_body_bytes
        if length is not None and length.isdigit() and int(length) > cap:
            raise Refused(413, f"request body of {int(length)} bytes is over the limit of "
                          f"{cap} bytes", "http_too_large")
        body = await _read_body(receive, cap)
        try:
            items = _DECODER.decode(body)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            raise Refused(400, f"malformed request: {exc}", "http_bad_requests") from None
        except RecursionError:  # msgspec's answer to deep nesting, even in ignored fields
            raise Refused(400, "malformed request: JSON nested too deeply",
                          "http_bad_requests") from None
        del body
        if not items:
            raise Refused(400, "malformed request: at least one object must be given",
                          "http_bad_requests")
        values = [item.object for item in items]
        del items
        try:
            verdicts = await self._lookup(values, tenant)
        except TraplineError as exc:
            raise Refused(503, f"lookups unavailable: {exc}", "http_lookup_failures") from None
        entries = [Entry(v.observable, DETECTED, [category(m) for m in v.matches])
                   if v.matches else Entry(v.observable, NOT_DETECTED, _NONE)
                   for v in verdicts]
        counters = self.stats.counters
        counters["http_lookups"] += 1
        counters["http_observables"] += len(values)
        counters["http_detected"] += sum(1 for e in entries if e.categories)
        return _ENCODER.encode(entries)

    async def _lookup(self, values: list[str], tenant: str) -> list[Any]:
        lookup_many = self.context.lookup_many
        if len(values) <= SLICE:
            return lookup_many(values, tenant)
        verdicts: list[Any] = []
        for start in range(0, len(values), SLICE):
            verdicts += lookup_many(values[start:start + SLICE], tenant)
            await asyncio.sleep(0)  # let other requests of this worker run
        return verdicts


async def _read_body(receive: Any, cap: int) -> bytes | bytearray:
    """The whole request body, at most ``cap`` bytes; Refused(413) past it."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise _Disconnected
    body = message.get("body", b"")
    if not message.get("more_body"):
        if len(body) > cap:
            raise Refused(413, f"request body is over the limit of {cap} bytes",
                          "http_too_large", (_CLOSE,))
        return body
    buffer = bytearray(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        buffer += message.get("body", b"")
        if len(buffer) > cap:
            # Stop reading: the connection closes after the answer.
            raise Refused(413, f"request body is over the limit of {cap} bytes",
                          "http_too_large", (_CLOSE,))
        if not message.get("more_body"):
            return buffer


async def _respond(send: Any, status: int, body: bytes,
                   headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [_JSON, (b"content-length", b"%d" % len(body)), *headers]})
    await send({"type": "http.response.body", "body": body})
