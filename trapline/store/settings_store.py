"""Settings changed at run time: a key and a JSON value, who changed it and when.

The audit row of a change holds the old and the new value, except for keys that name a
secret (``password``, ``secret``, ``token``, ``key`` as a part), whose values are masked.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from trapline.store import audit, schema
from trapline.store.database import Database, now
from trapline.store.errors import NotFound
from trapline.store.records import Actor, Setting
from trapline.store.validation import actor_name, check_json, check_name

MAX_VALUE_BYTES = 1 << 20  # one setting's JSON
_SECRET = re.compile(r"(^|[._-])(password|secret|token|key)($|[._-])", re.IGNORECASE)
MASK = "***"


def _shown(key: str, value: Any) -> Any:
    return MASK if _SECRET.search(key) and value is not None else value


def _record(row: sa.Row) -> Setting:
    return Setting(key=row.key, value=row.value, updated_by=row.updated_by,
                   updated_at=row.updated_at)


class SettingsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str, default: Any = None) -> Any:
        """A setting's value, or ``default`` if it was never set."""
        found = self.find(key)
        return default if found is None else found.value

    def find(self, key: str) -> Setting | None:
        s = schema.settings
        with self._db.read() as conn:
            row = conn.execute(sa.select(s).where(s.c.key == key)).first()
        return None if row is None else _record(row)

    def all(self) -> list[Setting]:
        """Every setting, by key."""
        s = schema.settings
        with self._db.read() as conn:
            return [_record(r) for r in conn.execute(sa.select(s).order_by(s.c.key))]

    def set(self, actor: Actor, key: str, value: Any) -> Setting:
        """Set a setting to a JSON value."""
        check_name("setting", key)
        check_json(f"setting {key!r}", value, largest=MAX_VALUE_BYTES)
        s = schema.settings
        values = {"value": value, "updated_by": actor_name(actor), "updated_at": now()}
        with self._db.write() as conn:
            old = conn.execute(sa.select(s.c.value).where(s.c.key == key)).first()
            if old is None:
                conn.execute(sa.insert(s).values(key=key, **values))
            else:
                conn.execute(sa.update(s).where(s.c.key == key).values(**values))
            audit.record(conn, actor, "setting.set", key, details={
                "old": None if old is None else _shown(key, old[0]),
                "new": _shown(key, value)})
            return _record(conn.execute(sa.select(s).where(s.c.key == key)).one())

    def delete(self, actor: Actor, key: str) -> None:
        """Remove a setting (its default applies again); NotFound if it was not set."""
        s = schema.settings
        with self._db.write() as conn:
            old = conn.execute(sa.select(s.c.value).where(s.c.key == key)).first()
            if old is None:
                raise NotFound(f"setting {key!r} is not set")
            conn.execute(sa.delete(s).where(s.c.key == key))
            audit.record(conn, actor, "setting.delete", key,
                         details={"old": _shown(key, old[0])})
