"""Syslog framing of one output line: raw, RFC 5424 or RFC 3164.

    raw      Category=KL_Malicious_URL|MatchedIndicator=evil.example
    rfc5424  <12>1 2024-04-16T09:05:41.123Z host trapline 4242 4242-m1k2-1f - Category=...
    rfc3164  <12>Apr 16 09:05:41 host trapline[4242]: Category=...

PRI = facility * 8 + severity. RFC 5424 timestamps are UTC with milliseconds and
the MSGID is the line's event id; RFC 3164 timestamps are local time, the day
padded with a space (``Apr  6``). Header fields are cut to the RFCs' lengths and
anything but printable ASCII in them becomes ``_``.
"""

from __future__ import annotations

import os
import re
import socket
import time

from trapline.errors import ConfigError

FRAMINGS = ("raw", "rfc5424", "rfc3164")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HEADER_BAD = re.compile(r"[^\x21-\x7e]")


def header_field(text: str, limit: int) -> str:
    """An RFC 5424 header field: printable ASCII without spaces, at most ``limit``, or ``-``."""
    return _HEADER_BAD.sub("_", text)[:limit] or "-"


class Framer:
    """Frames lines for one sink; caches the timestamp text per second."""

    def __init__(self, framing: str = "raw", *, facility: int = 1, app_name: str = "trapline",
                 hostname: str | None = None, procid: int | None = None) -> None:
        if framing not in FRAMINGS:
            raise ConfigError(f"output.framing is one of {', '.join(FRAMINGS)}, not {framing!r}")
        if not 0 <= facility <= 23:
            raise ConfigError("output.facility: 0 to 23")
        self.framing = framing
        self.facility = facility
        self.hostname = header_field(hostname or socket.gethostname(), 255)
        self.app_name = header_field(app_name, 48)
        self.procid = str(os.getpid() if procid is None else procid)
        self._second = -1
        self._stamp = ""

    def frame(self, line: str, event_id: str, severity: int, now: float | None = None) -> str:
        """``line`` with the syslog header of this framing.

        ``line`` must be one line and ``event_id`` a header field (``header_field``).
        """
        if self.framing == "raw":
            return line
        pri = self.facility * 8 + severity
        now = time.time() if now is None else now
        if self.framing == "rfc5424":
            return (f"<{pri}>1 {self._rfc5424_time(now)} {self.hostname} {self.app_name} "
                    f"{self.procid} {event_id or '-'} - {line}")
        return (f"<{pri}>{self._rfc3164_time(now)} {self.hostname} "
                f"{self.app_name}[{self.procid}]: {line}")

    def _rfc5424_time(self, now: float) -> str:
        second = int(now)
        if second != self._second:
            t = time.gmtime(second)
            self._stamp = (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
                           f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}")
            self._second = second
        return f"{self._stamp}.{int((now - second) * 1000):03d}Z"

    def _rfc3164_time(self, now: float) -> str:
        t = time.localtime(now)
        return (f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} "
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}")
