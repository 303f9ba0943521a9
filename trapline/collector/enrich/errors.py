"""Why an event was not enriched; its message becomes the event's ``TIStatus``."""

from __future__ import annotations

from trapline.errors import TraplineError


class EnrichError(TraplineError):
    """An event could not be enriched; it goes on without ``TI``, marked and counted."""

    reason = "error"


class LookupTimeout(EnrichError):
    """The service did not answer within the rule's timeout."""

    reason = "timeout"


class Unavailable(EnrichError):
    """The service cannot be reached, dropped the connection, or answered an error."""

    reason = "unavailable"
