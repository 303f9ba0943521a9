"""Rendering feed imports for people: a progress display and summary tables (rich)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from trapline.feeds.config import FeedConfig, redact_url
from trapline.feeds.state import FeedState
from trapline.feeds.updater import Progress as ProgressCallback
from trapline.feeds.updater import UpdateResult


@contextmanager
def import_progress(console: Console) -> Iterator[ProgressCallback]:
    """A live line per feed with the records read so far (on stderr, gone when done)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                  TextColumn("{task.completed:,} records"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def update(name: str, count: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=None)
            progress.update(tasks[name], completed=count)

        yield update


def results_table(results: list[UpdateResult]) -> Table:
    """One row per feed: outcome, records, kinds, rejected and skipped counts, time."""
    table = Table(title="feed import", title_justify="left")
    for column in ("feed", "result", "records", "kinds", "rejected", "skipped", "seconds"):
        table.add_column(column, justify="right" if column in (
            "records", "rejected", "skipped", "seconds") else "left")
    for r in results:
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(r.counts.items()))
        outcome = "ok" if r.ok else f"FAILED: {r.error}"
        table.add_row(r.name, outcome, f"{r.records:,}", kinds, f"{r.rejected:,}",
                      f"{r.report.skipped_total:,}", f"{r.duration:.2f}")
    return table


def reasons(results: list[UpdateResult]) -> list[str]:
    """Why values were rejected or items skipped, per feed (samples and counts)."""
    lines = []
    for r in results:
        for reason, count in r.report.skipped.most_common():
            lines.append(f"{r.name}: skipped {count:,} x {reason}")
        for sample in r.reject_samples[:5]:
            lines.append(f"{r.name}: rejected: {sample}")
    return lines


def feeds_table(feeds: list[FeedConfig], states: dict[str, FeedState]) -> Table:
    """The configured feeds with their state: schedule, records, last success, last error."""
    table = Table(title="feeds", title_justify="left")
    for column in ("feed", "format", "category", "schedule", "records", "last success",
                   "last error", "source"):
        table.add_column(column)
    for feed in feeds:
        state = states.get(feed.name) or FeedState(name=feed.name)
        schedule = "never" if not feed.schedule else f"{feed.schedule} min"
        if not feed.enabled:
            schedule = "disabled"
        table.add_row(
            feed.name + (" (allow list)" if feed.allow else ""), feed.format, feed.category,
            schedule, f"{state.records:,}", _when(state.last_success),
            state.last_error if state.last_error_at and (
                state.last_success is None or state.last_error_at > state.last_success) else "",
            redact_url(feed.source))
    return table


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))
