"""Persistence behind one interface: SQLite (WAL) by default, PostgreSQL for several nodes.

    store = open_store(data_dir_or_url)     # migrates to the newest schema at every start
    store.users / tokens / tenants / suppliers / indicators / tags / detections /
          lookups / feeds / settings / audit
    store.lists_version(tenant) ; store.list_entries(supplier, tenant)

SQLAlchemy Core with Alembic migrations (docs/store.md). Every change takes an ``Actor``
and writes its audit row in its own transaction. Errors: ``StoreError`` and its branches
(``trapline.store.errors``).
"""

from trapline.store.detections import MAX_EVENT_CHARS
from trapline.store.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    ReservedName,
    StoreError,
    StoreUnavailable,
)
from trapline.store.records import (
    DEFAULT_TENANT,
    SYSTEM,
    Actor,
    ApiToken,
    AuditEntry,
    Detection,
    DetectionInput,
    DetectionQuery,
    FeedStatus,
    Indicator,
    IndicatorInput,
    LookupRecord,
    Page,
    PutResult,
    Setting,
    Stat,
    Supplier,
    Tag,
    Tenant,
    User,
)
from trapline.store.store import Store, open_store
from trapline.store.suppliers import BUILTIN, FALSE_POSITIVE, INTERNAL_TI
from trapline.store.tokens import token_digest
from trapline.store.users import ADMINISTRATOR, ANALYST, ROLES

__all__ = [
    "ADMINISTRATOR",
    "ANALYST",
    "BUILTIN",
    "DEFAULT_TENANT",
    "FALSE_POSITIVE",
    "INTERNAL_TI",
    "MAX_EVENT_CHARS",
    "ROLES",
    "SYSTEM",
    "Actor",
    "AlreadyExists",
    "ApiToken",
    "AuditEntry",
    "Detection",
    "DetectionInput",
    "DetectionQuery",
    "FeedStatus",
    "Indicator",
    "IndicatorInput",
    "InvalidInput",
    "LookupRecord",
    "NotFound",
    "Page",
    "PutResult",
    "ReservedName",
    "Setting",
    "Stat",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Supplier",
    "Tag",
    "Tenant",
    "User",
    "open_store",
    "token_digest",
]
