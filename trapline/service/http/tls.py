"""TLS for the HTTP face: the configured certificate, or a self-signed one made once.

Without ``http.certificate``, the first start writes ``DATA_DIR/tls/cert.pem`` and
``key.pem`` (EC P-256, 825 days, SAN: this host's name, localhost, 127.0.0.1,
::1; the key file mode 0600) and every later start reuses them, so clients can
pin or trust that one file. An expired or unreadable pair is replaced.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from trapline.config import Settings
from trapline.errors import ConfigError

log = logging.getLogger("trapline.http")

CERT = "cert.pem"
KEY = "key.pem"
VALID_DAYS = 825  # the longest validity clients accept for a server certificate


def tls_files(settings: Settings) -> tuple[Path, Path] | None:
    """``(certificate, private key)`` to serve with, or None for plain HTTP."""
    http = settings.http
    if not http.tls:
        return None
    if http.certificate:
        pair = Path(http.certificate), Path(http.private_key)
        for what, path in zip(("http.certificate", "http.private_key"), pair, strict=True):
            if not os.access(path, os.R_OK):
                raise ConfigError(f"{what}: cannot read {path}")
        return pair
    return self_signed(Path(settings.data_dir) / "tls")


def server_context(certificate: Path, key: Path) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 and later); ConfigError if the files do not load."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certificate, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS certificate {certificate} with key {key}: {exc}") from exc
    return context


def self_signed(folder: Path, hostname: str | None = None) -> tuple[Path, Path]:
    """The certificate and key in ``folder``, made now if missing, unreadable or expired."""
    cert, key = folder / CERT, folder / KEY
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {folder}: {exc}") from exc
    with _locked(folder / ".lock"):  # several workers may start at once
        if _usable(cert, key):
            return cert, key
        name = hostname or socket.gethostname()
        cert_pem, key_pem = _generate(name)
        _write(key, key_pem, 0o600)
        _write(cert, cert_pem, 0o644)
        fingerprint = x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256())
        log.info("made a self-signed TLS certificate %s for %s (SHA-256 %s)", cert, name,
                 fingerprint.hex(":"))
    return cert, key


def _usable(cert: Path, key: Path) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(cert.read_bytes())
        serialization.load_pem_private_key(key.read_bytes(), password=None)
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        log.warning("TLS certificate %s or key %s unusable, making new ones: %s", cert, key, exc)
        return False
    if certificate.not_valid_after_utc <= datetime.datetime.now(datetime.UTC):
        log.warning("TLS certificate %s expired, making a new one", cert)
        return False
    return True


def _generate(hostname: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trapline")])
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(
        [hostname, "localhost"])]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` under a temporary name with ``mode`` from the start, then rename."""
    temporary = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, mode)  # the umask may have narrowed it
    os.replace(temporary, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
