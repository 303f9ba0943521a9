"""Run-time settings, users, API tokens and the audit log.

    GET/PUT/DELETE /api/v1/settings[/{key}]            settings.manage
    GET/POST /api/v1/users, GET/PATCH/DELETE /users/{name}   users.manage
    GET/POST /api/v1/tokens, DELETE /tokens/{id}       tokens.own (anyone's: tokens.manage)
    GET /api/v1/audit                                  audit.read

Passwords are hashed with argon2 (off the event loop) before the store sees
them. The last enabled Administrator cannot be disabled, demoted or deleted,
so the service can always be managed. A token's text is answered once, when
it is made; the store keeps its SHA-256 only.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from trapline.security.passwords import hash_password_async
from trapline.security.roles import Permission, Role
from trapline.security.tokens import new_token
from trapline.service.http.errors import ApiError
from trapline.service.http.operations import Call, Operation, Param, json_response, needs
from trapline.service.http.schemas import (
    AuditOut,
    AuditPage,
    SettingIn,
    SettingOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserPatch,
)
from trapline.store import ApiToken, Setting, User

_SECRET = re.compile(r"(^|[._-])(password|secret|token|key)($|[._-])", re.IGNORECASE)
MASK = "***"


# -- settings ---------------------------------------------------------------------------


def setting_out(setting: Setting) -> SettingOut:
    """A setting as answered: values of keys naming a secret are never shown."""
    value = MASK if _SECRET.search(setting.key) and setting.value is not None else setting.value
    return SettingOut(key=setting.key, value=value, updated_by=setting.updated_by,
                      updated_at=setting.updated_at)


async def list_settings(call: Call) -> list[SettingOut]:
    return [setting_out(s) for s in await call.run(call.store.settings.all)]


async def get_setting(call: Call) -> SettingOut:
    key = call.path("key")
    found = await call.run(call.store.settings.find, key)
    if found is None:
        raise ApiError(404, f"setting {key[:128]!r} is not set")
    return setting_out(found)


async def put_setting(call: Call) -> SettingOut:
    body = await call.body(SettingIn)
    return setting_out(await call.run(call.store.settings.set, call.actor, call.path("key"),
                                      body.value))


async def delete_setting(call: Call) -> Response:
    await call.run(call.store.settings.delete, call.actor, call.path("key"))
    return Response(status_code=204)


# -- users ------------------------------------------------------------------------------


def user_out(user: User) -> UserOut:
    return UserOut(name=user.name, tenant=user.tenant, role=user.role, disabled=user.disabled,
                   must_change_password=user.must_change_password,
                   created_at=user.created_at, updated_at=user.updated_at)


async def list_users(call: Call) -> list[UserOut]:
    tenant = call.query("tenant") or None
    return [user_out(u) for u in await call.run(call.store.users.all, tenant=tenant)]


async def get_user(call: Call) -> UserOut:
    return user_out(await call.run(call.store.users.get, call.path("name")))


async def create_user(call: Call) -> Response:
    body = await call.body(UserCreate)
    hashed = await hash_password_async(body.password)
    user = await call.run(call.store.users.create, call.actor, body.name, hashed,
                          role=body.role, tenant=body.tenant,
                          must_change_password=body.must_change_password)
    location = f"/api/v1/users/{quote(user.name, safe='')}"
    return json_response(user_out(user), 201, {"Location": location})


def _keeps_an_administrator(store: Any, name: str, *, role: str | None = None,
                            disabled: bool | None = None, deleted: bool = False) -> None:
    """Refuse a change that would leave no enabled Administrator (409)."""
    users = store.users.all()
    target = next((u for u in users if u.name == name), None)
    if target is None:
        return  # NotFound comes from the change itself
    after = [u for u in users if u.name != name]
    if not deleted:
        after.append(User(id=target.id, name=target.name, tenant=target.tenant,
                          role=role or target.role,
                          disabled=target.disabled if disabled is None else disabled,
                          must_change_password=target.must_change_password,
                          created_at=target.created_at, updated_at=target.updated_at))
    if not any(u.role == Role.ADMINISTRATOR and not u.disabled for u in after):
        raise ApiError(409, "the last enabled Administrator must stay")


async def patch_user(call: Call) -> UserOut:
    name = call.path("name")
    body = await call.body(UserPatch)
    store = call.store
    if body.role is not None or body.disabled:
        await call.run(_keeps_an_administrator, store, name, role=body.role,
                       disabled=body.disabled)
    user = await call.run(store.users.get, name)
    if body.password is not None:
        hashed = await hash_password_async(body.password)
        must = body.must_change_password if body.must_change_password is not None else False
        user = await call.run(store.users.set_password, call.actor, name, hashed,
                              must_change_password=must)
        if call.context.limiter is not None:  # a new password lifts a login lock
            await call.run(call.context.limiter.reset, name)
    changes = {"role": body.role, "disabled": body.disabled, "tenant": body.tenant}
    if body.password is None:
        changes["must_change_password"] = body.must_change_password
    if any(v is not None for v in changes.values()):
        user = await call.run(store.users.update, call.actor, name, **changes)
    call.forget_user(name)
    return user_out(user)


async def delete_user(call: Call) -> Response:
    name = call.path("name")
    if name == call.user.name:
        raise ApiError(409, "you cannot delete yourself")
    await call.run(_keeps_an_administrator, call.store, name, deleted=True)
    await call.run(call.store.users.delete, call.actor, name)
    call.forget_user(name)
    return Response(status_code=204)


# -- tokens -----------------------------------------------------------------------------


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut(id=token.id, name=token.name, user=token.user,
                    created_at=token.created_at, last_used_at=token.last_used_at,
                    expires_at=token.expires_at, revoked_at=token.revoked_at)


async def list_tokens(call: Call) -> list[TokenOut]:
    user = call.query("user") or call.user.name
    if user != call.user.name and not call.user.can(Permission.TOKENS_MANAGE):
        raise ApiError(403, f"user {call.user.name!r} may not {Permission.TOKENS_MANAGE.value}")
    return [token_out(t) for t in await call.run(call.store.tokens.all, user=user)]


async def create_token(call: Call) -> Response:
    body = await call.body(TokenCreate)
    text, digest = new_token()
    expires = time.time() + body.expires_in_days * 86400 if body.expires_in_days else None
    token = await call.run(call.store.tokens.create, call.actor, call.user.name, body.name,
                           digest, expires_at=expires)
    created = TokenCreated(token=text, id=token.id, name=token.name, user=token.user,
                           created_at=token.created_at, expires_at=token.expires_at)
    return json_response(created, 201, {"Cache-Control": "no-store"})


async def revoke_token(call: Call) -> Response:
    text = call.path("id")
    if not text.isdigit() or len(text) > 18:
        raise ApiError(404, f"unknown token {text[:40]!r}")
    token_id = int(text)
    store = call.store
    mine = {t.id for t in await call.run(store.tokens.all, user=call.user.name)}
    if token_id not in mine and not call.user.can(Permission.TOKENS_MANAGE):
        raise ApiError(404, f"unknown token {token_id}")  # another's: not even its existence
    await call.run(store.tokens.revoke, call.actor, token_id)
    if call.auth is not None:
        call.auth.clear()
    return Response(status_code=204)


# -- audit ------------------------------------------------------------------------------


async def audit(call: Call) -> AuditPage:
    limit = call.int_query("limit", 100, 1, 1000)
    page = await call.run(call.store.audit.search, actor=call.query("actor") or None,
                          action=call.query("action") or None,
                          target=call.query("target") or None,
                          tenant=call.query("tenant") or None, start=call.time_query("from"),
                          end=call.time_query("to"), limit=limit,
                          cursor=call.query("cursor") or None)
    return AuditPage(items=[AuditOut(id=a.id, at=a.at, actor=a.actor, address=a.address,
                                     action=a.action, target=a.target, tenant=a.tenant,
                                     details=a.details) for a in page.items],
                     next_cursor=page.next_cursor)


SETTINGS = needs(Permission.SETTINGS_MANAGE)
USERS = needs(Permission.USERS_MANAGE)
TOKENS = needs(Permission.TOKENS_OWN)
TEXT = {"type": "string"}

OPERATIONS = [
    Operation("GET", "/api/v1/settings", list_settings, SETTINGS, "Every run-time setting",
              "settings", response=list[SettingOut],
              description="Values of keys naming a secret (password, secret, token, key) "
                          "are shown as \"***\"."),
    Operation("GET", "/api/v1/settings/{key}", get_setting, SETTINGS, "One setting",
              "settings", response=SettingOut),
    Operation("PUT", "/api/v1/settings/{key}", put_setting, SETTINGS, "Set a setting",
              "settings", body=SettingIn, response=SettingOut,
              example={"value": {"retention_days": 30}}),
    Operation("DELETE", "/api/v1/settings/{key}", delete_setting, SETTINGS,
              "Remove a setting (its default applies again)", "settings", status=204),
    Operation("GET", "/api/v1/users", list_users, USERS, "Every user", "users",
              response=list[UserOut],
              query=(Param("tenant", TEXT, "only the users of this tenant"),)),
    Operation("POST", "/api/v1/users", create_user, USERS, "Create a user", "users",
              body=UserCreate, response=UserOut, status=201, errors=(409,),
              example={"name": "kuma", "password": "a long secret", "role": "Analyst",
                       "tenant": "General"}),
    Operation("GET", "/api/v1/users/{name}", get_user, USERS, "One user", "users",
              response=UserOut),
    Operation("PATCH", "/api/v1/users/{name}", patch_user, USERS,
              "Change a user: role, tenant, disabled, password", "users", body=UserPatch,
              response=UserOut, errors=(409,), example={"disabled": True},
              description="A new password also lifts a login lock. 409 when the change would "
                          "leave no enabled Administrator."),
    Operation("DELETE", "/api/v1/users/{name}", delete_user, USERS,
              "Delete a user with their tokens and history", "users", status=204,
              errors=(409,)),
    Operation("GET", "/api/v1/tokens", list_tokens, TOKENS, "My API tokens", "tokens",
              response=list[TokenOut],
              query=(Param("user", TEXT, "another user's tokens (tokens.manage)"),)),
    Operation("POST", "/api/v1/tokens", create_token, TOKENS,
              "Make an API token (its text is shown once)", "tokens", body=TokenCreate,
              response=TokenCreated, status=201, errors=(409,),
              example={"name": "kuma-enrichment", "expires_in_days": 365}),
    Operation("DELETE", "/api/v1/tokens/{id}", revoke_token, TOKENS,
              "Revoke an API token (my own; anyone's with tokens.manage)", "tokens",
              status=204),
    Operation("GET", "/api/v1/audit", audit, needs(Permission.AUDIT_READ),
              "The audit log, newest first", "audit", response=AuditPage,
              query=(Param("actor", TEXT, "changes by this user"),
                     Param("action", TEXT, "this action, or a prefix ending in a dot "
                                           "(user.)"),
                     Param("target", TEXT, "changes to this object"),
                     Param("tenant", TEXT, "changes in this tenant"),
                     Param("from", {"type": "string", "description": "epoch seconds or ISO "
                                                                     "8601"}, "at or after"),
                     Param("to", {"type": "string", "description": "epoch seconds or ISO "
                                                                   "8601"}, "before"),
                     Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                           "page size (default 100)"),
                     Param("cursor", TEXT, "next_cursor of the previous page"))),
]
