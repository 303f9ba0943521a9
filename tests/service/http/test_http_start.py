"""``start_http`` inside a running loop: a shared port, TLS, signals left alone, stop."""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
from pathlib import Path

import httpx
import msgspec
import pytest
from http_unit import KUMA, Lookups, authenticate

from trapline.config import HttpSettings, Settings
from trapline.errors import ConfigError
from trapline.service.http import AppContext, start_http


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def settings(tmp_path: Path, port: int, **http: object) -> Settings:
    values = {"listen": f"127.0.0.1:{port}", **http}
    return Settings(data_dir=tmp_path / "data", http=msgspec.convert(values, HttpSettings))


def context(lookups: Lookups, worker: int) -> AppContext:
    return AppContext(lookup_many=lookups, authenticate_basic=authenticate,
                      snapshot_version=lambda: 3, worker=worker)


def test_two_servers_share_one_port_and_stop_cleanly(tmp_path: Path, lookups: Lookups) -> None:
    port = free_port()
    config = settings(tmp_path, port, tls=False, max_body_mb=1)
    before = signal.getsignal(signal.SIGTERM)

    async def run() -> set[int]:
        first = await start_http(config, context(lookups, 1))
        second = await start_http(config, context(lookups, 2))
        assert signal.getsignal(signal.SIGTERM) == before  # uvicorn took no signal
        assert first.app.context.max_body_bytes == 1 << 20
        workers = set()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.post("/api/1.1/lookup", headers=KUMA,
                                         json=[{"object": "192.0.2.1"}])
            assert response.json()[0]["result"] == "detected"
        for _ in range(200):  # a new connection each time: the kernel picks a socket
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                workers.add((await client.get("/healthz")).json()["worker"])
            if len(workers) == 2:
                break
        await first.stop()
        await second.stop()
        return workers

    assert asyncio.run(run()) == {1, 2}
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_https_with_the_self_signed_certificate(tmp_path: Path, lookups: Lookups) -> None:
    port = free_port()
    config = settings(tmp_path, port)

    async def run() -> httpx.Response:
        server = await start_http(config, context(lookups, 1))
        assert server.scheme == "https"
        trust = ssl.create_default_context(cafile=tmp_path / "data/tls/cert.pem")
        try:
            async with httpx.AsyncClient(base_url=f"https://localhost:{port}",
                                         verify=trust) as client:
                return await client.post("/api/1.2/lookup", headers=KUMA,
                                         json=[{"object": "192.0.2.1"}])
        finally:
            await server.stop()

    assert asyncio.run(run()).json()[0]["result"] == "detected"


def test_a_port_in_use_is_a_config_error(tmp_path: Path, lookups: Lookups) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = settings(tmp_path, taken.getsockname()[1], tls=False)
        with pytest.raises(ConfigError, match=r"http\.listen"):
            asyncio.run(start_http(config, context(lookups, 1)))
