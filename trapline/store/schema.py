"""The tables, in one MetaData; migrations/versions must produce exactly this (a test checks).

Timestamps are UTC float epoch seconds (``Double``); JSON columns hold dicts and lists.
"""

from __future__ import annotations

import sqlalchemy as sa

# Every constraint gets a name, so SQLite batch migrations and downgrades can address it.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)

# The newest migration, which these tables equal (a test checks both): a start compares it
# with the database's revision without loading Alembic.
REVISION = "0002"

# 64-bit on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the 64-bit rowid already.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.Double()
NAME = 200  # longest tenant, user, supplier, tag, feed, setting name


def _id() -> sa.Column:
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


def _tenant_fk(nullable: bool = False) -> sa.Column:
    return sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), nullable=nullable)


tenants = sa.Table(
    "tenants", metadata,
    _id(),
    sa.Column("name", sa.String(NAME), nullable=False, unique=True),
    sa.Column("created_at", Time, nullable=False),
)

users = sa.Table(
    "users", metadata,
    _id(),
    _tenant_fk(),
    sa.Column("name", sa.String(NAME), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(512), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("disabled", sa.Boolean(), nullable=False),
    sa.Column("must_change_password", sa.Boolean(), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("sessions_valid_after", Time, nullable=True),  # earlier sessions are void
    sa.Index(None, "tenant_id"),
)

api_tokens = sa.Table(
    "api_tokens", metadata,
    _id(),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),  # SHA-256, hex
    sa.Column("created_at", Time, nullable=False),
    sa.Column("last_used_at", Time),
    sa.Column("expires_at", Time),
    sa.Column("revoked_at", Time),
    sa.Index(None, "user_id"),
)

suppliers = sa.Table(
    "suppliers", metadata,
    _id(),
    _tenant_fk(),
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("builtin", sa.Boolean(), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.UniqueConstraint("tenant_id", "name"),
)

# Indicators of list suppliers. The tenant is the supplier's: (supplier, value) is unique,
# which is (tenant, supplier, value).
indicators = sa.Table(
    "indicators", metadata,
    _id(),
    sa.Column("supplier_id", Id, sa.ForeignKey("suppliers.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("category", sa.String(NAME), nullable=False),
    sa.Column("context", sa.JSON(), nullable=False),
    sa.Column("comment", sa.Text(), nullable=False),
    sa.Column("added_by", sa.String(NAME), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("valid_until", Time),
    sa.UniqueConstraint("supplier_id", "value"),
)

tags = sa.Table(
    "tags", metadata,
    _id(),
    _tenant_fk(),
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("color", sa.String(16), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.UniqueConstraint("tenant_id", "name"),
)

indicator_tags = sa.Table(
    "indicator_tags", metadata,
    sa.Column("indicator_id", Id, sa.ForeignKey("indicators.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("tag_id", Id, sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    sa.Index(None, "tag_id"),
)

# One row per tenant, bumped in the same transaction as every change to its lists.
list_versions = sa.Table(
    "list_versions", metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("version", sa.BigInteger(), nullable=False),
)

detections = sa.Table(
    "detections", metadata,
    _id(),
    sa.Column("detection_id", sa.String(128), nullable=False, unique=True),
    sa.Column("time", Time, nullable=False),
    _tenant_fk(),
    sa.Column("observable", sa.Text(), nullable=False),
    sa.Column("indicator", sa.Text(), nullable=False),
    sa.Column("category", sa.String(NAME), nullable=False),
    sa.Column("feed", sa.String(NAME), nullable=False),
    sa.Column("context", sa.JSON(), nullable=False),
    sa.Column("source", sa.String(NAME), nullable=False),
    sa.Column("event", sa.Text(), nullable=False),
    sa.Column("snapshot", sa.BigInteger(), nullable=False),
    sa.Index(None, "tenant_id", "time"),
    sa.Index(None, "tenant_id", "category", "time"),
)

lookups = sa.Table(
    "lookups", metadata,
    _id(),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    _tenant_fk(),
    sa.Column("time", Time, nullable=False),
    sa.Column("lookup_values", sa.JSON(), nullable=False),
    sa.Column("total", sa.Integer(), nullable=False),
    sa.Column("summary", sa.JSON(), nullable=False),
    sa.Index(None, "user_id", "id"),
)

feed_states = sa.Table(
    "feed_states", metadata,
    sa.Column("name", sa.String(NAME), primary_key=True),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("last_attempt", Time),
    sa.Column("last_success", Time),
    sa.Column("last_error", sa.Text(), nullable=False),
    sa.Column("last_error_at", Time),
    sa.Column("records", sa.BigInteger(), nullable=False),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)

settings = sa.Table(
    "settings", metadata,
    sa.Column("key", sa.String(NAME), primary_key=True),
    sa.Column("value", sa.JSON(), nullable=False),
    sa.Column("updated_by", sa.String(NAME), nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)

audit_log = sa.Table(
    "audit_log", metadata,
    _id(),
    sa.Column("at", Time, nullable=False),
    sa.Column("actor", sa.String(NAME), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.Text(), nullable=False),
    _tenant_fk(nullable=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Index(None, "at"),
    sa.Index(None, "actor"),
)
