"""The route table of the management API: every operation declares who may call it.

    Operation("DELETE", "/api/v1/users/{name}", delete_user,
              needs(Permission.USERS_MANAGE), "Delete a user", "users", status=204)

Each operation names its access rule (``Access``): public, any signed-in user,
or one ``Permission`` of ``trapline.security.roles``; and whether it acts in
one tenant (``tenant=True``: the tenant of the 1.3 path, else ``?tenant=``,
else the user's own; an Analyst may only name their own). ``guard`` turns an
operation into a Starlette endpoint that, in this order:

1. finds who is asking: ``Authorization: Basic`` (through the login limiter)
   or ``Bearer tl_...``, else the session cookie; the user's role, tenant and
   disabled flag are then read from the store (at most 1 s old), so a
   demotion or a disable applies at once;
2. refuses anonymous callers (401) unless the operation is public;
3. checks CSRF for a state change made with a session cookie (403): Basic and
   Bearer requests carry no ambient credentials, a browser never adds them to
   a cross-site request, so they need no CSRF token;
4. checks the permission, then the tenant (403);
5. runs the handler, turning store errors into answers (404, 409, 400, 503).

The OpenAPI document (``openapi.py``) and the access-matrix test read the
same table, so a route that declares nothing cannot exist.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from trapline.security import csrf
from trapline.security.passwords import PasswordRejected
from trapline.security.roles import Permission, Principal, Role
from trapline.security.sessions import Session
from trapline.service.http.auth import BasicAuth
from trapline.service.http.context import AppContext, may_act_in
from trapline.service.http.errors import JSON, ApiError
from trapline.service.http.identity import (
    LoginThrottled,
    LoginUnavailable,
    recheck_changed_password,
)
from trapline.store import (
    Actor,
    AlreadyExists,
    InvalidInput,
    NotFound,
    ReservedName,
    StoreError,
    StoreUnavailable,
)

T = TypeVar("T")
log = logging.getLogger("trapline.http")

CHALLENGE = {"WWW-Authenticate": 'Basic realm="trapline"'}
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Access:
    """Who may call an operation: everyone (``public``), any signed-in user (no
    ``permission``), or the holders of ``permission``; ``tenant``: it acts in one
    tenant, and Analysts may only act in their own."""

    permission: Permission | None = None
    public: bool = False
    tenant: bool = False
    session: bool = True           # a session cookie is accepted (the bare lookups: no)

    def describe(self) -> str:
        if self.public:
            return "public"
        what = self.permission.value if self.permission else "signed in"
        return f"{what} (tenant)" if self.tenant else what


PUBLIC = Access(public=True)
SIGNED_IN = Access()


def needs(permission: Permission, *, tenant: bool = False, session: bool = True) -> Access:
    """The access rule of an operation that needs ``permission``."""
    return Access(permission=Permission(permission), tenant=tenant, session=session)


@dataclass(frozen=True)
class Param:
    """A query parameter, as the handler reads it and the OpenAPI document shows it."""

    name: str
    schema: dict[str, Any]
    description: str
    required: bool = False


Handler = Callable[["Call"], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    """One method on one path: its handler, access rule, body and answer types."""

    method: str
    path: str                      # Starlette's template: /api/v1/lists/InternalTI/{value:path}
    handler: Handler | None        # None: served outside Starlette (the bare lookup handler)
    access: Access
    summary: str
    group: str                     # the OpenAPI tag
    body: Any = None               # the JSON body's type (msgspec), None: no body
    response: Any = None           # the 2xx body's type, None: no body
    status: int = 200
    query: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()   # answers beyond the usual ones (409, ...)
    form: bool = False             # the body may also be a urlencoded form
    description: str = ""
    media_type: str = JSON
    example: Any = None            # a request body example for the documentation
    unavailable_body: bool = False  # a 503 answers with the response type, not an error

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path


@dataclass
class Call:
    """One request to an operation, after the guard: who, in which tenant, and helpers."""

    request: Request
    context: AppContext
    operation: Operation
    principal: Principal | None
    tenant: str
    session: Session | None = None
    auth: BasicAuth | None = None  # its cache of checked passwords, cleared after changes
    headers: dict[str, str] = field(default_factory=dict)  # extra answer headers
    cookie_set: bool = False       # the handler set or cleared the session cookie
    _body: bytes | None = None

    @property
    def store(self) -> Any:
        assert self.context.store is not None
        return self.context.store

    @property
    def address(self) -> str:
        client = self.request.client
        return client.host if client else ""

    @property
    def user(self) -> Principal:
        """The signed-in principal (the guard let nobody else in)."""
        assert self.principal is not None
        return self.principal

    @property
    def actor(self) -> Actor:
        """Who makes a change, for the audit log."""
        return Actor(name=self.user.name, address=self.address)

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def forget_user(self, name: str | None = None) -> None:
        """After a change to a user: drop what this worker holds of them."""
        if self.context.authenticator is not None:
            self.context.authenticator.forget(name)
        if self.auth is not None:
            self.auth.clear()

    def query(self, name: str, default: str | None = None) -> str | None:
        """A declared query parameter (asking for an undeclared one is a bug)."""
        assert any(p.name == name for p in self.operation.query), \
            f"{self.operation.path}: query parameter {name!r} is not declared"
        return self.request.query_params.get(name, default)

    def int_query(self, name: str, default: int, lowest: int, highest: int) -> int:
        text = self.query(name)
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            raise ApiError(400, f"{name} must be a whole number, not {text[:40]!r}") from None
        if not lowest <= value <= highest:
            raise ApiError(400, f"{name} must be between {lowest} and {highest}")
        return value

    def time_query(self, name: str) -> float | None:
        """A time parameter: epoch seconds, or ISO 8601 (UTC when no offset is given)."""
        text = self.query(name)
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ApiError(400, f"{name} must be epoch seconds or ISO 8601, "
                               f"not {text[:40]!r}") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            value = moment.timestamp()
        if not math.isfinite(value) or not 0 <= value < 1e11:
            raise ApiError(400, f"{name} is out of range")
        return value

    async def raw_body(self) -> bytes:
        """The request body, at most ``max_body_bytes`` (413 past it)."""
        if self._body is None:
            cap = self.context.max_body_bytes
            length = self.request.headers.get("content-length", "")
            if length.isdigit() and int(length) > cap:
                raise ApiError(413, f"request body of {length} bytes is over the limit of "
                               f"{cap} bytes")
            buffer = bytearray()
            async for chunk in self.request.stream():
                buffer += chunk
                if len(buffer) > cap:
                    raise ApiError(413, f"request body is over the limit of {cap} bytes",
                                   {"Connection": "close"})
            self._body = bytes(buffer)
        return self._body

    async def body(self, kind: type[T]) -> T:
        """The JSON body (or, for a form operation, a urlencoded form) as ``kind``."""
        raw = await self.raw_body()
        content_type = self.request.headers.get("content-type", "").split(";")[0].strip()
        try:
            if self.operation.form and content_type.lower() == FORM:
                fields = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                return msgspec.convert(fields, kind)
            return msgspec.json.decode(raw, type=kind)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # ValidationError too
            raise ApiError(400, f"malformed request: {exc}") from None
        except RecursionError:
            raise ApiError(400, "malformed request: JSON nested too deeply") from None

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking call (the store) in a thread, off the event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)


def encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


def json_response(value: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    return Response(encode(value), status, headers=headers, media_type=JSON)


async def identify(request: Request, context: AppContext, auth: BasicAuth, *,
                   cookie: bool = True) -> tuple[Principal | None, Session | None, str]:
    """Who is asking, their session (when by cookie), and why nobody when nobody."""
    authenticator = context.authenticator
    header = request.headers.get("authorization")
    client = request.client
    address = client.host if client else ""
    try:
        if header:
            raw = header.encode("latin-1", "replace")
            principal = await auth.check(raw, address)
            if principal is not None and authenticator is not None:
                principal = await recheck_changed_password(auth, authenticator, raw,
                                                           principal, address)
                if principal is not None:
                    principal = await authenticator.current(principal)
            return principal, None, "wrong user name, password or token"
        codec = context.sessions
        if codec is None or not cookie:
            return None, None, "authentication required"
        session = codec.loads(request.cookies.get(context.cookie_policy.cookie_name))
        if session is None:
            return None, None, "authentication required"
        principal = Principal(name=session.user, role=session.role, tenant=session.tenant,
                              via="session")
        if authenticator is not None:
            record = await authenticator.user(session.user)
            ended = record.sessions_valid_after if record is not None else None
            if ended is not None and session.issued_at < int(ended):
                return None, None, "the session was ended (password changed or signed out " \
                                   "everywhere)"
            principal = await authenticator.current(principal)
        if principal is None:
            return None, None, "the session's user is disabled or gone"
        return principal, session, ""
    except LoginThrottled as exc:
        context.stats.count("http_throttled")
        raise ApiError(429, str(exc), {"Retry-After": exc.header}) from None
    except LoginUnavailable as exc:
        raise ApiError(503, f"authentication unavailable: {exc}") from None


async def run_handler(handler: Callable[[Any], Awaitable[Any]], call: Any) -> Any:
    """Run an operation's handler; login, store and password errors become ApiErrors."""
    try:
        return await handler(call)
    except LoginThrottled as exc:
        raise ApiError(429, str(exc), {"Retry-After": exc.header}) from None
    except LoginUnavailable as exc:
        raise ApiError(503, f"authentication unavailable: {exc}") from None
    except (StoreError, PasswordRejected) as exc:
        status = next(s for kind, s in _STORE_ERRORS if isinstance(exc, kind))
        raise ApiError(status, str(exc)) from None


