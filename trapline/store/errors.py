"""The store's errors, one branch of trapline's error tree.

    TraplineError
     +-- StoreError            (trapline.store) a store operation failed
          +-- NotFound         no such tenant, user, token, supplier, indicator, tag, ...
          +-- AlreadyExists    the name or value is taken
          +-- ReservedName     a built-in supplier cannot be created, renamed or deleted
          +-- InvalidInput     a value the store refuses (a bad role, an empty name, a limit)
          +-- StoreUnavailable the database cannot be reached, opened, migrated, or stays busy

A failed operation changes nothing: its transaction, audit row included, is rolled back.
"""

from __future__ import annotations

from trapline.errors import TraplineError


class StoreError(TraplineError):
    """A store operation failed; nothing was changed."""


class NotFound(StoreError):
    """The tenant, user, token, supplier, indicator, tag, feed or setting does not exist."""


class AlreadyExists(StoreError):
    """The name (or the indicator value) is taken."""


class ReservedName(StoreError):
    """``InternalTI`` and ``FalsePositive`` are built in: never created, renamed or deleted."""


class InvalidInput(StoreError):
    """A value the store refuses: an unknown role or kind, an empty name, a limit out of range."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened, a migration failed, or it stayed busy."""
