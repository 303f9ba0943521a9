"""Safe HTTP(S) downloads for feeds: vetted addresses, own redirects, hard limits.

Built on httpx (sync: the service calls it from a worker thread). What it adds:

- every TCP connection goes through ``VettingBackend``, which resolves the
  host, vets every address with the AddressPolicy and connects to the vetted
  address itself (TLS SNI and the Host header keep the name), so the check
  holds at connect time, on every redirect hop, against DNS rebinding;
- redirects are followed here, not by httpx: at most ``max_redirects``,
  http and https only, and credentials (Basic auth, the bearer token, the
  configured extra headers) are sent to the original origin only;
- bodies are streamed raw (``iter_raw``, pieces as they arrive: no transparent decoding, so the size
  limit counts the bytes on the wire) to a file, refused early when the
  Content-Length or the running count passes ``max_download_mb``; a gzip
  body is unpacked afterwards by trapline.feeds.unpack under its own limit;
- every error message is passed through ``redact_url`` and scrubbed of the
  configured secrets.

Through a proxy the connection is to the proxy, which resolves the target
itself: the target host is then resolved and vetted here before each hop
(a name that does not resolve locally is left to the proxy), and the proxy
should enforce its own egress policy too.
"""

from __future__ import annotations

import re
import ssl
import time
import typing
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import certifi
import httpcore
import httpx
import msgspec

from trapline.errors import FeedConfigError, FeedFetchError, FeedRefused
from trapline.feeds.address_policy import AddressPolicy
from trapline.feeds.config import REDACTED, HttpOptions, MiB, redact_url

__all__ = ["DEFAULT_DEADLINE", "Download", "SafeHttpClient", "VettingBackend"]

DEFAULT_DEADLINE = 3600.0       # seconds for one whole download, however slowly it trickles
USER_AGENT = "trapline"
_REDIRECTS = (301, 302, 303, 307, 308)
_ENCODINGS = ("", "identity", "gzip", "x-gzip")  # gzip is unpacked by magic bytes later


