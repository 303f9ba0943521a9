"""Stream framing for TCP syslog: LF-terminated lines and RFC 6587 octet counting.

``Framer.feed(chunk)`` returns the complete messages so far. With ``auto``
each message decides: one that starts with a digit is octet-counted
(``LEN SP MSG``; a syslog message itself starts with ``<``), any other runs to
the next LF. A CR before the LF is dropped. A message over ``limit`` bytes is
skipped (to its LF, or its counted end) and counted in ``too_long``.
"""

from __future__ import annotations


class Framer:
    def __init__(self, mode: str = "auto", limit: int = 1 << 20) -> None:
        self.mode = mode
        self.limit = limit
        self.buffer = b""
        self.skip_to_lf = False
        self.skip_bytes = 0
        self.too_long = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self.buffer + chunk if self.buffer else chunk
        out: list[bytes] = []
        at = 0
        end = len(data)
        while at < end:
            if self.skip_bytes:
                step = min(self.skip_bytes, end - at)
                self.skip_bytes -= step
                at += step
                continue
            if self.skip_to_lf:
                lf = data.find(b"\n", at)
                if lf < 0:
                    at = end
                    break
                self.skip_to_lf = False
                at = lf + 1
                continue
            first = data[at:at + 1]
            if self.mode == "octet" or (self.mode == "auto" and first.isdigit()):
                space = data.find(b" ", at, at + 12)
                if space < 0:
                    if end - at >= 12 or (self.mode == "auto" and not data[at:end].isdigit()):
                        lf = data.find(b"\n", at)  # not a count after all: a line
                        if lf < 0:
                            break
                        out.append(data[at:lf].rstrip(b"\r"))
                        at = lf + 1
                        continue
                    break
                count_text = data[at:space]
                if not count_text.isdigit():
                    lf = data.find(b"\n", at)
                    if lf < 0:
                        break
                    out.append(data[at:lf].rstrip(b"\r"))
                    at = lf + 1
                    continue
                count = int(count_text)
                if count > self.limit:
                    self.too_long += 1
                    self.skip_bytes = count
                    at = space + 1
                    continue
                if end - (space + 1) < count:
                    break
                out.append(data[space + 1:space + 1 + count].rstrip(b"\r\n"))
                at = space + 1 + count
                continue
            lf = data.find(b"\n", at)
            if lf < 0:
                if end - at > self.limit:
                    self.too_long += 1
                    self.skip_to_lf = True
                    at = end
                break
            if lf - at > self.limit:
                self.too_long += 1
            else:
                out.append(data[at:lf].rstrip(b"\r"))
            at = lf + 1
        self.buffer = data[at:] if at < end else b""
        return [message for message in out if message]
