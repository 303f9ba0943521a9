"""The Store: one object over the database, with a repository per concern.

    store = open_store(settings.data_dir)          # or "postgresql+psycopg://..."
    store.indicators.put(actor, "InternalTI", [IndicatorInput(value="198.51.100.7")])
    if store.lists_version() != seen:              # cheap: poll a few times a second
        entries = store.list_entries("InternalTI")

Safe to share between the threads of a process (writes take turns on a lock); open it
anew in each process, after any fork.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import URL

from trapline.store import schema
from trapline.store.audit import AuditLog
from trapline.store.database import Database
from trapline.store.detections import Detections
from trapline.store.engine import make_engine, store_url
from trapline.store.errors import StoreUnavailable
from trapline.store.feed_state import FeedStates
from trapline.store.indicators import Indicators
from trapline.store.lookups import Lookups
from trapline.store.records import DEFAULT_TENANT, Indicator
from trapline.store.settings_store import SettingsStore
from trapline.store.suppliers import Suppliers
from trapline.store.tags import Tags
from trapline.store.tenants import Tenants, ensure_default
from trapline.store.tokens import Tokens
from trapline.store.users import Users


class Store:
    """The repositories over one database; ``close`` when done."""

    def __init__(self, db: Database, url: URL) -> None:
        self.url = url
        self.dialect = db.dialect                  # "sqlite" | "postgresql"
        self._db = db
        self.tenants = Tenants(db)
        self.users = Users(db)
        self.tokens = Tokens(db)
        self.suppliers = Suppliers(db)
        self.indicators = Indicators(db)
        self.tags = Tags(db)
        self.detections = Detections(db)
        self.lookups = Lookups(db)
        self.feeds = FeedStates(db)
        self.settings = SettingsStore(db)
        self.audit = AuditLog(db)

    def lists_version(self, tenant: str | None = None) -> int:
        """The lists version of a tenant (all tenants when None): it moves with every
        change to list suppliers, their indicators and their tags."""
        return self.indicators.version(tenant)

    def list_entries(self, supplier: str, tenant: str = DEFAULT_TENANT) -> list[Indicator]:
        """Every indicator of a list supplier, for the in-memory lists. Read the version
        first, then the entries: a change in between only causes one more reload."""
        return self.indicators.entries(supplier, tenant=tenant)

    def close(self) -> None:
        """Close every pooled connection."""
        self._db.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"


def open_store(target: str | Path | URL, *, busy_timeout: float = 30.0) -> Store:
    """Open the store of a data directory (SQLite file ``DATA_DIR/trapline.db``, the
    directory made if missing) or of a database URL (``postgresql+psycopg://user@host/db``),
    upgrade its schema to the newest, and make sure the ``General`` tenant exists.

    ``busy_timeout`` (seconds) bounds the wait for another writer and for connecting.
    """
    url = target if isinstance(target, URL) else store_url(target)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url, busy_timeout=busy_timeout)
    try:
        db = Database(engine)
        for attempt in range(FIRST_START_ATTEMPTS):
            try:
                _bring_up_to_date(db, url, busy_timeout)
                break
            except StoreUnavailable as exc:
                # Several first starts on one new SQLite file at once: while one migrates,
                # SQLite may answer "locked" at once (without waiting). Look again: the
                # winner's schema is then in place.
                if "locked" not in str(exc) or attempt == FIRST_START_ATTEMPTS - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))
    except BaseException:
        engine.dispose()
        raise
    return Store(db, url)


FIRST_START_ATTEMPTS = 10


def _bring_up_to_date(db: Database, url: URL, busy_timeout: float) -> None:
    if db.revision() != schema.REVISION:
        from trapline.store import migrate  # Alembic is loaded only when there is work

        migrate.upgrade(url, busy_timeout=busy_timeout)
    ensure_default(db)
