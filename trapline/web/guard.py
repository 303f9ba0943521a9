"""The page guard: who is asking, may they, is the form genuine; and the security headers.

    Operation("GET", "/feeds", feeds_page, needs(Permission.READ), "Feeds", "web")

A page is an ``Operation`` like an API route (same ``Access`` rules), served by
``page_endpoint`` instead of the API's ``guard``. In this order:

1. who: the session cookie (or an ``Authorization`` header, as the API);
2. nobody and not public: a GET is redirected (303) to ``/login?next=...``,
   anything else is a 401 page;
3. a change (POST) made with a session cookie must pass
   ``trapline.security.csrf.check_request`` with the form's ``csrf_token``
   field (403 page otherwise, nothing changes);
4. the permission, then the tenant (403 page);
5. the handler; an ``ApiError`` or a store error becomes an error page.

Every answer, errors and redirects included, carries the security headers:
a Content-Security-Policy without inline scripts or styles and with
``frame-ancestors`` from ``http.allowed_frame_hosts``, ``X-Content-Type-Options``,
``Referrer-Policy``, and ``Cache-Control: no-store`` for pages.
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from trapline.security import csrf
from trapline.security.roles import Permission
from trapline.service.http.auth import BasicAuth
from trapline.service.http.context import AppContext, may_act_in
from trapline.service.http.errors import ApiError
from trapline.service.http.operations import (
    Call,
    Operation,
    allowed_origins,
    identify,
    refresh_session,
    resolve_tenant,
    run_handler,
)
from trapline.store import StoreError

if TYPE_CHECKING:
    from trapline.web.app import WebPages

log = logging.getLogger("trapline.web")

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
MAX_FIELDS = 200
#: Pages a user who must change the password may still open.
PASSWORD_FREE = frozenset({"/account/password", "/logout", "/login"})


@dataclass
class PageCall(Call):
    """A page request after the guard: the API's ``Call`` plus the parsed form."""

    web: WebPages | None = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    #: The tenants the user may act in (the header's tenant picker when more than one).
    tenants: list[str] = field(default_factory=list)
    #: The tenant the pages show and their links keep: the tenant of a tenant page; on
    #: any other page the ``?tenant=`` the user may act in, else their own.
    shown_tenant: str = ""

    def in_tenant(self, url: str) -> str:
        """``url`` keeping the shown tenant (``tenant=NAME`` added when it is not the
        user's own)."""
        own = self.principal.tenant if self.principal is not None else ""
        return with_tenant(url, self.shown_tenant or own, own)

    def arg(self, name: str, default: str = "") -> str:
        """A query parameter (pages read them freely; they change nothing)."""
        return self.request.query_params.get(name, default)

    def field(self, name: str, default: str = "") -> str:
        """A form field, stripped."""
        return self.form.get(name, default).strip()

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        assert self.web is not None
        return self.web.render(self, template, status, **values)

    def redirect(self, url: str) -> Response:
        return Response(status_code=303, headers={"Location": url})

    @property
    def csrf_token(self) -> str:
        return csrf.csrf_token(self.session) if self.session is not None else ""


def with_tenant(url: str, tenant: str, own: str) -> str:
    """``url`` with ``tenant=NAME`` added when ``tenant`` is not ``own`` (the default)."""
    if not tenant or tenant == own:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'tenant': tenant})}"


async def tenant_choices(call: PageCall) -> list[str]:
    """The tenants ``call``'s user may act in (``may_act_in``), by name; only their own
    when the store cannot say."""
    principal = call.user
    store = call.context.store
    if store is None:
        return [principal.tenant]
    try:
        tenants = await call.run(store.tenants.all)
    except StoreError as exc:
        log.error("tenants unavailable: %s", exc)
        return [principal.tenant]
    return [t.name for t in tenants if may_act_in(principal, t.name)] or [principal.tenant]


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in; anything else is the dashboard."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) \
            or any(c in target for c in "\r\n\\"):
        return "/"
    return target


