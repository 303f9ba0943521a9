"""Kind ``cybertrace-http``: the vendor's lookup API (protocol.md section 2).

``POST /api/1.3/{tenant}/lookup`` with Basic auth from the rule's secret, a
body ``[{"object": value}, ...]`` (the event's mapped values, in mapping
order), the answer one item per object. httpx keeps at most ``connections``
connections; each request has the rule's timeout as its whole deadline.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from trapline.collector.enrich.errors import LookupTimeout, Unavailable
from trapline.collector.secrets import Credentials

_decode = msgspec.json.Decoder().decode


class CyberTraceHttpClient:
    def __init__(self, url: str, tenant: str, credentials: Credentials, connections: int,
                 timeout: float, tls: bool = True, ca_file: str = "",
                 verify: bool = True) -> None:
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://{url}/api/1.3/{quote(tenant, safe='')}/lookup"
        self.timeout = timeout
        verify_arg: ssl.SSLContext | bool = verify
        if tls and verify and ca_file:
            verify_arg = ssl.create_default_context(cafile=ca_file)
        self.client = httpx.AsyncClient(
            auth=httpx.BasicAuth(credentials.user, credentials.password),
            verify=verify_arg,
            limits=httpx.Limits(max_connections=connections,
                                max_keepalive_connections=connections),
            timeout=httpx.Timeout(timeout))

    async def lookup(self, values: list[str]) -> Any:
        body = msgspec.json.encode([{"object": value} for value in values])
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.post(
                    self.url, content=body, headers={"content-type": "application/json"})
        except (httpx.TimeoutException, TimeoutError):
            raise LookupTimeout(f"no answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            reason = response.text[:200].replace("\n", " ")
            raise Unavailable(f"HTTP {response.status_code}: {reason}")
        try:
            return _decode(response.content)
        except msgspec.DecodeError:
            raise Unavailable("the answer is not JSON") from None

    async def close(self) -> None:
        await self.client.aclose()
