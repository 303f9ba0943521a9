"""Feed sources against a real HTTP server on 127.0.0.1: downloads, limits, credentials.

The address policy has its own tests in test_address_policy.py; here it is
exercised through real requests. The test server is on loopback, so tests that
fetch from it set ``allow_private`` or allow just 127.0.0.1 through a policy.
"""

from __future__ import annotations

import base64
import gzip
import io
import shutil
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest
from local_http import LocalServer, RequestHandler, redirect, reply

from trapline.errors import FeedConfigError, FeedFetchError, FeedRefused
from trapline.feeds.address_policy import AddressPolicy
from trapline.feeds.config import FeedConfig, HttpOptions, MiB
from trapline.feeds.http_fetch import SafeHttpClient
from trapline.feeds.report import FeedReport
from trapline.feeds.sources import download_name, fetch

FEED = b"evil.example\n198.51.100.7\n"


def feed_for(source: str, **http: object) -> FeedConfig:
    return FeedConfig(source=source, http=HttpOptions(**http))  # type: ignore[arg-type]


def local_feed(source: str, **http: object) -> FeedConfig:
    """A feed allowed to reach the loopback test server."""
    return feed_for(source, allow_private=True, timeout=30.0, **http)


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


@pytest.fixture
def server():
    with LocalServer() as running:
        yield running


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "work"


def run(feed: FeedConfig, workdir: Path, **kwargs: object) -> tuple[Path, FeedReport]:
    report = FeedReport()
    return fetch(feed, workdir, report, **kwargs), report  # type: ignore[arg-type]


# --- local sources ---------------------------------------------------------------------

def test_local_file_and_folder_are_returned_as_they_are(tmp_path: Path, workdir: Path) -> None:
    (tmp_path / "list.txt").write_bytes(FEED)
    assert run(feed_for(str(tmp_path / "list.txt")), workdir)[0] == tmp_path / "list.txt"
    assert run(feed_for(str(tmp_path)), workdir)[0] == tmp_path


def test_missing_local_path(tmp_path: Path, workdir: Path) -> None:
    with pytest.raises(FeedFetchError, match="does not exist") as caught:
        run(feed_for(str(tmp_path / "nope.txt")), workdir)
    assert not isinstance(caught.value, FeedRefused)


def test_local_gzip_and_zip_are_unpacked_into_workdir(tmp_path: Path, workdir: Path) -> None:
    (tmp_path / "list.txt.gz").write_bytes(gz(FEED))
    path, report = run(feed_for(str(tmp_path / "list.txt.gz")), workdir)
    assert path.name == "list.txt" and path.read_bytes() == FEED
    assert path.is_relative_to(workdir) and report.notes["unpacked"] == "gzip"

    (tmp_path / "one.zip").write_bytes(zipped({"inner/list.txt": FEED, "__MACOSX/._x": b"junk"}))
    path, _ = run(feed_for(str(tmp_path / "one.zip")), workdir / "2")
    assert path.name == "list.txt" and path.read_bytes() == FEED

    (tmp_path / "two.zip").write_bytes(zipped({"a.txt": b"a.example\n", "b.txt": b"b.example\n"}))
    path, _ = run(feed_for(str(tmp_path / "two.zip")), workdir / "3")
    assert path.is_dir() and sorted(p.name for p in path.iterdir()) == ["a.txt", "b.txt"]


@pytest.mark.parametrize("source", ["file:///etc/passwd", "file:/etc/passwd", "ftp://ftp.example/x",
                                    "gopher://127.0.0.1:70/", "dict://127.0.0.1:11211/"])
def test_other_schemes_are_refused(source: str, workdir: Path) -> None:
    with pytest.raises(FeedRefused, match="not fetched"):
        run(feed_for(source), workdir)


def test_download_name() -> None:
    assert download_name("https://x.example/a/feed.csv.gz?key=1#f") == "feed.csv.gz"
    assert download_name("https://x.example/") == "feed"
    assert download_name("https://x.example/../..%2f") == "2f"


# --- HTTP downloads --------------------------------------------------------------------

def test_http_feed_file(server: LocalServer, workdir: Path) -> None:
    server.route("/feed.txt", lambda req: reply(req, 200, FEED))
    path, report = run(local_feed(server.url("/feed.txt")), workdir)
    assert path.read_bytes() == FEED and path.name == "feed.txt"
    assert report.notes["http_status"] == "200"
    assert report.notes["content_type"] == "text/plain"
    assert server.requests[0].headers["User-Agent"] == "trapline"


