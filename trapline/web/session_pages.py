"""Sign in and sign out.

    GET  /login?next=/detections     the form (a signed-in user goes straight on)
    POST /login                      user, password: the session cookie, then ``next``
    POST /logout                     the cookie is deleted (CSRF-checked like every form)

The sign-in form has no session yet, so it gets the origin check alone (it
stops login CSRF); every password goes through the login limiter, so too many
failures answer 429 with the time to wait.
"""

from __future__ import annotations

from starlette.responses import Response

from trapline.security import csrf
from trapline.security.passwords import hash_password_async
from trapline.security.sessions import new_session
from trapline.service.http.identity import LoginThrottled
from trapline.service.http.operations import PUBLIC, SIGNED_IN, Operation, allowed_origins
from trapline.web import setup_pages
from trapline.web.guard import PageCall, safe_next

NOTICES = {"signed-out": "You are signed out.",
           "expired": "Your session ended; please sign in again."}


async def login_form(call: PageCall) -> Response:
    target = safe_next(call.arg("next"))
    if call.principal is not None:
        return call.redirect(target)
    return call.render("login.html", title="Sign in", next=target, user="",
                       error="", notice=NOTICES.get(call.arg("notice"), ""))


async def login(call: PageCall) -> Response:
    context = call.context
    target = safe_next(call.field("next"))
    user, password = call.field("user"), call.form.get("password", "")

    def again(status: int, error: str, headers: dict[str, str] | None = None) -> Response:
        response = call.render("login.html", status, title="Sign in", next=target,
                               user=user, error=error, notice="")
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    decision = csrf.check_origin("POST", dict(call.request.headers),
                                 allowed_origins(call.request, context))
    if not decision:
        return again(403, f"Refused: {decision.reason}.")
    codec, authenticator = context.sessions, context.authenticator
    if codec is None or authenticator is None:
        return again(503, "Browser sessions are not configured on this server.")
    if not user or not password or len(user) > 128 or len(password) > 1024:
        return again(400, "Enter your user name and password.")
    try:
        principal = await authenticator.password(user, password, call.address)
    except LoginThrottled as exc:
        context.stats.count("http_throttled")
        return again(429, f"Too many failed sign-ins: try again in {exc.header} s.",
                     {"Retry-After": exc.header})
    if principal is None:
        return again(401, "Wrong user name or password.")
    session = new_session(principal.name, principal.tenant, principal.role)
    call.principal = principal
    if target == "/" and await setup_pages.setup_pending(call):
        target = "/setup"  # an Administrator's first sign-in: the first-run wizard
    call.cookie_set = True
    return Response(status_code=303, headers={
        "Location": target, "set-cookie": context.cookie_policy.header(codec.dumps(session))})


async def logout(call: PageCall) -> Response:
    call.cookie_set = True
    return Response(status_code=303, headers={
        "Location": "/login?notice=signed-out",
        "set-cookie": call.context.cookie_policy.clear_header()})


MIN_PASSWORD = 12


async def password_form(call: PageCall) -> Response:
    return await _password_page(call, 200, "")


async def _password_page(call: PageCall, status: int, error: str) -> Response:
    record = None
    if call.context.authenticator is not None and call.principal is not None:
        record = await call.context.authenticator.user(call.principal.name)
    return call.render("account_password.html", status, title="Change your password",
                       error=error, forced=bool(record and record.must_change_password))


async def change_password(call: PageCall) -> Response:
    authenticator, codec = call.context.authenticator, call.context.sessions
    principal = call.principal
    if authenticator is None or codec is None or principal is None or call.store is None:
        return await _password_page(call, 503, "Accounts are not configured on this server.")
    current, new = call.form.get("current", ""), call.form.get("new", "")
    if new != call.form.get("again", ""):
        return await _password_page(call, 400, "The two new passwords differ.")
    if len(new) < MIN_PASSWORD:
        return await _password_page(call, 400, f"Choose at least {MIN_PASSWORD} characters.")
    if new == current:
        return await _password_page(call, 400, "Choose a password other than the current one.")
    if await authenticator.password(principal.name, current, call.address) is None:
        return await _password_page(call, 403, "The current password is wrong.")
    hashed = await hash_password_async(new)
    await call.run(call.store.users.set_password, call.actor, principal.name, hashed,
                   must_change_password=False)
    call.forget_user(principal.name)
    # Every earlier session has ended (sessions_valid_after); this browser gets a new one.
    session = new_session(principal.name, principal.tenant, principal.role)
    call.cookie_set = True
    return Response(status_code=303, headers={
        "Location": "/", "set-cookie": call.context.cookie_policy.header(codec.dumps(session))})


OPERATIONS = [
    Operation("GET", "/account/password", password_form, SIGNED_IN, "Change one's password",
              "web"),
    Operation("POST", "/account/password", change_password, SIGNED_IN,
              "Change one's password (form)", "web"),
    Operation("GET", "/login", login_form, PUBLIC, "Sign-in page", "web"),
    Operation("POST", "/login", login, PUBLIC, "Sign in (form)", "web"),
    Operation("POST", "/logout", logout, SIGNED_IN, "Sign out", "web"),
]
