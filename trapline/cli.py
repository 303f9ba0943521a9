"""The ``trapline`` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from trapline.alerts import CollectedAlerts
from trapline.cli_collect import collect, internal_ti
from trapline.cli_options import CONFIG_OPTION, DATA_DIR_OPTION
from trapline.cli_users import users
from trapline.config import Settings, load_settings
from trapline.errors import TraplineError
from trapline.feeds.config import FORMATS, feed_for_path
from trapline.feeds.formats import read_feed
from trapline.feeds.report import FeedReport
from trapline.index import Snapshot, SnapshotBuilder, SnapshotCatalog, build_memory_snapshot
from trapline.indicators import InvalidIndicator, normalize
from trapline.verdict_format import format_table, verdict_json, verdict_rows

if TYPE_CHECKING:
    from trapline.feeds.updater import UpdateResult

FORMAT_OPTION = click.option(
    "--format", "format", type=click.Choice(FORMATS), default="auto", show_default=True,
    help="Read the feed files in this format instead of recognising it by content.")


@click.group()
@click.version_option(package_name="trapline")
def main() -> None:
    """trapline: threat-intelligence matching for SIEMs."""


main.add_command(users)
main.add_command(collect)
main.add_command(internal_ti)


def _settings(config: Path | None, data_dir: Path | None) -> Settings:
    try:
        return load_settings(config, data_dir=data_dir)
    except TraplineError as exc:
        raise click.ClickException(str(exc)) from exc


def _builder_from(paths: list[Path], format: str) -> SnapshotBuilder:
    builder = SnapshotBuilder()
    for path in paths:
        feed = feed_for_path(path, format=format)
        try:
            builder.add_all(read_feed(path, feed, FeedReport()))
        except TraplineError as exc:
            raise click.ClickException(f"feed {path}: {exc}") from exc
    return builder


@main.command()
@click.option("--feed", "feeds", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Build a throwaway snapshot from this feed file or folder (repeatable).")
@FORMAT_OPTION
@CONFIG_OPTION
@DATA_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON entry per VALUE, in order.")
@click.argument("values", nargs=-1, required=True)
def lookup(feeds: tuple[Path, ...], format: str, config: Path | None, data_dir: Path | None,
           as_json: bool, values: tuple[str, ...]) -> None:
    """Look VALUES up in the given feeds, or in the data directory's current snapshot."""
    snapshot: Snapshot
    if feeds:
        snapshot = build_memory_snapshot(_builder_from(list(feeds), format))
    else:
        settings = _settings(config, data_dir)
        try:
            snapshot = SnapshotCatalog(settings.data_dir).open_current()
        except TraplineError as exc:
            raise click.ClickException(f"{exc} (load feeds with `trapline feeds update`)") \
                from exc
    verdicts = snapshot.lookup_many(values)
    if as_json:
        click.echo(json.dumps([verdict_json(v) for v in verdicts], ensure_ascii=False, indent=2))
        return
    rows = [row for v in verdicts for row in verdict_rows(v)]
    click.echo(format_table(rows, ("object", "result", "category", "feed", "match")))


@main.command()
@CONFIG_OPTION
@DATA_DIR_OPTION
@click.option("--listen", default=None, metavar="HOST:PORT",
              help="The TCP event service (default: service.listen, 0.0.0.0:9999).")
@click.option("--output", default=None, metavar="HOST:PORT",
              help="The syslog receiver of detections and alerts (default: output.address, "
                   "127.0.0.1:9998).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Worker processes sharing the port (default: service.workers, 0 = one per "
                   "CPU).")
@click.option("--http", "http_listen", default=None, metavar="HOST:PORT",
              help="The HTTP API, enabled (default: http.listen, 0.0.0.0:8443, HTTPS).")
@click.option("--feed", "feed_paths", multiple=True, type=click.Path(exists=True),
              help="Serve this feed file or folder (repeatable); replaces the configured or "
                   "demo feeds.")
