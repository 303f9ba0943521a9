"""Browser sessions: log in, who am I, log out, change one's password.

    POST   /api/v1/session            {"user": "alice", "password": "..."}  (JSON or form)
    GET    /api/v1/session            -> {"user", "role", "tenant", "via", "csrf_token", ...}
    DELETE /api/v1/session            log out (the cookie is deleted)
    POST   /api/v1/session/password   {"current": "...", "new": "..."}

A login sets the signed session cookie (``CookiePolicy``) and answers the CSRF
token every later change made with that cookie must carry in
``X-CSRF-Token``. The login itself has no session yet, so it gets the origin
check alone (it stops login CSRF); its password goes through the login limiter
like every other.
"""

from __future__ import annotations

from starlette.responses import Response

from trapline.security import csrf
from trapline.security.passwords import hash_password_async
from trapline.security.roles import Permission
from trapline.security.sessions import new_session
from trapline.service.http.errors import ApiError
from trapline.service.http.operations import (
    PUBLIC,
    SIGNED_IN,
    Call,
    Operation,
    allowed_origins,
    json_response,
)
from trapline.service.http.schemas import EndSessions, LoginRequest, PasswordChange, SessionInfo

NO_STORE = {"Cache-Control": "no-store"}


async def login(call: Call) -> Response:
    context = call.context
    decision = csrf.check_origin("POST", dict(call.request.headers),
                                 allowed_origins(call.request, context))
    if not decision:
        raise ApiError(403, f"refused: {decision.reason}")
    codec, authenticator = context.sessions, context.authenticator
    if codec is None or authenticator is None:
        raise ApiError(503, "browser sessions are not configured")
    body = await call.body(LoginRequest)
    principal = await authenticator.password(body.user, body.password, call.address)
    if principal is None:
        raise ApiError(401, "wrong user name or password")
    record = await authenticator.user(principal.name)
    session = new_session(principal.name, principal.tenant, principal.role)
    info = SessionInfo(user=principal.name, role=principal.role, tenant=principal.tenant,
                       via="session", csrf_token=csrf.csrf_token(session),
                       must_change_password=bool(record and record.must_change_password),
                       expires_at=float(session.issued_at + codec.max_age))
    call.cookie_set = True
    return json_response(info, headers={
        "set-cookie": context.cookie_policy.header(codec.dumps(session)), **NO_STORE})


async def whoami(call: Call) -> Response:
    principal = call.user
    record = None
    if call.context.authenticator is not None:
        record = await call.context.authenticator.user(principal.name)
    token = expires = None
    if call.session is not None:
        token = csrf.csrf_token(call.session)
        codec = call.context.sessions
        if codec is not None:
            expires = float(call.session.issued_at + codec.max_age)
    return json_response(SessionInfo(
        user=principal.name, role=principal.role, tenant=principal.tenant, via=principal.via,
        csrf_token=token, must_change_password=bool(record and record.must_change_password),
        expires_at=expires), headers=NO_STORE)


async def logout(call: Call) -> Response:
    call.cookie_set = True
    return Response(status_code=204, headers={
        "set-cookie": call.context.cookie_policy.clear_header(), **NO_STORE})


async def change_password(call: Call) -> Response:
    authenticator = call.context.authenticator
    if authenticator is None:
        raise ApiError(503, "users are not configured")
    body = await call.body(PasswordChange)
    name = call.user.name
    if await authenticator.password(name, body.current, call.address) is None:
        raise ApiError(403, "the current password is wrong")
    hashed = await hash_password_async(body.new)
    await call.run(call.store.users.set_password, call.actor, name, hashed,
                   must_change_password=False)
    call.forget_user(name)
    # Every session signed before the change has ended; this browser gets a new one
    # (its CSRF token is read again with GET /api/v1/session).
    return _renewed(call, Response(status_code=204, headers=NO_STORE))


async def end_sessions(call: Call) -> Response:
    body = await call.body(EndSessions)
    own = body.user == call.user.name
    if not own and not call.user.can(Permission.USERS_MANAGE):
        raise ApiError(403, "ending another user's sessions needs users.manage")
    await call.run(call.store.users.end_sessions, call.actor, body.user)
    call.forget_user(body.user)
    if not own:
        return Response(status_code=204, headers=NO_STORE)
    call.cookie_set = True
    return Response(status_code=204, headers={
        "set-cookie": call.context.cookie_policy.clear_header(), **NO_STORE})


def _renewed(call: Call, response: Response) -> Response:
    """``response`` with a fresh session cookie when the caller came with a session."""
    codec = call.context.sessions
    if call.session is None or codec is None:
        return response
    principal = call.user
    session = new_session(principal.name, principal.tenant, principal.role)
    call.cookie_set = True
    response.headers["set-cookie"] = call.context.cookie_policy.header(codec.dumps(session))
    return response


OPERATIONS = [
    Operation("POST", "/api/v1/session", login, PUBLIC, "Log in: set the session cookie",
              "session", body=LoginRequest, response=SessionInfo, form=True,
              errors=(401, 403, 429), example={"user": "alice", "password": "s3cret"},
              description="JSON or a urlencoded form. The origin check applies (Origin or "
                          "Referer must be this server's or an allowed one). Answers the "
                          "CSRF token for later changes."),
    Operation("GET", "/api/v1/session", whoami, SIGNED_IN, "Who am I (and my CSRF token)",
              "session", response=SessionInfo),
    Operation("DELETE", "/api/v1/session", logout, SIGNED_IN, "Log out: delete the cookie",
              "session", status=204),
    Operation("POST", "/api/v1/session/password", change_password, SIGNED_IN,
              "Change one's own password", "session", body=PasswordChange, status=204,
              example={"current": "old-secret", "new": "new-secret"},
              description="Every browser session signed before ends; the caller's own "
                          "session is renewed (read the new CSRF token again)."),
    Operation("POST", "/api/v1/session/end-all", end_sessions, SIGNED_IN,
              "Sign out everywhere", "session", body=EndSessions, status=204,
              errors=(403, 404), example={"user": "alice"},
              description="Ends every browser session of `user`: one's own (this one "
                          "included), or another user's with users.manage."),
]
