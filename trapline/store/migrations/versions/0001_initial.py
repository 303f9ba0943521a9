"""The first schema: tenants, users, API tokens, suppliers, list indicators, tags, the lists
version, detections, lookup history, feed state, settings and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-05-01

A migration stands alone: it never imports trapline.store.schema, which keeps changing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.Double()
Name = sa.String(200)


def _id() -> sa.Column:
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*(columns or ("id",)), name=f"pk_{table}")


def _fk(table: str, column: str, target: str, ondelete: str | None = None
        ) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete=ondelete,
                                   name=f"fk_{table}_{column}_{target}")


def _uq(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=f"uq_{table}_{'_'.join(columns)}")


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns))


def upgrade() -> None:
    op.create_table(
        "tenants",
        _id(),
        sa.Column("name", Name, nullable=False),
        sa.Column("created_at", Time, nullable=False),
        _pk("tenants"), _uq("tenants", "name"),
    )
    op.create_table(
        "users",
        _id(),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("name", Name, nullable=False),
        sa.Column("password_hash", sa.String(512), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        _pk("users"), _fk("users", "tenant_id", "tenants"), _uq("users", "name"),
    )
    _index("users", "tenant_id")
    op.create_table(
        "api_tokens",
        _id(),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("name", Name, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("last_used_at", Time),
        sa.Column("expires_at", Time),
        sa.Column("revoked_at", Time),
        _pk("api_tokens"), _fk("api_tokens", "user_id", "users", "CASCADE"),
        _uq("api_tokens", "digest"),
    )
    _index("api_tokens", "user_id")
    op.create_table(
        "suppliers",
        _id(),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("name", Name, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        _pk("suppliers"), _fk("suppliers", "tenant_id", "tenants"),
        _uq("suppliers", "tenant_id", "name"),
    )
    op.create_table(
        "indicators",
        _id(),
        sa.Column("supplier_id", Id, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("category", Name, nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("added_by", Name, nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("valid_until", Time),
        _pk("indicators"), _fk("indicators", "supplier_id", "suppliers", "CASCADE"),
        _uq("indicators", "supplier_id", "value"),
    )
    op.create_table(
        "tags",
        _id(),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("name", Name, nullable=False),
        sa.Column("color", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        _pk("tags"), _fk("tags", "tenant_id", "tenants"), _uq("tags", "tenant_id", "name"),
    )
    op.create_table(
        "indicator_tags",
        sa.Column("indicator_id", Id, nullable=False),
        sa.Column("tag_id", Id, nullable=False),
        _pk("indicator_tags", "indicator_id", "tag_id"),
        _fk("indicator_tags", "indicator_id", "indicators", "CASCADE"),
        _fk("indicator_tags", "tag_id", "tags", "CASCADE"),
    )
    _index("indicator_tags", "tag_id")
    op.create_table(
        "list_versions",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        _pk("list_versions", "tenant_id"), _fk("list_versions", "tenant_id", "tenants"),
    )
    op.create_table(
        "detections",
        _id(),
        sa.Column("detection_id", sa.String(128), nullable=False),
        sa.Column("time", Time, nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("observable", sa.Text(), nullable=False),
        sa.Column("indicator", sa.Text(), nullable=False),
        sa.Column("category", Name, nullable=False),
        sa.Column("feed", Name, nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("source", Name, nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("snapshot", sa.BigInteger(), nullable=False),
        _pk("detections"), _fk("detections", "tenant_id", "tenants"),
        _uq("detections", "detection_id"),
    )
    _index("detections", "tenant_id", "time")
    _index("detections", "tenant_id", "category", "time")
    op.create_table(
        "lookups",
        _id(),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("time", Time, nullable=False),
        sa.Column("lookup_values", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        _pk("lookups"), _fk("lookups", "user_id", "users", "CASCADE"),
        _fk("lookups", "tenant_id", "tenants"),
    )
    _index("lookups", "user_id", "id")
    op.create_table(
        "feed_states",
        sa.Column("name", Name, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_attempt", Time),
        sa.Column("last_success", Time),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_error_at", Time),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        _pk("feed_states", "name"),
    )
    op.create_table(
        "settings",
        sa.Column("key", Name, nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_by", Name, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        _pk("settings", "key"),
    )
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("at", Time, nullable=False),
        sa.Column("actor", Name, nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("tenant_id", Id),
        sa.Column("details", sa.JSON(), nullable=False),
        _pk("audit_log"), _fk("audit_log", "tenant_id", "tenants"),
    )
    _index("audit_log", "at")
    _index("audit_log", "actor")


def downgrade() -> None:
    for table in ("audit_log", "settings", "feed_states", "lookups", "detections",
                  "list_versions", "indicator_tags", "tags", "indicators", "suppliers",
                  "api_tokens", "users", "tenants"):
        op.drop_table(table)