def test_html_error_page_with_200_is_left_to_the_parser(server: LocalServer,
                                                        workdir: Path) -> None:
    server.route("/feed.txt", lambda req: reply(req, 200, b"<html>login</html>",
                                                {"Content-Type": "text/html"}))
    path, report = run(local_feed(server.url("/feed.txt")), workdir)
    assert path.read_bytes() == b"<html>login</html>"
    assert report.notes["content_type"] == "text/html"


def test_http_gzip_file_and_gzip_content_encoding(server: LocalServer, workdir: Path) -> None:
    server.route("/feed.txt.gz", lambda req: reply(req, 200, gz(FEED),
                                                   {"Content-Type": "application/gzip"}))
    server.route("/encoded.txt", lambda req: reply(req, 200, gz(FEED),
                                                   {"Content-Encoding": "gzip"}))
    path, report = run(local_feed(server.url("/feed.txt.gz")), workdir / "a")
    assert path.read_bytes() == FEED and path.name == "feed.txt"
    path, report = run(local_feed(server.url("/encoded.txt")), workdir / "b")
    assert path.read_bytes() == FEED and report.notes["unpacked"] == "gzip"


def test_http_zip_file(server: LocalServer, workdir: Path) -> None:
    server.route("/feed.zip", lambda req: reply(req, 200, zipped({"list.txt": FEED})))
    path, _ = run(local_feed(server.url("/feed.zip")), workdir)
    assert path.name == "list.txt" and path.read_bytes() == FEED


def test_404_is_a_fetch_error(server: LocalServer, workdir: Path) -> None:
    with pytest.raises(FeedFetchError, match="HTTP 404") as caught:
        run(local_feed(server.url("/missing.txt")), workdir)
    assert not isinstance(caught.value, FeedRefused)


def test_unsupported_content_encoding(server: LocalServer, workdir: Path) -> None:
    server.route("/br", lambda req: reply(req, 200, b"\x0b\x02\x80", {"Content-Encoding": "br"}))
    with pytest.raises(FeedFetchError, match="Content-Encoding 'br'"):
        run(local_feed(server.url("/br")), workdir)


def test_truncated_gzip_is_a_fetch_error_not_a_refusal(server: LocalServer,
                                                       workdir: Path) -> None:
    server.route("/cut.gz", lambda req: reply(req, 200, gz(FEED * 100)[:40]))
    with pytest.raises(FeedFetchError, match="corrupt or truncated") as caught:
        run(local_feed(server.url("/cut.gz")), workdir)
    assert not isinstance(caught.value, FeedRefused)


# --- credentials -----------------------------------------------------------------------

def _basic_guard(user: str, password: str):
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def handler(req: RequestHandler) -> None:
        if req.headers.get("Authorization") != expected:
            reply(req, 401, b"no", {"WWW-Authenticate": 'Basic realm="feeds"'})
        else:
            reply(req, 200, FEED)
    return handler