def parse_form(raw: bytes, content_type: str) -> tuple[dict[str, str],
                                                       dict[str, tuple[str, bytes]]]:
    """A urlencoded or multipart form: its text fields and its files (name, bytes)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == FORM:
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True,
                              max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, f"malformed form: {exc}") from None
        return dict(pairs), {}
    if kind == MULTIPART:
        # The standard library's MIME parser reads multipart/form-data (no extra dependency).
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        if not message.is_multipart():
            raise ApiError(400, "malformed form: not multipart")
        fields: dict[str, str] = {}
        files: dict[str, tuple[str, bytes]] = {}
        for part in list(message.iter_parts())[:MAX_FIELDS]:
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                files[name] = (str(filename), bytes(payload))
            else:
                fields[name] = bytes(payload).decode("utf-8", "replace")
        return fields, files
    if not raw:
        return {}, {}
    raise ApiError(415, f"a form is {FORM} or {MULTIPART}, not {kind[:60]!r}")


def security_headers(response: Response, frame_hosts: tuple[str, ...], *,
                     page: bool = True) -> Response:
    """The headers every answer of the web interface carries."""
    ancestors = " ".join(["'self'", *frame_hosts])
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {ancestors}")
    if not frame_hosts:
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if page:
        response.headers["Cache-Control"] = "no-store"
    return response


Handler = Callable[[PageCall], Awaitable[Response]]


def page_endpoint(operation: Operation, context: AppContext, auth: BasicAuth,
                  web: WebPages) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of a page: identify, check, run, add the headers."""
    access = operation.access
    handler = operation.handler
    assert handler is not None
    if access.permission is not None:
        Permission(access.permission)

    async def endpoint(request: Request) -> Response:
        try:
            response = await _serve(request)
        except ApiError as exc:
            response = web.error_page(request, exc.status, exc.reason, exc.headers)
        return security_headers(response, web.frame_hosts,
                                page=operation.group != "static")

    async def _serve(request: Request) -> Response:
        try:
            principal, session, why = await identify(request, context, auth)
        except ApiError:
            if not access.public:
                raise
            principal, session, why = None, None, ""
        unsafe = not csrf.is_safe_method(request.method)
        if principal is None and not access.public:
            context.stats.count("http_unauthorized")
            if not unsafe:
                target = request.url.path + (f"?{request.url.query}" if request.url.query
                                             else "")
                return Response(status_code=303,
                                headers={"Location": "/login?next=" + quote(target, safe="")})
            raise ApiError(401, f"sign in first ({why})")
        if session is not None and principal is not None and operation.group != "static" \
                and request.url.path not in PASSWORD_FREE and context.authenticator is not None:
            record = await context.authenticator.user(principal.name)
            if record is not None and record.must_change_password:
                # A password set for the user (the first admin, a reset): theirs first.
                if not unsafe:
                    return Response(status_code=303, headers={"Location": "/account/password"})
                raise ApiError(403, "change your password first (/account/password)")
        call = PageCall(request, context, operation, principal,
                        principal.tenant if principal is not None else "", session, auth,
                        web=web)
        if unsafe:
            raw = await call.raw_body()
            call.form, call.files = parse_form(raw, request.headers.get("content-type", ""))
            if session is not None:
                decision = csrf.check_request(request.method, dict(request.headers), session,
                                              allowed_origins(request, context),
                                              form_token=call.form.get(csrf.FORM_FIELD))
                if not decision:
                    context.stats.count("http_csrf_refused")
                    log.warning("CSRF: %s %s by %s refused: %s", request.method,
                                request.url.path, session.user, decision.reason)
                    raise ApiError(403, f"refused: {decision.reason}. Reload the page and "
                                        "try again.")
        if principal is not None and access.permission is not None \
                and not principal.can(access.permission):
            context.stats.count("http_forbidden")
            raise ApiError(403, f"{principal.name} ({principal.role}) may not "
                                f"{access.permission.value}: this page is for "
                                "Administrators.")
        if access.tenant and principal is not None:
            call.tenant = resolve_tenant(request, principal)
            if not may_act_in(principal, call.tenant):
                context.stats.count("http_forbidden")
                raise ApiError(403, f"{principal.name} may not act in tenant "
                                    f"{call.tenant[:128]!r}")
        if principal is not None and operation.group != "static":
            call.tenants = await tenant_choices(call)
            wanted = request.query_params.get("tenant", "")
            call.shown_tenant = call.tenant if access.tenant else (
                wanted if wanted in call.tenants else principal.tenant)
        response = await run_handler(handler, call)
        refresh_session(response, context, session, call)
        return response

    endpoint.operation = operation  # type: ignore[attr-defined]
    return endpoint
