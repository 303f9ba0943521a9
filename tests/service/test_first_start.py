"""The first start makes ``admin`` once, with a password that works and must be changed."""

from __future__ import annotations

from pathlib import Path

from trapline.security.passwords import verify_password
from trapline.service.first_start import create_first_admin, first_start_message
from trapline.store import open_store


def test_admin_is_made_once(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    try:
        password = create_first_admin(store)
        assert password is not None and len(password) >= 16
        admin = store.users.get("admin")
        assert admin.role == "Administrator" and admin.must_change_password
        stored = store.users.password_hash("admin")
        assert stored is not None and verify_password(stored, password)
        assert create_first_admin(store) is None  # a second start: nothing new, nothing shown
        assert len(store.users.all()) == 1
        assert password in first_start_message(password, "https://localhost:8443/")
    finally:
        store.close()
