"""Where enriched events go: stdout, a file (rotated), TCP/UDP syslog, HTTP POST, NATS
JetStream (each publish's PubAck awaited).

Every output has a bounded queue (``queue``: when full, the pipeline waits),
sends in batches of at most ``batch`` events, and retries a failed batch
``retries`` times with a doubling pause before dropping and counting it, or,
with a ``spool`` directory, writing it to disk to replay later (spool.py).
"""

from __future__ import annotations

from trapline.collector.config import OutputConfig
from trapline.collector.counters import Counters
from trapline.collector.outputs.base import Output
from trapline.collector.outputs.file import FileOutput, StdoutOutput
from trapline.collector.outputs.nats import NatsOutput
from trapline.collector.outputs.network import HttpOutput, TcpOutput, UdpOutput

KINDS: dict[str, type[Output]] = {"stdout": StdoutOutput, "file": FileOutput,
                                  "tcp": TcpOutput, "udp": UdpOutput, "http": HttpOutput,
                                  "nats": NatsOutput}


def make_output(config: OutputConfig, counters: Counters) -> Output:
    return KINDS[config.type](config, counters)


__all__ = ["KINDS", "Output", "make_output"]
