"""``trapline collect``: the SIEM side (protocol.md section 6).

Events come in (``inputs``), are parsed (``parsers``) and normalized into the
documented schema (``schema``), go through the enrichment rules in order
(``filters``, ``enrich``), get the service's answer in their ``TI`` field, and
go out (``outputs``). ``pipeline`` ties the stages with bounded queues. The
collector talks to ``trapline serve`` only over the wire, as any SIEM would.
"""