def test_basic_auth(server: LocalServer, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server.route("/auth", _basic_guard("alice", "s3cret-pw"))
    monkeypatch.setenv("TL_TEST_FEED_PW", "s3cret-pw")
    path, _ = run(local_feed(server.url("/auth"), username="alice",
                             password_env="TL_TEST_FEED_PW"), workdir)
    assert path.read_bytes() == FEED
    with pytest.raises(FeedFetchError, match="HTTP 401") as caught:
        run(local_feed(server.url("/auth"), username="alice", password="wrong-pw"), workdir)
    assert "wrong-pw" not in str(caught.value)


def test_basic_auth_from_the_url_is_never_shown(server: LocalServer, workdir: Path) -> None:
    server.route("/auth", _basic_guard("alice", "s3cret-pw"))
    url = server.url("/auth").replace("http://", "http://alice:s3cret-pw@")
    path, report = run(local_feed(url), workdir)
    assert path.read_bytes() == FEED
    missing = server.url("/missing").replace("http://", "http://alice:s3cret-pw@")
    with pytest.raises(FeedFetchError, match="HTTP 404") as caught:
        run(local_feed(missing), workdir)
    assert "s3cret-pw" not in str(caught.value) and "alice" not in str(caught.value)
    assert all("s3cret-pw" not in value for value in report.notes.values())


def test_bearer_token_and_headers(server: LocalServer, workdir: Path) -> None:
    def handler(req: RequestHandler) -> None:
        ok = (req.headers.get("Authorization") == "Bearer tok-123"
              and req.headers.get("X-Api-Key") == "key-456")
        reply(req, 200 if ok else 403, FEED)
    server.route("/token", handler)
    path, _ = run(local_feed(server.url("/token"), token="tok-123",
                             headers={"X-Api-Key": "key-456"}), workdir)
    assert path.read_bytes() == FEED


def test_credentials_stay_with_the_original_origin(workdir: Path) -> None:
    with LocalServer() as first, LocalServer() as other:
        other.route("/feed.txt", lambda req: reply(req, 200, FEED))
        first.route("/start", redirect("/same"))
        first.route("/same", redirect(other.url("/feed.txt")))
        path, report = run(local_feed(first.url("/start"), username="alice", password="pw",
                                      headers={"X-Api-Key": "key-456"}), workdir)
        assert path.read_bytes() == FEED
        assert report.notes["final_url"] == other.url("/feed.txt")
        # the same-origin hop still carries them; the other origin sees neither
        assert all("Authorization" in seen.headers for seen in first.requests)
        assert all(seen.headers.get("X-Api-Key") == "key-456" for seen in first.requests)
        assert "Authorization" not in other.requests[0].headers
        assert "X-Api-Key" not in other.requests[0].headers


def test_errors_never_show_proxy_credentials(workdir: Path) -> None:
    with LocalServer() as closed:
        port = closed.port
    feed = local_feed("http://feed.invalid/x.txt", proxy=f"http://bob:proxy-pw@127.0.0.1:{port}",
                      password="pw-in-options", username="u")
    with pytest.raises(FeedFetchError) as caught:
        run(feed, workdir)
    assert "proxy-pw" not in str(caught.value) and "pw-in-options" not in str(caught.value)


# --- limits ----------------------------------------------------------------------------

def test_content_length_over_the_limit_is_refused_before_the_body(server: LocalServer,
                                                                  workdir: Path) -> None:
    server.route("/big", lambda req: reply(req, 200, b"x" * (2 * MiB + 1)))
    with pytest.raises(FeedRefused, match="Content-Length"):
        run(local_feed(server.url("/big"), max_download_mb=2), workdir)


def test_endless_body_is_cut_at_the_limit(server: LocalServer, workdir: Path) -> None:
    sent = []

    def endless(req: RequestHandler) -> None:
        req.send_response(200)
        req.send_header("Connection", "close")
        req.end_headers()
        req.close_connection = True
        chunk = b"x" * 65536
        for _ in range(64 * 16):  # 64 MB at most
            req.wfile.write(chunk)
            sent.append(len(chunk))
    server.route("/endless", endless)
    with pytest.raises(FeedRefused, match="download aborted"):
        run(local_feed(server.url("/endless"), max_download_mb=1), workdir)
    assert sum(sent) < 64 * MiB


def test_slow_body_times_out(server: LocalServer, workdir: Path) -> None:
    def slow(req: RequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Length", "1000")
        req.end_headers()
        req.wfile.write(b"evil.example\n")
        req.wfile.flush()
        server.stop.wait(60)
    server.route("/slow", slow)
    started = time.monotonic()
    with pytest.raises(FeedFetchError, match="timed out"):
        run(feed_for(server.url("/slow"), allow_private=True, timeout=0.5), workdir)
    assert time.monotonic() - started < 30


def test_a_trickle_is_cut_at_the_deadline(server: LocalServer, tmp_path: Path) -> None:
    def trickle(req: RequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Length", "100000")
        req.end_headers()
        while not server.stop.wait(0.05):
            req.wfile.write(b"x")
            req.wfile.flush()
    server.route("/trickle", trickle)
    with SafeHttpClient(HttpOptions(allow_private=True, timeout=30), deadline=0.5) as client, \
            pytest.raises(FeedFetchError, match="still running"):
        client.download(server.url("/trickle"), tmp_path / "out")


def _gzip_bomb(path: Path, megabytes: int) -> None:
    zeros = bytes(MiB)
    with gzip.open(path, "wb", compresslevel=6) as out:
        for _ in range(megabytes):
            out.write(zeros)


def _zip_bomb(path: Path, megabytes: int, members: int = 1) -> None:
    zeros = bytes(MiB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(members):
            with archive.open(f"part{index}.txt", "w") as out:
                for _ in range(megabytes // members):
                    out.write(zeros)


def test_gzip_bomb_is_refused(server: LocalServer, tmp_path: Path, workdir: Path) -> None:
    _gzip_bomb(tmp_path / "bomb.gz", 64)
    assert (tmp_path / "bomb.gz").stat().st_size < MiB
    body = (tmp_path / "bomb.gz").read_bytes()
    server.route("/bomb.txt", lambda req: reply(req, 200, body, {"Content-Encoding": "gzip"}))
    with pytest.raises(FeedRefused, match="decompression bomb"):
        run(local_feed(server.url("/bomb.txt"), max_unpacked_mb=8), workdir)


def test_zip_bombs_are_refused(server: LocalServer, tmp_path: Path, workdir: Path) -> None:
    _zip_bomb(tmp_path / "bomb.zip", 64)
    _zip_bomb(tmp_path / "many.zip", 64, members=16)  # each member under the limit
    for name in ("bomb.zip", "many.zip"):
        body = (tmp_path / name).read_bytes()
        server.route(f"/{name}", lambda req, body=body: reply(req, 200, body))
        with pytest.raises(FeedRefused, match="decompression bomb"):
            run(local_feed(server.url(f"/{name}"), max_unpacked_mb=8), workdir / name)


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt",
                                  "..\\evil.txt", "C:/evil.txt"])
def test_zip_path_traversal_is_refused(name: str, tmp_path: Path, workdir: Path) -> None:
    (tmp_path / "bad.zip").write_bytes(zipped({"ok.txt": FEED, name: b"x"}))
    with pytest.raises(FeedRefused, match="outside the unpack folder"):
        run(feed_for(str(tmp_path / "bad.zip")), workdir)
    assert not (tmp_path / "evil.txt").exists() and not (workdir.parent / "evil.txt").exists()


# --- the address policy, through real requests -----------------------------------------

SPELLINGS = ["127.0.0.1", "2130706433", "0x7f.1", "0x7f000001", "127.1", "017700000001",
             "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost", "0.0.0.0"]


@pytest.mark.parametrize("host", SPELLINGS)
def test_loopback_in_any_spelling_is_refused(host: str, server: LocalServer,
                                             workdir: Path) -> None:
    server.route("/feed.txt", lambda req: reply(req, 200, FEED))
    with pytest.raises(FeedRefused, match="refused to connect"):
        run(feed_for(f"http://{host}:{server.port}/feed.txt", timeout=5.0), workdir)
    assert server.requests == []  # refused before any connection


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.1", "172.16.0.1", "100.64.0.1",
                                  "169.254.169.254", "[fd00:ec2::254]", "[fe80::1]",
                                  "[fc00::1]", "224.0.0.1", "0xa9.0xfe.0xa9.0xfe"])
def test_internal_addresses_are_refused(host: str, workdir: Path) -> None:
    with pytest.raises(FeedRefused, match="refused to connect"):
        run(feed_for(f"http://{host}/feed.txt", timeout=5.0), workdir)


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/",
                                 "http://[fd00:ec2::254]/", "http://100.100.100.200/",
                                 "http://[::ffff:169.254.169.254]/"])
