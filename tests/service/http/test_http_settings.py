"""``[http]``: defaults, refusals (plain HTTP only on loopback), ``--http``, documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trapline.config import HttpSettings, load_settings
from trapline.errors import ConfigError
from trapline.service.server import Overrides

DOCS = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trapline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tmp_path: Path) -> None:
    http = load_settings(write(tmp_path, "")).http
    assert http == HttpSettings()
    assert (http.enabled, http.listen, http.tls, http.certificate, http.max_body_mb) == (
        True, "0.0.0.0:8443", True, "", 64)


def test_relative_certificate_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    http = load_settings(write(tmp_path, '[http]\ncertificate = "tls/c.pem"\n'
                                         'private_key = "/etc/k.pem"\n')).http
    assert (http.certificate, http.private_key) == (str(tmp_path / "tls/c.pem"), "/etc/k.pem")


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "127.1.2.3:8080", "[::1]:8080",
                                    "localhost:8080"])
def test_plain_http_on_loopback_is_allowed(tmp_path: Path, listen: str) -> None:
    http = load_settings(write(tmp_path, f'[http]\ntls = false\nlisten = "{listen}"\n')).http
    assert not http.tls


@pytest.mark.parametrize(("text", "message"), [
    ("[http]\ntls = false\n", "http.tls = false is allowed only on a loopback address"),
    ("[http]\ntls = false\nlisten = '192.0.2.5:80'\n", "only on a loopback address"),
    ("[http]\ntls = false\nlisten = '[::]:80'\n", "only on a loopback address"),
    ("[http]\nlisten = 'everywhere'\n", "http.listen: 'everywhere' is not HOST:PORT"),
    ("[http]\ncertificate = 'c.pem'\n", "http.certificate and http.private_key go together"),
    ("[http]\nmax_body_mb = 0\n", "http.max_body_mb: 1 to 1024"),
    ("[http]\nmax_connections = 0\n", "http.max_connections"),
    ("[http]\nkeep_alive_timeout = 0\n", "http.keep_alive_timeout"),
    ("[http]\nauth_cache_seconds = -1\n", "http.auth_cache_seconds"),
    ("[http]\ntls = 'no'\n", "Expected `bool`"),
    ("[http]\nport = 1\n", "port"),
])
def test_invalid_http_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(write(tmp_path, text))


def test_disabled_http_is_not_checked_for_loopback(tmp_path: Path) -> None:
    assert not load_settings(write(tmp_path, "[http]\nenabled = false\ntls = false\n")).http.enabled


def test_the_http_option_enables_and_is_checked(tmp_path: Path) -> None:
    config = write(tmp_path, "[http]\nenabled = false\ntls = false\nlisten = '127.0.0.1:1'\n")
    http = Overrides(config=config, http="127.0.0.1:8080").load().http
    assert (http.enabled, http.listen) == (True, "127.0.0.1:8080")
    with pytest.raises(ConfigError, match=re.escape("--http: http.tls = false is allowed only")):
        Overrides(config=config, http="0.0.0.0:8080").load()
    with pytest.raises(ConfigError, match=re.escape("--http: http.listen")):
        Overrides(config=config, http="8080").load()


def test_every_http_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## The HTTP API: `[http]`"):]
    section = section[:section.index("\n## ", 1)]
    defaults = HttpSettings()
    for name in HttpSettings.__struct_fields__:
        default = getattr(defaults, name)
        assert f"| `{name}` |" in section, f"http.{name} is not in docs/configuration.md"
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        if shown:
            row = next(line for line in section.splitlines() if line.startswith(f"| `{name}` |"))
            assert shown.removesuffix(".0") in row, f"http.{name}: default {shown} not shown"
