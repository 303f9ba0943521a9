"""API tokens: only the SHA-256 of a token is stored, so a copy of the database grants nothing.

    digest = token_digest(secret)       # the caller makes and shows ``secret`` once
    store.tokens.create(actor, "alice", "siem", digest)
    token = store.tokens.find(token_digest(presented))   # None unless usable
"""

from __future__ import annotations

import hashlib
import re

import sqlalchemy as sa

from trapline.store import audit, schema
from trapline.store.database import Database, now
from trapline.store.errors import AlreadyExists, InvalidInput, NotFound
from trapline.store.records import Actor, ApiToken
from trapline.store.users import user_row
from trapline.store.validation import check_name

_DIGEST = re.compile(r"[0-9a-f]{64}")
TOUCH_EVERY = 60.0  # seconds: last_used_at is refreshed at most this often


def token_digest(token: str) -> str:
    """The SHA-256 of a token, as stored (lowercase hex)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_digest(digest: str) -> None:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise InvalidInput("a token digest is 64 lowercase hex digits (token_digest)")


class Tokens:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _select(self) -> sa.Select:
        t, u = schema.api_tokens, schema.users
        return sa.select(t, u.c.name.label("user_name")).join(u, u.c.id == t.c.user_id)

    def create(self, actor: Actor, user: str, name: str, digest: str, *,
               expires_at: float | None = None) -> ApiToken:
        """Store a new token of a user by its digest; AlreadyExists if the digest is known."""
        check_name("token", name)
        _check_digest(digest)
        t = schema.api_tokens
        with self._db.write() as conn:
            owner = user_row(conn, user)
            if conn.execute(sa.select(t.c.id).where(t.c.digest == digest)).first():
                raise AlreadyExists("a token with this digest exists")
            token_id = conn.execute(sa.insert(t).values(
                user_id=owner.id, name=name, digest=digest, created_at=now(),
                expires_at=expires_at).returning(t.c.id)).scalar_one()
            audit.record(conn, actor, "token.create", f"{user}/{name}",
                         tenant_id=owner.tenant_id,
                         details={"id": token_id, "expires_at": expires_at})
            return self._get(conn, token_id)

    def _get(self, conn: sa.Connection, token_id: int) -> ApiToken:
        row = conn.execute(self._select().where(schema.api_tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"unknown token {token_id}")
        return _record(row)

    def find(self, digest: str, *, at: float | None = None) -> ApiToken | None:
        """The token with this digest if it is usable at ``at`` (default now): known, not
        revoked, not expired, and its user not disabled. None otherwise."""
        t, u = schema.api_tokens, schema.users
        at = now() if at is None else at
        with self._db.read() as conn:
            row = conn.execute(self._select().where(
                t.c.digest == digest, t.c.revoked_at.is_(None), u.c.disabled.is_(False),
                sa.or_(t.c.expires_at.is_(None), t.c.expires_at > at))).first()
        return None if row is None else _record(row)

    def all(self, *, user: str | None = None) -> list[ApiToken]:
        """Every token (of one user, if given), revoked and expired ones too, oldest first."""
        t = schema.api_tokens
        with self._db.read() as conn:
            query = self._select().order_by(t.c.id)
            if user is not None:
                query = query.where(t.c.user_id == user_row(conn, user).id)
            return [_record(r) for r in conn.execute(query)]

    def revoke(self, actor: Actor, token_id: int) -> ApiToken:
        """Revoke a token for good (revoking it again keeps the first time)."""
        t = schema.api_tokens
        with self._db.write() as conn:
            token = self._get(conn, token_id)
            conn.execute(sa.update(t).where(t.c.id == token_id, t.c.revoked_at.is_(None))
                         .values(revoked_at=now()))
            owner = user_row(conn, token.user)
            audit.record(conn, actor, "token.revoke", f"{token.user}/{token.name}",
                         tenant_id=owner.tenant_id, details={"id": token_id})
            return self._get(conn, token_id)

    def touch(self, token_id: int, *, at: float | None = None) -> None:
        """Record a use of a token. Not audited (it is no change), and written at most once
        per TOUCH_EVERY seconds per token, so busy API clients cost no write each."""
        t = schema.api_tokens
        at = now() if at is None else at
        with self._db.read() as conn:
            last = conn.execute(sa.select(t.c.last_used_at).where(t.c.id == token_id)).first()
        if last is None or (last[0] is not None and last[0] > at - TOUCH_EVERY):
            return
        with self._db.write() as conn:
            conn.execute(sa.update(t).where(
                t.c.id == token_id,
                sa.or_(t.c.last_used_at.is_(None), t.c.last_used_at <= at - TOUCH_EVERY))
                .values(last_used_at=at))


def _record(row: sa.Row) -> ApiToken:
    return ApiToken(id=row.id, name=row.name, user=row.user_name, digest=row.digest,
                    created_at=row.created_at, last_used_at=row.last_used_at,
                    expires_at=row.expires_at, revoked_at=row.revoked_at)