def test_metadata_addresses_are_refused_even_with_allow_private(
        url: str, server: LocalServer, workdir: Path) -> None:
    server.route("/start", redirect(url))
    with pytest.raises(FeedRefused, match="cloud metadata"):
        run(local_feed(server.url("/start")), workdir)
    assert len(server.requests) == 1


def test_metadata_name_is_refused_at_connect_time(server: LocalServer, workdir: Path) -> None:
    policy = AddressPolicy(allow_private=True,
                           resolver=_answers({"meta.test": ["169.254.169.254"]}))
    server.route("/start", redirect("http://meta.test/latest/meta-data/"))
    with pytest.raises(FeedRefused, match="cloud metadata"):
        run(local_feed(server.url("/start")), workdir, policy=policy)


def _answers(table: dict[str, list[str]]):
    """A resolver answering from ``table`` (names not in it do not resolve)."""
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"{host} does not resolve (test resolver)")
        return table[host]
    return resolve


def test_a_redirect_inward_is_refused(server: LocalServer, workdir: Path) -> None:
    # Only the test server's own address is allowed; the redirect targets stay refused.
    policy = AddressPolicy(allowed=["127.0.0.1/32"],
                           resolver=_answers({"inward.test": ["10.1.2.3"]}))
    server.route("/feed.txt", lambda req: reply(req, 200, FEED))
    assert run(feed_for(server.url("/feed.txt")), workdir, policy=policy)[0].read_bytes() == FEED
    for target in ("http://inward.test/admin", f"http://127.0.0.2:{server.port}/feed.txt",
                   f"http://2130706434:{server.port}/feed.txt"):
        server.route("/start", redirect(target))
        with pytest.raises(FeedRefused, match="refused to connect"):
            run(feed_for(server.url("/start")), workdir, policy=policy)


