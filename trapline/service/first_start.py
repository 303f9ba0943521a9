"""What the first start of a store does: an ``admin`` with a random password, shown once.

    password = create_first_admin(store)   # None when the store already has users
"""

from __future__ import annotations

from trapline.security.passwords import generate_password, hash_password
from trapline.security.roles import Role
from trapline.store import SYSTEM, Store

ADMIN = "admin"


def create_first_admin(store: Store) -> str | None:
    """Create ``admin`` (Administrator, must change the password) in a store without users.

    Returns the password, to be printed once, or None when there were users already.
    """
    if store.users.all():
        return None
    password = generate_password()
    store.users.create(SYSTEM, ADMIN, hash_password(password), role=Role.ADMINISTRATOR.value,
                       must_change_password=True)
    return password


def first_start_message(password: str, http_url: str) -> str:
    """The lines printed once when the admin was made."""
    return (f"trapline: first start: user {ADMIN!r} created with password {password}\n"
            f"trapline: it is shown only now; sign in at {http_url} and change it "
            f"(or: trapline users passwd {ADMIN})")