def own_origin(request: Request) -> str:
    """The server's origin as the browser that sent ``request`` sees it."""
    host = request.headers.get("host") or (request.url.hostname or "")
    return f"{request.url.scheme}://{host}"


def allowed_origins(request: Request, context: AppContext) -> list[str]:
    return [own_origin(request), *context.allowed_origins]


def resolve_tenant(request: Request, principal: Principal | None) -> str:
    """The tenant an operation acts in: the 1.3 path's, else ``?tenant=``, else the user's."""
    named = request.path_params.get("tenant") or request.query_params.get("tenant")
    if named:
        return str(named)
    return principal.tenant if principal is not None else ""


_STORE_ERRORS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404), (AlreadyExists, 409), (ReservedName, 409), (InvalidInput, 400),
    (PasswordRejected, 400), (StoreUnavailable, 503), (StoreError, 503))


def refresh_session(response: Response, context: AppContext, session: Any,
                    call: Call) -> None:
    """A session cookie past half its life is sent again, renewed (unless the handler
    set one itself: sign-in, password change)."""
    codec = context.sessions
    if session is not None and codec is not None and not call.cookie_set \
            and codec.refresh_due(session):
        response.headers.append("set-cookie", context.cookie_policy.header(
            codec.dumps(session)))


def guard(operation: Operation, context: AppContext, auth: BasicAuth
          ) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of ``operation``: identify, authorize, run, answer."""
    access = operation.access
    handler = operation.handler
    assert handler is not None
    if access.permission is not None:
        Permission(access.permission)  # a misspelt permission fails at start, loudly

    async def endpoint(request: Request) -> Response:
        principal, session = None, None
        if not access.public:  # public ones check no credentials (nor count a wrong one)
            principal, session, why = await identify(request, context, auth,
                                                     cookie=access.session)
            if principal is None:
                context.stats.count("http_unauthorized")
                challenge = None if context.cookie_policy.cookie_name in request.cookies \
                    else CHALLENGE
                raise ApiError(401, why, challenge)
            if session is not None and not csrf.is_safe_method(request.method):
                decision = csrf.check_request(request.method, dict(request.headers), session,
                                              allowed_origins(request, context))
                if not decision:
                    context.stats.count("http_csrf_refused")
                    log.warning("CSRF: %s %s by %s refused: %s", request.method,
                                request.url.path, principal.name, decision.reason)
                    raise ApiError(403, f"refused: {decision.reason}")
            if access.permission is not None and not principal.can(access.permission):
                context.stats.count("http_forbidden")
                raise ApiError(403, f"user {principal.name!r} ({principal.role}) may not "
                               f"{access.permission.value}")
        if access.tenant:
            tenant = resolve_tenant(request, principal)
        else:  # an operation that names no tenant never acts in one the caller picked
            tenant = principal.tenant if principal is not None else ""
        if access.tenant and principal is not None and not may_act_in(principal, tenant):
            context.stats.count("http_forbidden")
            raise ApiError(403, f"user {principal.name!r} may not act in tenant {tenant[:128]!r}")
        call = Call(request, context, operation, principal, tenant, session, auth)
        result = await run_handler(handler, call)
        if isinstance(result, Response):
            response = result
        elif operation.response is None:
            response = Response(status_code=operation.status)
        else:
            response = Response(encode(result), operation.status,
                                media_type=operation.media_type)
        for name, value in call.headers.items():
            response.headers.append(name, value)
        refresh_session(response, context, session, call)
        return response

    endpoint.operation = operation  # type: ignore[attr-defined]
    return endpoint


def openapi_path(path: str) -> str:
    """``/x/{value:path}`` -> ``/x/{value}``: the template without Starlette's convertors."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def is_admin(principal: Principal | None) -> bool:
    return principal is not None and principal.role == Role.ADMINISTRATOR