def test_dns_rebinding_between_hops_is_refused(server: LocalServer, workdir: Path) -> None:
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["127.0.0.2"]

    def first(req: RequestHandler) -> None:  # close the connection: the next hop reconnects
        reply(req, 302, b"", {"Location": "/feed.txt", "Connection": "close"})
        req.close_connection = True
    server.route("/start", first)
    server.route("/feed.txt", lambda req: reply(req, 200, FEED))
    policy = AddressPolicy(allowed=["127.0.0.1/32"], resolver=rebinding)
    url = f"http://rebind.test:{server.port}/start"
    with pytest.raises(FeedRefused, match=r"rebind.test \(127.0.0.2\): loopback"):
        run(feed_for(url), workdir, policy=policy)
    assert calls == ["rebind.test", "rebind.test"]
    assert [seen.path for seen in server.requests] == ["/start"]


def test_redirects_limited_and_to_http_only(server: LocalServer, workdir: Path) -> None:
    server.route("/loop", redirect("/loop"))
    with pytest.raises(FeedRefused, match="more than 3 redirects"):
        run(local_feed(server.url("/loop"), max_redirects=3), workdir)
    assert len(server.requests) == 4
    for target in ("file:///etc/passwd", "ftp://ftp.example/feed.txt", "gopher://x.example/"):
        server.route("/away", redirect(target))
        with pytest.raises(FeedRefused, match="only http and https"):
            run(local_feed(server.url("/away")), workdir)


# --- proxies ---------------------------------------------------------------------------

def test_proxy_is_used_and_targets_are_vetted_first(server: LocalServer, workdir: Path) -> None:
    # The test server plays the proxy: it answers absolute-form requests itself.
    server.default = lambda req: reply(req, 200, FEED)
    proxy = server.url("/").replace("http://", "http://bob:proxy-pw@").rstrip("/")
    path, _ = run(feed_for("http://feed.invalid/list.txt", proxy=proxy, timeout=30.0), workdir)
    assert path.read_bytes() == FEED
    seen = server.requests[0]
    assert seen.path == "http://feed.invalid/list.txt"
    assert seen.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(
        b"bob:proxy-pw").decode()
    for target in ("http://localhost/x", "http://169.254.169.254/", "http://2130706433/"):
        with pytest.raises(FeedRefused, match="refused to connect"):
            run(feed_for(target, proxy=proxy), workdir)
    assert len(server.requests) == 1


# --- TLS -------------------------------------------------------------------------------

@pytest.fixture
def tls_server(tmp_path: Path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    import ssl
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with LocalServer() as running:
        running._server.socket = context.wrap_socket(running._server.socket, server_side=True)
        running.route("/feed.txt", lambda req: reply(req, 200, FEED))
        yield running, cert


def test_https_with_a_custom_ca_file(tls_server, workdir: Path) -> None:
    running, cert = tls_server
    url = running.url("/feed.txt").replace("http://", "https://")
    path, _ = run(local_feed(url, ca_file=str(cert)), workdir)
    assert path.read_bytes() == FEED
    with pytest.raises(FeedFetchError, match="CERTIFICATE_VERIFY_FAILED"):
        run(local_feed(url), workdir)


def test_a_missing_ca_file_is_a_config_error(workdir: Path) -> None:
    with pytest.raises(FeedConfigError, match="ca_file"):
        run(feed_for("https://feeds.example/x", ca_file="/nonexistent/ca.pem"), workdir)


def test_client_is_usable_from_threads(server: LocalServer, tmp_path: Path) -> None:
    server.route("/feed.txt", lambda req: reply(req, 200, FEED))
    errors: list[Exception] = []

    def one(index: int) -> None:
        try:
            path, _ = run(local_feed(server.url("/feed.txt")), tmp_path / str(index))
            assert path.read_bytes() == FEED
        except Exception as exc:
            errors.append(exc)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
