"""Where events come from: TCP (syslog or JSON lines), UDP, HTTP POST, a followed file,
a NATS JetStream subject (a durable pull consumer, acked once the event went out).

Each input hands raw lines (or decoded JSON objects) to an ``Intake``, which
parses, applies the preset and queues the event. TCP and HTTP inputs await
the queue, so a full queue stops their reading (backpressure); UDP cannot
wait, so a full queue drops the datagram and counts it.
"""

from __future__ import annotations

from trapline.collector.config import InputConfig
from trapline.collector.inputs.base import Input, Intake
from trapline.collector.inputs.file import FileInput
from trapline.collector.inputs.http import HttpInput
from trapline.collector.inputs.nats import NatsInput
from trapline.collector.inputs.tcp import TcpInput
from trapline.collector.inputs.udp import UdpInput

KINDS: dict[str, type[Input]] = {"tcp": TcpInput, "udp": UdpInput, "http": HttpInput,
                                 "file": FileInput, "nats": NatsInput}


def make_input(config: InputConfig, intake: Intake) -> Input:
    return KINDS[config.type](config, intake)


__all__ = ["KINDS", "Input", "Intake", "make_input"]
