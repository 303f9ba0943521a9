"""Helpers the tests share for the processes they start: stop one, ask the event service."""

from __future__ import annotations

import signal
import socket
import subprocess


def terminate(process: subprocess.Popen[bytes] | None, wait: float = 20) -> None:
    """SIGTERM, then SIGKILL when ``process`` has not exited within ``wait`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def tcp_lookup(port: int, kind: str, value: str, timeout: float = 10) -> str:
    """One reply-back request to the event service; the answer up to ``LookupFinished``."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(f"X-KF-SendFinishedEventX-KF-ReplyBack{kind}={value}\n".encode())
        answer = b""
        while b"LookupFinished" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.decode("utf-8", "replace")
