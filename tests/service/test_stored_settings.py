"""Settings the web interface keeps in the store apply over the file, under the flags."""

from __future__ import annotations

from pathlib import Path

from trapline.config import demo_feeds
from trapline.service.server import Overrides
from trapline.service.stored_settings import with_stored_settings
from trapline.store import SYSTEM, open_store


def keep(data: Path, **values: object) -> None:
    store = open_store(data)
    try:
        for key, value in values.items():
            store.settings.set(SYSTEM, key.replace("__", "."), value)
    finally:
        store.close()


def test_without_a_store_nothing_changes(tmp_path: Path) -> None:
    settings = Overrides(data_dir=tmp_path / "data").load()
    assert settings.service.rules == "generic" and not (tmp_path / "data").exists()


def test_kept_values_apply_and_flags_still_win(tmp_path: Path) -> None:
    data = tmp_path / "data"
    feed = tmp_path / "mine.txt"
    feed.write_text("203.0.113.200\n")
    keep(data, service__rules="cef", output__address="127.0.0.1:5514",
         output__templates={"detection": "hit=%MatchedIndicator%"},
         http__allowed_frame_hosts=["https://siem.example"],
         feeds__custom=[{"name": "Mine.txt", "source": str(feed), "format": "plain"},
                        {"name": "Web.txt", "source": "https://feeds.example/list.txt"}],
         feeds__proxy="http://proxy.example:3128", feeds__proxy_user="svc",
         feeds__proxy_password="p@ss word")
    settings = Overrides(data_dir=data).load()
    assert settings.service.rules == "cef"
    assert settings.output.address == "127.0.0.1:5514"
    assert settings.output.templates == {"detection": "hit=%MatchedIndicator%"}
    assert settings.http.allowed_frame_hosts == ["https://siem.example"]
    names = [f.name for f in settings.feeds]
    assert names == [f.name for f in demo_feeds()] + ["Mine.txt", "Web.txt"]
    web = settings.feeds[-1]
    assert web.http.proxy == "http://svc:p%40ss%20word@proxy.example:3128"
    assert settings.feeds[-2].http.proxy is None  # a local file needs no proxy
    flagged = Overrides(data_dir=data, output="127.0.0.1:7000").load()
    assert flagged.output.address == "127.0.0.1:7000"


def test_a_kept_value_the_rules_refuse_leaves_the_file_value(tmp_path: Path) -> None:
    data = tmp_path / "data"
    keep(data, service__rules="no-such-preset", output__address="127.0.0.1:5514")
    settings = with_stored_settings(Overrides(data_dir=data).load())
    assert settings.service.rules == "generic"
    assert settings.output.address == "127.0.0.1:9998"
