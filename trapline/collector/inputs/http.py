"""HTTP input: ``POST`` (any path) a JSON array of events, one JSON object, or JSON lines.

A small HTTP/1.1 server on asyncio streams (keep-alive, ``Content-Length``
bodies of at most ``max_line_bytes``; chunked bodies are refused with 411).
With ``format`` other than ``json``, every body line is parsed with it. The
answer (``200 {"accepted": N}``) is sent once every event is queued, so a
full queue slows the client down; bad JSON is a 400 with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from trapline.collector.inputs.base import StreamServerInput

log = logging.getLogger("trapline.collector.input")
_decode = msgspec.json.Decoder().decode


def _response(status: int, reason: str, body: dict[str, Any]) -> bytes:
    payload = msgspec.json.encode(body)
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(payload)}\r\n\r\n").encode() + payload


class HttpInput(StreamServerInput):
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                except asyncio.LimitOverrunError:
                    writer.write(_response(431, "Request Header Fields Too Large",
                                           {"error": "headers too large"}))
                    return
                lines = head.decode("latin-1").split("\r\n")
                method = lines[0].split(" ", 1)[0]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if method != "POST":
                    writer.write(_response(405, "Method Not Allowed",
                                           {"error": "only POST is accepted"}))
                    await writer.drain()
                    continue
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    writer.write(_response(411, "Length Required",
                                           {"error": "send a Content-Length body"}))
                    return
                length = int(headers.get("content-length", "0") or 0)
                if length > self.config.max_line_bytes:
                    self.intake.too_long()
                    writer.write(_response(413, "Content Too Large",
                                           {"error": f"body over {self.config.max_line_bytes}"
                                                     " bytes"}))
                    return
                body = await reader.readexactly(length)
                status = await self._accept(body)
                writer.write(status)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            log.debug("input %s: %s", self.config.name, exc)
        finally:
            writer.close()

    async def _accept(self, body: bytes) -> bytes:
        intake = self.intake
        text = body.decode("utf-8", "replace")
        if self.config.format != "json":
            lines = [line for line in text.splitlines() if line.strip()]
            for line in lines:
                await intake.line(line)
            return _response(200, "OK", {"accepted": len(lines)})
        stripped = text.strip()
        try:
            if stripped.startswith("["):
                items = _decode(stripped)
            elif stripped.startswith("{") and "\n" not in stripped:
                items = [_decode(stripped)]
            else:
                items = [_decode(line) for line in stripped.splitlines() if line.strip()]
        except msgspec.DecodeError as exc:
            intake.counters.add(intake.prefix + "parse_errors")
            return _response(400, "Bad Request", {"error": f"not JSON: {exc}"})
        bad = [i for i, item in enumerate(items) if not isinstance(item, dict)]
        if bad:
            intake.counters.add(intake.prefix + "parse_errors")
            return _response(400, "Bad Request",
                             {"error": f"item {bad[0]} is not a JSON object"})
        for item in items:
            await intake.event(item)
        return _response(200, "OK", {"accepted": len(items)})

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
