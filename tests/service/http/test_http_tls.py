"""The self-signed certificate: made once, private key 0600, reused, replaced when unusable."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import stat
from pathlib import Path

import msgspec
import pytest
from cryptography import x509

from trapline.config import HttpSettings, Settings
from trapline.errors import ConfigError
from trapline.service.http.tls import VALID_DAYS, self_signed, server_context, tls_files


def settings(tmp_path: Path, **http: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", http=msgspec.convert(http, HttpSettings))


def test_made_once_with_the_right_names_and_modes(tmp_path: Path) -> None:
    files = tls_files(settings(tmp_path))
    assert files == (tmp_path / "data/tls/cert.pem", tmp_path / "data/tls/key.pem")
    cert, key = files
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert.parent.stat().st_mode) == 0o700
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {socket.gethostname(), "localhost"}
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime.days == VALID_DAYS  # 825 days and the 5 minutes of clock skew
    first = (cert.read_bytes(), key.read_bytes())
    assert tls_files(settings(tmp_path)) == files
    assert (cert.read_bytes(), key.read_bytes()) == first
    server_context(cert, key)


def test_an_unusable_or_expired_pair_is_replaced(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, hostname="trapline.test")
    original = cert.read_bytes()
    key.write_text("not a key")
    cert2, key2 = self_signed(tmp_path)
    assert cert2.read_bytes() != original
    server_context(cert2, key2)
    certificate = x509.load_pem_x509_certificate(cert2.read_bytes())
    assert certificate.not_valid_after_utc > datetime.datetime.now(datetime.UTC)


def test_plain_http_and_configured_files(tmp_path: Path) -> None:
    assert tls_files(settings(tmp_path, tls=False, listen="127.0.0.1:8443")) is None
    cert, key = self_signed(tmp_path / "own")
    chosen = settings(tmp_path, certificate=str(cert), private_key=str(key))
    assert tls_files(chosen) == (cert, key)
    assert not (tmp_path / "data/tls").exists()
    missing = settings(tmp_path, certificate=str(tmp_path / "nope.pem"), private_key=str(key))
    with pytest.raises(ConfigError, match=r"http\.certificate: cannot read"):
        tls_files(missing)
    with pytest.raises(ConfigError, match="TLS certificate"):
        server_context(key, cert)  # swapped
