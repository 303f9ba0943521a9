"""Service alerts: one interface through which every part of trapline reports events.

    sink.alert(Alert(UPDATED_FEED, {"feed": "Demo_IP_Reputation.json", "records": "3"}))

Alert names are the vendor's (protocol.md section 4), so SIEM rules written for
them keep working. The service sends alerts to its syslog receivers (issue 4);
the command line prints them; every sink also logs them.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import msgspec

SERVICE_STARTED = "KL_ALERT_ServiceStarted"
SERVICE_STOPPED = "KL_ALERT_ServiceStopped"
SERVICE_RESTARTING = "KL_ALERT_ServiceRestarting"  # trapline's own: stopping to start again
CONFIGURATION_UPDATED = "KL_ALERT_ConfigurationUpdated"
UPDATED_FEED = "KL_ALERT_UpdatedFeed"
FAILED_TO_UPDATE_FEED = "KL_ALERT_FailedToUpdateFeed"
FEED_BECAME_AVAILABLE = "KL_ALERT_FeedBecameAvailable"
FEED_BECAME_UNAVAILABLE = "KL_ALERT_FeedBecameUnavailable"
OUTDATED_FEED = "KL_ALERT_OutdatedFeed"

log = logging.getLogger("trapline.alerts")


class Alert(msgspec.Struct, frozen=True):
    """A named service event with ``key=value`` details, in the order given."""

    name: str
    fields: dict[str, str] = msgspec.field(default_factory=dict)
    time: float = msgspec.field(default_factory=time.time)

    def text(self) -> str:
        """``alert=NAME key=value ...``: the vendor's alert line without its date."""
        details = "".join(f" {key}={_clean(value)}" for key, value in self.fields.items())
        return f"alert={self.name}{details}"


class AlertSink(Protocol):
    """Anything that takes alerts: the syslog output, a list, the log."""

    def alert(self, alert: Alert) -> None: ...


class LogAlerts:
    """Writes each alert to the ``trapline.alerts`` log (warnings for failures)."""

    def alert(self, alert: Alert) -> None:
        level = logging.WARNING if "Fail" in alert.name or "Unavailable" in alert.name or (
            "Outdated" in alert.name) else logging.INFO
        log.log(level, "%s", alert.text())


class CollectedAlerts(LogAlerts):
    """Logs alerts and keeps them in order (the command line prints them after a run)."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self._lock = threading.Lock()

    def alert(self, alert: Alert) -> None:
        super().alert(alert)
        with self._lock:
            self.alerts.append(alert)

    def names(self) -> list[str]:
        return [a.name for a in self.alerts]


def _clean(value: object) -> str:
    """One line, no raw newlines: an alert is one syslog message."""
    return " ".join(str(value).split())