def serve(config: Path | None, data_dir: Path | None, listen: str | None, output: str | None,
          workers: int | None, http_listen: str | None, feed_paths: tuple[str, ...]) -> None:
    """Run the matching service: feeds and their schedule, the event service, the HTTP API,
    the output."""
    import logging

    from trapline.service.server import Overrides, Supervisor, reexec

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # start-up noise
    overrides = Overrides(config=config, data_dir=data_dir, listen=listen, output=output,
                          workers=workers, http=http_listen, feeds=list(feed_paths))
    try:
        supervisor = Supervisor(overrides)
    except TraplineError as exc:
        raise click.ClickException(str(exc)) from exc
    code = supervisor.run()
    if supervisor.restarting:  # SIGUSR2: the same process starts again (docs/service.md)
        reexec()
    sys.exit(code)


@main.command("normalize")
@click.option("--kind", default=None, help="Read every value as this kind instead of detecting.")
@click.argument("values", nargs=-1, required=True)
def normalize_command(kind: str | None, values: tuple[str, ...]) -> None:
    """Print the kind and canonical form of each VALUE (tab-separated)."""
    failed = False
    for value in values:
        try:
            indicator = normalize(value, kind)
        except (InvalidIndicator, ValueError) as exc:
            click.echo(f"invalid\t{value}\t{exc}")
            failed = True
            continue
        click.echo(f"{indicator.kind}\t{indicator.value}")
    sys.exit(1 if failed else 0)


@main.group()
def feeds() -> None:
    """Feeds: list the configured ones, check a feed file, update the snapshot."""


@feeds.command("list")
@CONFIG_OPTION
@DATA_DIR_OPTION
def feeds_list(config: Path | None, data_dir: Path | None) -> None:
    """The configured feeds (the demo feeds when none is) and their state."""
    from trapline.feed_summary import feeds_table
    from trapline.feeds.state import FeedStates

    settings = _settings(config, data_dir)
    states = {s.name: s for s in FeedStates(settings.data_dir).all()}
    Console(width=200).print(feeds_table(settings.feeds_or_demo, states))


@feeds.command("check")
@FORMAT_OPTION
@click.option("--kind", default=None, help="Read every value as this kind (plain and CSV).")
@click.argument("source")
def feeds_check(format: str, kind: str | None, source: str) -> None:
    """Parse SOURCE (a file, a folder or a URL) and report what an import would read."""
    from trapline.feed_summary import import_progress
    from trapline.feeds.updater import check_feed

    try:
        feed = feed_for_path(source, format=format, kind=kind)
    except TraplineError as exc:
        raise click.ClickException(str(exc)) from exc
    with import_progress(Console(stderr=True)) as progress:
        result = check_feed(feed, progress)
    _print_results([result])
    sys.exit(0 if result.ok else 1)


@feeds.command("update")
@CONFIG_OPTION
@DATA_DIR_OPTION
@click.option("--due", is_flag=True,
              help="Only the feeds whose schedule has come (for cron), and raise "
                   "KL_ALERT_OutdatedFeed for feeds without a success for too long.")
@click.argument("names", nargs=-1)
def feeds_update(config: Path | None, data_dir: Path | None, due: bool,
                 names: tuple[str, ...]) -> None:
    """Update the named feeds (default: all enabled) and publish a new snapshot.

    With no feed configured, the demo feeds are loaded.
    """
    from trapline.feed_summary import import_progress
    from trapline.feeds.updater import FeedUpdater

    settings = _settings(config, data_dir)
    sink = CollectedAlerts()
    updater = FeedUpdater(settings.data_dir, settings.feeds_or_demo, sink)
    try:
        with import_progress(Console(stderr=True)) as progress:
            if due:
                if names:
                    raise click.UsageError("--due takes no feed names")
                results = updater.run_due(progress=progress)
            else:
                results = updater.update(names or None, progress=progress)
    except TraplineError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_results(results)
    for alert in sink.alerts:
        click.echo(alert.text())
    sys.exit(0 if all(r.ok for r in results) else 1)


def _print_results(results: list[UpdateResult]) -> None:
    from trapline.feed_summary import reasons, results_table

    console = Console(width=200)
    console.print(results_table(results))
    for line in reasons(results):
        console.print(line, markup=False, highlight=False)
