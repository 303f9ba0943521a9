"""Enrichment: the clients of the service (``cybertrace`` TCP, ``cybertrace-http``),
the RPS limiter, the TI answer format, and the rule that ties them to events.

    TraplineError
     +-- EnrichError          an event could not be enriched (it goes on, marked)
          +-- LookupTimeout   no answer within the rule's timeout
          +-- Unavailable     no connection, a lost connection, an HTTP or protocol error
"""

from trapline.collector.enrich.errors import EnrichError, LookupTimeout, Unavailable

__all__ = ["EnrichError", "LookupTimeout", "Unavailable"]
