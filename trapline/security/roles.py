"""Roles, permissions and who is asking (the Principal).

Two roles. Analysts look up, read, and add to InternalTI and the FalsePositive
list; they change no settings, feeds or users. Administrators may do
everything. Two choices the rules left open:

- ``internal_ti.delete`` is the Administrator's: an analyst's addition can
  only raise more alerts, but a deletion silences detection, which is a
  decision about coverage, like a feed change.
- ``false_positive.write`` (mark and unmark) is the Analyst's too: triaging
  detections is the analyst's daily work, a mark suppresses only that feed
  indicator (InternalTI always alerts), and every mark is audited with its
  author so an administrator can review and revert it.

Routes name the permission they need; ``require`` answers for a role. Objects
of another tenant are the store's and the route's check, not the role's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import msgspec

__all__ = ["PERMISSIONS", "Permission", "Principal", "Role", "require"]


class Role(StrEnum):
    ADMINISTRATOR = "Administrator"
    ANALYST = "Analyst"


class Permission(StrEnum):
    LOOKUP = "lookup"                              # look values up (API, web)
    READ = "read"                                  # indicators, detections, feeds and their state
    INTERNAL_TI_ADD = "internal_ti.add"            # add to the InternalTI deny list
    INTERNAL_TI_DELETE = "internal_ti.delete"      # remove from it
    FALSE_POSITIVE_WRITE = "false_positive.write"  # mark and unmark false positives
    FEEDS_MANAGE = "feeds.manage"                  # add, change, remove, update feeds
    SETTINGS_MANAGE = "settings.manage"            # read and change settings (they hold secrets)
    USERS_MANAGE = "users.manage"                  # create, change, disable users; reset passwords
    TOKENS_OWN = "tokens.own"                      # create and revoke one's own API tokens
    TOKENS_MANAGE = "tokens.manage"                # list and revoke anyone's API tokens
    AUDIT_READ = "audit.read"                      # read the audit log


_ANALYST = frozenset({
    Permission.LOOKUP,
    Permission.READ,
    Permission.INTERNAL_TI_ADD,
    Permission.FALSE_POSITIVE_WRITE,
    Permission.TOKENS_OWN,
})

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(Permission),
    Role.ANALYST: _ANALYST,
}


def require(role: str, permission: str) -> bool:
    """True when ``role`` holds ``permission``; an unknown role holds nothing.

    An unknown permission raises ValueError: a misspelt name in a route must
    fail loudly in tests, not deny (or allow) quietly.
    """
    wanted = Permission(permission)
    try:
        return wanted in PERMISSIONS[Role(role)]
    except ValueError:
        return False


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is asking: a user, their role and tenant, and how they proved it."""

    name: str
    role: str
    tenant: str
    via: Literal["password", "token", "session"]

    def can(self, permission: str) -> bool:
        """``require(self.role, permission)``."""
        return require(self.role, permission)
