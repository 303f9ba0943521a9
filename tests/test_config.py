"""The configuration file: feeds, defaults, relative paths, precedence and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from trapline.config import demo_feeds, load_settings
from trapline.errors import ConfigError, FeedConfigError
from trapline.feeds.config import SCHEDULES, feed_from_dict


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trapline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_feed_defaults_and_relative_sources(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAPLINE_DATA_DIR", raising=False)
    path = write(tmp_path, 'data_dir = "data"\n[[feeds]]\nsource = "feeds/Botnet.json"\n'
                           '[[feeds]]\nsource = "https://x.example/dl/ips.csv?key=1"\n')
    settings = load_settings(path)
    assert settings.data_dir == tmp_path / "data"
    first, second = settings.feeds
    assert first.source == str(tmp_path / "feeds/Botnet.json")
    assert (first.name, first.category, first.format, first.schedule, first.enabled) == (
        "Botnet.json", "Botnet", "auto", 30, True)
    assert second.source == "https://x.example/dl/ips.csv?key=1" and second.name == "ips.csv"
    assert settings.feeds_or_demo == settings.feeds


def test_data_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'data_dir = "from-file"\n')
    monkeypatch.delenv("TRAPLINE_DATA_DIR", raising=False)
    assert load_settings(path).data_dir == tmp_path / "from-file"
    monkeypatch.setenv("TRAPLINE_DATA_DIR", "/from/env")
    assert load_settings(path).data_dir == Path("/from/env")
    assert load_settings(path, data_dir=Path("/flag")).data_dir == Path("/flag")


def test_no_file_means_demo_feeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRAPLINE_CONFIG", raising=False)
    settings = load_settings()
    assert settings.path is None and settings.feeds == []
    names = [f.name for f in settings.feeds_or_demo]
    assert names == ["Demo_Botnet_CnC_URL.json", "Demo_IP_Reputation.json",
                     "Demo_Malicious_Hash.json"]
    assert all(Path(f.source).is_file() and f.verify for f in demo_feeds())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feeds = 3\n", "feeds must be"),
        ("colour = 1\n", "unknown setting colour"),
        ("[[feeds]]\nname = 'x'\n", "source"),
        ("[[feeds]]\nsource = 'a'\nschedule = 45\n", "schedule 45 is not one of"),
        ("[[feeds]]\nsource = 'a'\nformat = 'yaml'\n", "format 'yaml'"),
        ("[[feeds]]\nsource = 'a'\nkind = 'ssdeep'\n", "unknown kind 'ssdeep'"),
        ("[[feeds]]\nsource = 'a'\nbogus = 1\n", "bogus"),
        ("[[feeds]]\nsource = 'a/x.txt'\n[[feeds]]\nsource = 'b/x.txt'\n", "share a name"),
        ("[[feeds]]\nsource = 'a'\nname = '../etc'\n", "feed name"),
        ("not toml = = 1\n", "not valid TOML"),
        ("[service]\nlisten = 'nowhere'\n", "service.listen: 'nowhere' is not HOST:PORT"),
        ("[service]\nworkers = -1\n", "service.workers"),
        ("[service]\nmax_line_bytes = 10\n", "service.max_line_bytes"),
        ("[service]\ncolour = 1\n", "colour"),
        ("[output]\naddress = '127.0.0.1:99999'\n", "output.address"),
        ("[output]\nprotocol = 'sctp'\n", "output.protocol"),
        ("[output]\nretries = 11\n", "output.retries: 0 to 10"),
        ("[output]\nretry_interval = 61\n", "output.retry_interval"),
        ("rule_sets = 1\n", "rule_sets must be"),
    ],
)
def test_invalid_configuration_is_refused_with_the_reason(tmp_path: Path, text: str,
                                                          message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text))


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_settings(tmp_path / "absent.toml")


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    feed = feed_from_dict({"source": "https://user:hunter2@feeds.example/x.json",
                           "http": {"password": "s3cret", "token": "t0ken",
                                    "headers": {"X-Api-Key": "k3y"}}})
    shown = repr(feed) + str(feed.public())
    for secret in ("hunter2", "s3cret", "t0ken", "k3y"):
        assert secret not in shown
    monkeypatch.setenv("FEED_PASSWORD", "from-env")
    feed = feed_from_dict({"source": "https://feeds.example/x.json",
                           "http": {"username": "u", "password_env": "FEED_PASSWORD"}})
    assert feed.http.secret_password() == "from-env"
    monkeypatch.delenv("FEED_PASSWORD")
    with pytest.raises(FeedConfigError, match="FEED_PASSWORD is not set"):
        feed.http.secret_password()


def test_schedules_are_the_vendor_values() -> None:
    assert SCHEDULES == (0, 30, 60, 120, 240, 480, 960, 1440)


def test_service_and_output_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""))
    assert (settings.service.listen, settings.service.workers, settings.service.rules) == (
        "0.0.0.0:9999", 0, "generic")
    assert (settings.output.address, settings.output.protocol, settings.output.retries,
            settings.output.retry_interval) == ("127.0.0.1:9998", "tcp", 3, 10.0)
