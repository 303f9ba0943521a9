"""Users: a unique name, a role, a tenant, a password hash made elsewhere (argon2).

The store keeps the hash and hands it back (``password_hash``) for the caller to verify;
it never compares passwords itself.
"""

from __future__ import annotations

import sqlalchemy as sa

from trapline.store import audit, schema
from trapline.store.database import Database, now
from trapline.store.errors import AlreadyExists, InvalidInput, NotFound
from trapline.store.records import DEFAULT_TENANT, SYSTEM, Actor, User
from trapline.store.validation import check_name, check_text

ADMINISTRATOR = "Administrator"
ANALYST = "Analyst"
ROLES = (ADMINISTRATOR, ANALYST)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def _check_hash(password_hash: str) -> None:
    check_text("a password hash", password_hash, longest=512)
    if not password_hash:
        raise InvalidInput("a password hash must not be empty")


def user_row(conn: sa.Connection, name: str) -> sa.Row:
    """A user's row; NotFound if there is none."""
    u = schema.users
    row = conn.execute(sa.select(u).where(u.c.name == name)).first()
    if row is None:
        raise NotFound(f"unknown user {name!r}")
    return row


class Users:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _record(self, conn: sa.Connection, row: sa.Row) -> User:
        return User(id=row.id, name=row.name,
                    tenant=self._db.tenant_name(conn, row.tenant_id) or "",
                    role=row.role, disabled=row.disabled,
                    must_change_password=row.must_change_password,
                    created_at=row.created_at, updated_at=row.updated_at,
                    sessions_valid_after=row.sessions_valid_after)

    def all(self, *, tenant: str | None = None) -> list[User]:
        """Every user (of one tenant, if given), by name."""
        u = schema.users
        with self._db.read() as conn:
            query = sa.select(u).order_by(u.c.name)
            if tenant is not None:
                query = query.where(u.c.tenant_id == self._db.tenant_id(conn, tenant))
            return [self._record(conn, r) for r in conn.execute(query)]

    def get(self, name: str) -> User:
        """A user by name; NotFound if there is none."""
        with self._db.read() as conn:
            return self._record(conn, user_row(conn, name))

    def find(self, name: str) -> User | None:
        """A user by name, or None."""
        try:
            return self.get(name)
        except NotFound:
            return None

    def password_hash(self, name: str) -> str | None:
        """The stored password hash of a user, or None if there is no such user."""
        u = schema.users
        with self._db.read() as conn:
            return conn.execute(sa.select(u.c.password_hash).where(u.c.name == name)).scalar()

    def create(self, actor: Actor, name: str, password_hash: str, *, role: str = ANALYST,
               tenant: str = DEFAULT_TENANT, must_change_password: bool = False) -> User:
        """A new, enabled user; AlreadyExists if the name is taken (in any tenant)."""
        check_name("user", name)
        if name.casefold() == SYSTEM.name:
            raise InvalidInput(f"{name!r} names internal jobs in the audit log")
        _check_role(role)
        _check_hash(password_hash)
        u = schema.users
        with self._db.write() as conn:
            tenant_id = self._db.tenant_id(conn, tenant)
            if conn.execute(sa.select(u.c.id).where(u.c.name == name)).first() is not None:
                raise AlreadyExists(f"user {name!r} exists")
            at = now()
            conn.execute(sa.insert(u).values(
                tenant_id=tenant_id, name=name, password_hash=password_hash, role=role,
                disabled=False, must_change_password=must_change_password,
                created_at=at, updated_at=at))
            audit.record(conn, actor, "user.create", name, tenant_id=tenant_id,
                         details={"role": role, "must_change_password": must_change_password})
            return self._record(conn, user_row(conn, name))

    def update(self, actor: Actor, name: str, *, role: str | None = None,
               disabled: bool | None = None, tenant: str | None = None,
               must_change_password: bool | None = None) -> User:
        """Change a user's role, disabled flag, tenant or must-change-password flag."""
        if role is not None:
            _check_role(role)
        u = schema.users
        with self._db.write() as conn:
            row = user_row(conn, name)
            values: dict[str, object] = {}
            details: dict[str, object] = {}
            for key, value in (("role", role), ("disabled", disabled),
                               ("must_change_password", must_change_password)):
                if value is not None:
                    values[key] = details[key] = value
            if tenant is not None:
                values["tenant_id"] = self._db.tenant_id(conn, tenant)
                details["tenant"] = tenant
            conn.execute(sa.update(u).where(u.c.id == row.id).values(updated_at=now(),
                                                                    **values))
            audit.record(conn, actor, "user.update", name,
                         tenant_id=values.get("tenant_id", row.tenant_id), details=details)
            return self._record(conn, user_row(conn, name))

    def set_password(self, actor: Actor, name: str, password_hash: str, *,
                     must_change_password: bool = False) -> User:
        """Replace a user's password hash (the audit row never holds it); every browser
        session signed before ends."""
        _check_hash(password_hash)
        u = schema.users
        with self._db.write() as conn:
            row = user_row(conn, name)
            at = now()
            conn.execute(sa.update(u).where(u.c.id == row.id).values(
                password_hash=password_hash, must_change_password=must_change_password,
                updated_at=at, sessions_valid_after=at))
            audit.record(conn, actor, "user.password", name, tenant_id=row.tenant_id,
                         details={"must_change_password": must_change_password})
            return self._record(conn, user_row(conn, name))

    def end_sessions(self, actor: Actor, name: str) -> User:
        """Sign the user out everywhere: browser sessions signed before now are void."""
        u = schema.users
        with self._db.write() as conn:
            row = user_row(conn, name)
            at = now()
            conn.execute(sa.update(u).where(u.c.id == row.id).values(
                sessions_valid_after=at, updated_at=at))
            audit.record(conn, actor, "user.sessions_end", name, tenant_id=row.tenant_id)
            return self._record(conn, user_row(conn, name))

    def delete(self, actor: Actor, name: str) -> None:
        """Delete a user with their API tokens and lookup history."""
        u = schema.users
        with self._db.write() as conn:
            row = user_row(conn, name)
            conn.execute(sa.delete(u).where(u.c.id == row.id))
            audit.record(conn, actor, "user.delete", name, tenant_id=row.tenant_id)
