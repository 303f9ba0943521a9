"""Feed source credentials kept in the store: encrypted at rest with a key derived from
DATA_DIR/secret.key, applied over the configuration file's at start and SIGHUP, used by
the feed download, ignored (logged) when they cannot be opened."""

from __future__ import annotations

import base64
import logging
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "feeds"))

from local_http import LocalServer, RequestHandler, reply

from trapline.errors import FeedFetchError
from trapline.feeds.report import FeedReport
from trapline.feeds.sources import fetch
from trapline.service import feed_credentials as fc
from trapline.service.http.admin_api import setting_out
from trapline.service.server import Overrides
from trapline.store import SYSTEM, open_store

PASSWORD = "pw-Zq81-very-secret"
TOKEN = "tok-Kx55-very-secret"
FEED = b"evil.example\n198.51.100.7\n"


def configure(tmp_path: Path, url: str, **http: str) -> Path:
    lines = ["[[feeds]]", 'name = "Vendor.txt"', f'source = "{url}"', 'format = "plain"',
             "[feeds.http]", "allow_private = true", "timeout = 10.0"]
    lines += [f'{key} = "{value}"' for key, value in http.items()]
    config = tmp_path / "trapline.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def keep(data: Path, feed: str, **credentials: str) -> dict:
    value = fc.seal(data, **credentials)
    store = open_store(data)
    try:
        store.settings.set(SYSTEM, fc.credential_key(feed), value)
    finally:
        store.close()
    return value


def loaded_feed(config: Path, data: Path):  # type: ignore[no-untyped-def]
    [feed] = [f for f in Overrides(config=config, data_dir=data).load().feeds
              if f.name == "Vendor.txt"]
    return feed


def test_round_trip_on_sqlite_never_in_clear(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = configure(tmp_path, "https://feeds.example/list.txt", username="file-user",
                       password_env="NOT_SET_ANYWHERE")
    keep(data, "Vendor.txt", username="svc", password=PASSWORD)
    feed = loaded_feed(config, data)
    assert (feed.http.username, feed.http.password) == ("svc", PASSWORD)
    assert feed.http.password_env is None and feed.http.token is None
    assert PASSWORD not in repr(feed) and PASSWORD not in str(feed.public())
    for path in data.iterdir():  # the database, its WAL, everything in the data directory
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    store = open_store(data)
    try:
        [setting] = [s for s in store.settings.all() if s.key == "feeds.secret.Vendor.txt"]
        assert setting.value["username"] == "svc" and setting.value["kind"] == "basic"
        assert setting_out(setting).value == "***"  # the API and the pages mask it
        [entry] = store.audit.search(action="setting.set").items
        assert entry.details == {"old": None, "new": "***"}
    finally:
        store.close()
    # a token replaces the user and password, and the file's credentials
    keep(data, "Vendor.txt", token=TOKEN)
    feed = loaded_feed(config, data)
    assert feed.http.token == TOKEN and feed.http.username is None
    assert feed.http.password is None and feed.http.password_env is None


def test_without_a_kept_credential_the_file_values_stay(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = configure(tmp_path, "https://feeds.example/list.txt", username="file-user",
                       password="file-pw")
    keep(data, "Other.txt", token=TOKEN)  # for a feed not configured: nothing to apply to
    feed = loaded_feed(config, data)
    assert (feed.http.username, feed.http.password, feed.http.token) == \
        ("file-user", "file-pw", None)


def test_a_credential_that_cannot_be_opened_is_logged_and_ignored(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    config = configure(tmp_path, "https://feeds.example/list.txt", token="file-token")
    keep(data, "Vendor.txt", username="svc", password=PASSWORD)
    (data / "secret.key").unlink()  # a new key: what was sealed with the old one is lost
    (data / "secret.key").write_text("ab" * 32 + "\n")
    (data / "secret.key").chmod(0o600)
    caplog.set_level(logging.INFO)
    feed = loaded_feed(config, data)
    assert feed.http.token == "file-token" and feed.http.username is None
    assert "credentials kept for feed Vendor.txt not applied" in caplog.text
    assert "cannot be decrypted" in caplog.text
    assert PASSWORD not in caplog.text
    # no secret key at all: logged, the file's stay, and no key is made
    (data / "secret.key").unlink()
    assert loaded_feed(config, data).http.token == "file-token"
    assert not (data / "secret.key").exists()


def test_values_written_by_hand_are_ignored(tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    config = configure(tmp_path, "https://feeds.example/list.txt")
    keep(data, "Vendor.txt", token=TOKEN)
    store = open_store(data)
    try:
        store.settings.set(SYSTEM, "feeds.secret.Vendor.txt", {"kind": "basic",
                                                               "password": "plain"})
    finally:
        store.close()
    feed = loaded_feed(config, data)
    assert feed.http.token is None and feed.http.password is None
    assert "not a kept credential" in caplog.text


@pytest.mark.parametrize(("fields", "message"), [
    ({"username": "a", "password": "b", "token": "c"}, "not both"),
    ({}, "give a user name and a password, or a token"),
    ({"username": "a"}, "give a user name and a password"),
    ({"username": "a:b", "password": "c"}, "no ':'"),
    ({"token": "line\r\nX-Injected: 1"}, "control character"),
    ({"username": "u", "password": "x" * 5000}, "longer than"),
])
def test_refused_credentials(tmp_path: Path, fields: dict[str, str], message: str) -> None:
    with pytest.raises(fc.CredentialError, match=message):
        fc.seal(tmp_path, **fields)


def _guard(expected: str, seen: list[str]):  # type: ignore[no-untyped-def]
    def handler(req: RequestHandler) -> None:
        seen.append(req.headers.get("Authorization", ""))
        if req.headers.get("Authorization") == expected:
            reply(req, 200, FEED)
        else:
            reply(req, 401, b"no", {"WWW-Authenticate": 'Basic realm="feeds"'})
    return handler


def test_the_download_uses_the_kept_credentials(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seen: list[str] = []
    basic = "Basic " + base64.b64encode(f"svc:{PASSWORD}".encode()).decode()
    with LocalServer() as server:
        server.route("/basic.txt", _guard(basic, seen))
        server.route("/bearer.txt", _guard(f"Bearer {TOKEN}", seen))
        config = configure(tmp_path, server.url("/basic.txt"), username="svc",
                           password="wrong-in-the-file")
        with pytest.raises(FeedFetchError, match="HTTP 401"):  # the file's are wrong
            fetch(loaded_feed(config, data), tmp_path / "w1", FeedReport())
        keep(data, "Vendor.txt", username="svc", password=PASSWORD)
        path = fetch(loaded_feed(config, data), tmp_path / "w2", FeedReport())
        assert path.read_bytes() == FEED
        config = configure(tmp_path, server.url("/bearer.txt"))
        keep(data, "Vendor.txt", token=TOKEN)
        path = fetch(loaded_feed(config, data), tmp_path / "w3", FeedReport())
        assert path.read_bytes() == FEED
    assert seen[-2:] == [basic, f"Bearer {TOKEN}"]
