"""Alembic environment, run by trapline.store.migrate inside its own transaction.

The caller passes an open connection in ``config.attributes["connection"]``; there is no
alembic.ini and no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context

from trapline.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("trapline migrations run through trapline.store.migrate")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
    compare_type=True,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
