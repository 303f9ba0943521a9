"""The pages' Starlette app, the templates, and the page table.

``WebPages`` holds the operations of every page (``PAGES``), a Starlette app
built from them with ``page_endpoint``, and the Jinja2 environment
(autoescaped: every value from a feed, an event or a user is escaped).
``TraplineApp`` hands it the requests whose path is a page's (``handles``).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Match, Route

from trapline.security.roles import Permission
from trapline.security.sessions import CookiePolicy
from trapline.service.http.auth import BasicAuth
from trapline.service.http.context import AppContext
from trapline.service.http.operations import PUBLIC, Operation
from trapline.web import (
    admin_pages,
    data_pages,
    feed_pages,
    lookup_pages,
    session_pages,
    setup_pages,
    tag_pages,
)
from trapline.web.guard import PageCall, page_endpoint, security_headers, with_tenant

STATIC = {"trapline.css": "text/css; charset=utf-8",
          "trapline.js": "text/javascript; charset=utf-8"}


def _static(name: str) -> bytes:
    return resources.files("trapline.web").joinpath("static", name).read_bytes()


async def static_file(call: PageCall) -> Response:
    name = call.path("name")
    if name not in STATIC:
        return Response(b"not found", 404, media_type="text/plain")
    assert call.web is not None
    response = Response(call.web.static[name], media_type=STATIC[name])
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


PAGES: list[Operation] = [
    Operation("GET", "/static/{name}", static_file, PUBLIC,
              "Static files (CSS, JS)", "static"),
    *session_pages.OPERATIONS, *data_pages.OPERATIONS, *lookup_pages.OPERATIONS,
    *tag_pages.OPERATIONS,
    *admin_pages.OPERATIONS, *setup_pages.OPERATIONS, *feed_pages.OPERATIONS,
]

# Navigation: (label, path, permission it needs).
NAV = [("Dashboard", "/", Permission.READ), ("Detections", "/detections", Permission.READ),
       ("Indicators", "/indicators", Permission.READ), ("Lookup", "/lookup", Permission.LOOKUP),
       ("Feeds", "/feeds", Permission.READ), ("Users", "/users", Permission.USERS_MANAGE),
       ("Audit log", "/audit", Permission.AUDIT_READ),
       ("Settings", "/settings", Permission.SETTINGS_MANAGE)]

# The pages the header's tenant picker goes to: a tenant page (one that acts in the
# chosen tenant) reloads itself; any other goes to its section's, else the dashboard.
TENANT_PAGES = ("/", "/detections", "/indicators", "/indicators/tags", "/lookup")


def picker_target(path: str) -> str:
    """Where the tenant picker's form goes from the page at ``path``."""
    if path in TENANT_PAGES:
        return path
    sections = [p for p in TENANT_PAGES if p != "/" and path.startswith(p + "/")]
    return max(sections, key=len) if sections else "/"


def embedding_cookie_policy(context: AppContext) -> CookiePolicy:
    """The session cookie for this face: SameSite=None, Secure and Partitioned when it is
    served over HTTPS and may be framed by a SIEM console (``http.allowed_frame_hosts``),
    so the session works inside the console's iframe; the context's policy otherwise."""
    settings = context.settings
    policy = context.cookie_policy
    if settings is not None and settings.http.allowed_frame_hosts and policy.https:
        return CookiePolicy(https=True, embedded=True, partitioned=True, name=policy.name,
                            path=policy.path, max_age=policy.max_age)
    return policy


def frame_sources(hosts: list[str]) -> tuple[str, ...]:
    """``http.allowed_frame_hosts`` as CSP sources (validated by the settings' pattern)."""
    return tuple(h.lower() for h in hosts)


# -- template filters ---------------------------------------------------------------------


def when(value: float | None) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def ago(value: float | None) -> str:
    if value is None:
        return "never"
    seconds = time.time() - value
    if seconds < 0:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=None, sort_keys=True, default=str)


def number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


@jinja2.pass_context
def in_tenant(context: Any, url: str) -> str:
    """``in_tenant('/detections?range=1h')``: a link that keeps the page's tenant."""
    return with_tenant(url, context.get("tenant", ""), context.get("own_tenant", ""))


class WebPages:
    """The web interface of one worker's HTTP face."""

    def __init__(self, context: AppContext, auth: BasicAuth) -> None:
        self.context = context
        self.operations = list(PAGES)
        settings = context.settings
        self.frame_hosts = frame_sources(settings.http.allowed_frame_hosts
                                         if settings is not None else [])
        self.static = {name: _static(name) for name in STATIC}
        self.versions = {name: hashlib.sha256(data).hexdigest()[:10]
                         for name, data in self.static.items()}
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("trapline.web", "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
            lstrip_blocks=True)
        self.templates.filters.update(when=when, ago=ago, pretty=pretty, number=number)
        self.templates.globals.update(static=self.static_url, in_tenant=in_tenant)
        self.starlette = Starlette(
            routes=[Route(op.path, page_endpoint(op, context, auth, self), methods=[op.method])
                    for op in self.operations],
            exception_handlers={HTTPException: self._http_exception})  # type: ignore[dict-item]

    def static_url(self, name: str) -> str:
        return f"/static/{name}?v={self.versions[name]}"

    def handles(self, scope: dict[str, Any]) -> bool:
        """Whether ``scope``'s path is a page's (any method: a wrong one is a 405 page)."""
        return any(route.matches(scope)[0] != Match.NONE for route in self.starlette.routes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.starlette(scope, receive, send)

    def nav(self, call: PageCall | None) -> list[tuple[str, str, str]]:
        """(label, path, link) of the pages the user may open; links keep the tenant."""
        principal = call.principal if call is not None else None
        if call is None or principal is None:
            return []
        return [(label, path, call.in_tenant(path)) for label, path, permission in NAV
                if principal.can(permission)]

    def render(self, call: PageCall | None, template: str, status: int = 200,
               **values: Any) -> Response:
        path = call.request.url.path if call is not None else ""
        principal = call.principal if call is not None else None
        shown = (call.shown_tenant or call.tenant) if call is not None else ""
        page = self.templates.get_template(template).render(
            me=principal, csrf_token=call.csrf_token if call is not None else "",
            nav=self.nav(call), path=path, tenant=shown,
            own_tenant=principal.tenant if principal is not None else "",
            tenant_choices=call.tenants if call is not None else [],
            picker_action=picker_target(path), **values)
        return HTMLResponse(page, status)

    def error_page(self, request: Request, code: int, reason: str,
                   headers: dict[str, str] | None = None) -> Response:
        titles = {400: "That did not work", 401: "Please sign in", 403: "Not allowed",
                  404: "Not found", 405: "Not allowed", 409: "Conflict",
                  413: "Too large", 429: "Too many attempts", 503: "Unavailable"}
        response = self.render(None, "error.html", code, code=code, reason=reason,
                               title=titles.get(code, "Error"))
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        reason = f"{request.method} {request.url.path}: {exc.detail}"
        return security_headers(self.error_page(request, exc.status_code, reason,
                                                dict(exc.headers or {})), self.frame_hosts)
