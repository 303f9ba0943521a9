"""A worker's copy of every tenant's InternalTI and FalsePositive lists, kept current.

    lists = ListsFollower(store, stats)
    matcher = Matcher(follower.get, lists.get)
    task = asyncio.create_task(lists.run())   # polls the store's lists version

The store bumps a lists version in the same transaction as every change to a
list, so a poll costs one small query; a tenant whose version moved is read
again and its overlay rebuilt in the background, then swapped in whole. Polls
run every ``interval`` seconds (0.25 by default), so a change made through the
API or the web interface is in every worker's lookups well within a second,
without touching the feed snapshot. When the store cannot be read, the lists
in force stay (counted, logged once per outage).
"""

from __future__ import annotations

import asyncio
import logging

from trapline.index.overlay import FALSE_POSITIVE, INTERNAL_TI, ListEntry, Overlay
from trapline.service.stats import Stats
from trapline.store import Store
from trapline.store.records import Indicator as ListIndicator

log = logging.getLogger("trapline.service")
INTERVAL = 0.25


class ListsFollower:
    """Overlays by tenant, rebuilt when the store says a tenant's lists changed."""

    def __init__(self, store: Store, stats: Stats | None = None, *,
                 interval: float = INTERVAL) -> None:
        self.store = store
        self.stats = stats or Stats()
        self.interval = interval
        self._overlays: dict[str, Overlay] = {}
        self._seen = -1
        self._failing = False

    def get(self, tenant: str) -> Overlay | None:
        """The tenant's lists in force (None when it has none)."""
        return self._overlays.get(tenant)

    def refresh(self) -> bool:
        """Read the lists again if their version moved; True when something was rebuilt.

        Blocking (database reads): call it from a thread.
        """
        version = self.store.lists_version()
        if version == self._seen:
            return False
        overlays = dict(self._overlays)
        for tenant in self.store.tenants.all():
            name = tenant.name
            tenant_version = self.store.lists_version(name)
            held = overlays.get(name)
            if held is not None and held.version == tenant_version:
                continue
            overlay = Overlay.build(
                tenant_version,
                [_entry(i) for i in self.store.list_entries(INTERNAL_TI, name)],
                [_entry(i) for i in self.store.list_entries(FALSE_POSITIVE, name)])
            for reason in overlay.rejected[:5]:
                log.warning("tenant %s: list entry skipped: %s", name, reason)
            overlays[name] = overlay
        self._overlays = overlays
        self._seen = version
        self.stats.count("lists_reloads")
        return True

    async def run(self) -> None:
        """Poll until cancelled; a failing store leaves the lists in force."""
        while True:
            try:
                await asyncio.to_thread(self.refresh)
                if self._failing:
                    log.info("lists: the store answers again")
                    self._failing = False
            except Exception as exc:  # the lists in force keep serving
                self.stats.count("lists_refresh_errors")
                if not self._failing:
                    log.error("lists: cannot read the store, the lists in force stay: %s", exc)
                    self._failing = True
            await asyncio.sleep(self.interval)


def _entry(indicator: ListIndicator) -> ListEntry:
    return ListEntry(indicator.value, indicator.kind or None, indicator.category,
                     indicator.context, indicator.valid_until)