@dataclass(frozen=True)
class Download:
    """A body saved to ``path``: the final URL (redacted), status, headers and size."""

    path: Path
    url: str
    status: int
    headers: httpx.Headers
    size: int

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class VettingBackend(httpcore.SyncBackend):
    """An httpcore backend that connects only to addresses the policy allows."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: typing.Iterable[Any] | None = None,
                    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in self.policy.resolve(host, port):  # FeedRefused before any connect
            try:
                return super().connect_tcp(address, port, timeout, local_address,
                                           socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error


def _ssl_context(options: HttpOptions) -> ssl.SSLContext:
    """Trust ``ca_file`` alone when set; else the system's store plus certifi's bundle
    (so that a container without CA certificates still verifies public servers)."""
    try:
        if options.ca_file:
            return ssl.create_default_context(cafile=options.ca_file)
        context = ssl.create_default_context()
        context.load_verify_locations(certifi.where())
        return context
    except (OSError, ssl.SSLError) as exc:
        where = f"http.ca_file {options.ca_file}" if options.ca_file else "the CA store"
        raise FeedConfigError(f"{where}: {exc}") from None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)


class SafeHttpClient:
    """GETs for one feed under its HttpOptions; use as a context manager.

    ``policy`` replaces the one built from ``options.allow_private`` (tests);
    ``deadline`` bounds each whole download in seconds.
    """

    def __init__(self, options: HttpOptions, *, policy: AddressPolicy | None = None,
                 deadline: float = DEFAULT_DEADLINE) -> None:
        self.options = options
        self.policy = policy or AddressPolicy(allow_private=options.allow_private)
        self.deadline = deadline
        password, token = options.secret_password(), options.secret_token()
        self._secrets = [s for s in (password, token, *options.headers.values()) if s]
        self._auth = (httpx.BasicAuth(options.username, password or "")
                      if options.username else None)
        self._credential_headers = dict(options.headers)
        if token:
            self._credential_headers["Authorization"] = f"Bearer {token}"
        if options.proxy:
            try:
                self._secrets += [s for s in (httpx.URL(options.proxy).password,) if s]
            except httpx.InvalidURL as exc:
                raise FeedConfigError(f"http.proxy is not a valid URL: {exc}") from None
        try:
            transport = httpx.HTTPTransport(verify=_ssl_context(options), proxy=options.proxy,
                                            trust_env=False, retries=0)
        except (ValueError, httpx.InvalidURL) as exc:
            raise FeedConfigError(self.scrub(f"http.proxy: {exc}")) from None
        if not options.proxy:
            pool = transport._pool  # httpx has no public hook for the network backend
            if not isinstance(getattr(pool, "_network_backend", None), httpcore.SyncBackend):
                raise RuntimeError("httpcore's pool no longer takes a network backend here")
            pool._network_backend = VettingBackend(self.policy)
        self._client = httpx.Client(transport=transport, follow_redirects=False,
                                    trust_env=False, timeout=httpx.Timeout(options.timeout),
                                    headers={"User-Agent": USER_AGENT,
                                             "Accept-Encoding": "gzip, identity"})

    def __enter__(self) -> SafeHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def scrub(self, text: str) -> str:
        """``text`` without credentials: URLs redacted, configured secrets replaced."""
        text = re.sub(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/@'\"]*@",
                      lambda m: redact_url(m.group(0)), text)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def _vet(self, url: httpx.URL) -> None:
        if url.scheme not in ("http", "https"):
            raise FeedRefused(f"{url.scheme}: URLs are not fetched, only http and https")
        if not url.host:
            raise FeedRefused(f"{redact_url(str(url))}: no host")
        self.policy.check_literal(url.host)
        if self.options.proxy:
            try:
                self.policy.resolve(url.host, _origin(url)[2] or 80)
            except FeedRefused:
                raise
            except FeedFetchError:
                pass  # the proxy resolves names this host cannot

    @contextmanager
    def stream(self, url: str, *, headers: Mapping[str, str] | None = None,
               ) -> Iterator[httpx.Response]:
        """The response to GET ``url`` after redirects, its body not read yet.

        FeedRefused for a refused scheme, address or too many redirects;
        FeedFetchError for network errors and any final status but 2xx.
        """
        try:
            current = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise FeedRefused(f"not a valid URL: {self.scrub(redact_url(url))} ({exc})") from None
        auth = self._auth
        if current.username and auth is None:  # user:password@ in the URL itself
            auth = httpx.BasicAuth(current.username, current.password)
            self._secrets += [s for s in (current.password,) if s]
        current = current.copy_with(username=None, password=None, fragment=None)
        origin = _origin(current)
        hops = 0
        response: httpx.Response | None = None
        try:
            while True:
                self._vet(current)
                same = _origin(current) == origin
                request = self._client.build_request(
                    "GET", current, headers={**(self._credential_headers if same else {}),
                                             **(headers or {})})
                response = self._client.send(request, stream=True, auth=auth if same else None)
                location = response.headers.get("location")
                if response.status_code not in _REDIRECTS or not location:
                    break
                response.close()
                hops += 1
                if hops > self.options.max_redirects:
                    raise FeedRefused(f"more than {self.options.max_redirects} redirects "
                                      f"(http.max_redirects) from {redact_url(url)}")
                try:
                    current = current.join(location).copy_with(
                        username=None, password=None, fragment=None)
                except httpx.InvalidURL as exc:
                    raise FeedFetchError(f"bad redirect location: {exc}") from None
            if not response.is_success:
                raise FeedFetchError(f"HTTP {response.status_code} {response.reason_phrase} "
                                     f"from {redact_url(str(current))}")
            yield response
        except FeedFetchError as exc:
            raise type(exc)(self.scrub(str(exc))) from None
        except httpx.TimeoutException as exc:
            raise FeedFetchError(f"timed out ({type(exc).__name__}, http.timeout = "
                                 f"{self.options.timeout:g} s) fetching "
                                 f"{redact_url(str(current))}") from None
        except (httpx.HTTPError, httpx.StreamError, OSError) as exc:
            raise FeedFetchError(self.scrub(f"cannot fetch {redact_url(str(current))}: "
                                            f"{type(exc).__name__}: {exc}")) from None
        finally:
            if response is not None:
                response.close()

    def download(self, url: str, dest: Path, *, headers: Mapping[str, str] | None = None,
                 max_bytes: int | None = None) -> Download:
        """GET ``url`` into file ``dest``; FeedRefused past ``max_bytes`` (default:
        ``max_download_mb``), checked on Content-Length first, then while streaming."""
        limit = self.options.max_download_mb * MiB if max_bytes is None else max_bytes
        start = time.monotonic()
        with self.stream(url, headers=headers) as response:
            shown = redact_url(str(response.url))
            encoding = response.headers.get("content-encoding", "").strip().lower()
            if encoding not in _ENCODINGS:
                raise FeedFetchError(f"{shown}: unsupported Content-Encoding {encoding!r}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FeedRefused(f"{shown}: Content-Length {int(declared):,} bytes is over "
                                  f"the {limit // MiB} MB limit (http.max_download_mb)")
            size = 0
            try:
                with open(dest, "wb") as out:
                    for chunk in response.iter_raw():
                        size += len(chunk)
                        if size > limit:
                            raise FeedRefused(f"{shown}: body over the {limit // MiB} MB "
                                              "limit (http.max_download_mb): download aborted")
                        if time.monotonic() - start > self.deadline:
                            raise FeedFetchError(f"{shown}: download still running after "
                                                 f"{self.deadline:g} s: aborted")
                        out.write(chunk)
            except httpx.TimeoutException:
                raise FeedFetchError(f"timed out reading {shown} (http.timeout = "
                                     f"{self.options.timeout:g} s) after {size:,} bytes"
                                     ) from None
            except (httpx.HTTPError, httpx.StreamError) as exc:
                raise FeedFetchError(self.scrub(f"{shown}: body cut after {size:,} bytes: "
                                                f"{type(exc).__name__}: {exc}")) from None
            return Download(dest, shown, response.status_code, response.headers, size)

    def get_json(self, url: str, *, headers: Mapping[str, str] | None = None,
                 max_bytes: int = 16 * MiB) -> Any:
        """GET ``url`` and decode its JSON body (at most ``max_bytes``); FeedFetchError
        if it is not JSON."""
        body = bytearray()
        with self.stream(url, headers=headers) as response:
            shown = redact_url(str(response.url))
            try:
                for chunk in response.iter_raw():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FeedRefused(f"{shown}: JSON body over {max_bytes // MiB} MB")
            except httpx.TimeoutException:
                raise FeedFetchError(f"timed out reading {shown}") from None
            except (httpx.HTTPError, httpx.StreamError) as exc:
                raise FeedFetchError(self.scrub(f"{shown}: {type(exc).__name__}: {exc}")
                                     ) from None
        raw = bytes(body)
        if raw.startswith(b"\x1f\x8b"):  # gzip, whether or not Content-Encoding says so
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                raw = decoder.decompress(raw, max_bytes + 1)
            except zlib.error as exc:
                raise FeedFetchError(f"{shown}: corrupt gzip body ({exc})") from None
            if len(raw) > max_bytes or decoder.unconsumed_tail:
                raise FeedRefused(f"{shown}: JSON body unpacks to over {max_bytes // MiB} MB")
        try:
            return msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise FeedFetchError(f"{shown}: not JSON ({exc})") from None
