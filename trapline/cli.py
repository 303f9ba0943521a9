"""The ``trapline`` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from trapline.config import default_data_dir, demo_feed_paths
from trapline.errors import TraplineError
from trapline.feeds.plain import read_plain
from trapline.index import Snapshot, SnapshotBuilder, SnapshotCatalog, build_memory_snapshot
from trapline.indicators import InvalidIndicator, normalize
from trapline.verdict_format import format_table, verdict_json, verdict_rows

DATA_DIR_OPTION = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Data directory (default: $TRAPLINE_DATA_DIR or ./trapline-data).")


@click.group()
@click.version_option(package_name="trapline")
def main() -> None:
    """trapline: threat-intelligence matching for SIEMs."""


def _builder_from(paths: list[Path]) -> SnapshotBuilder:
    builder = SnapshotBuilder()
    for path in paths:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                builder.add_all(read_plain(file))
            except OSError as exc:
                raise click.ClickException(f"cannot read feed {file}: {exc}") from exc
    return builder


@main.command()
@click.option("--feed", "feeds", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Build a throwaway snapshot from this feed file or folder (repeatable).")
@DATA_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON entry per VALUE, in order.")
@click.argument("values", nargs=-1, required=True)
def lookup(feeds: tuple[Path, ...], data_dir: Path | None, as_json: bool,
           values: tuple[str, ...]) -> None:
    """Look VALUES up in the given feeds, or in the data directory's current snapshot."""
    snapshot: Snapshot
    if feeds:
        snapshot = build_memory_snapshot(_builder_from(list(feeds)))
    else:
        try:
            snapshot = SnapshotCatalog(data_dir or default_data_dir()).open_current()
        except TraplineError as exc:
            raise click.ClickException(f"{exc} (load feeds with `trapline feeds load`)") from exc
    verdicts = snapshot.lookup_many(values)
    if as_json:
        click.echo(json.dumps([verdict_json(v) for v in verdicts], ensure_ascii=False, indent=2))
        return
    rows = [row for v in verdicts for row in verdict_rows(v)]
    click.echo(format_table(rows, ("object", "result", "category", "feed", "match")))


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
    """Feeds: load them into the data directory's snapshot."""


@feeds.command("load")
@DATA_DIR_OPTION
@click.option("--demo", is_flag=True, help="Also load the demo feeds shipped with trapline.")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
def feeds_load(data_dir: Path | None, demo: bool, paths: tuple[Path, ...]) -> None:
    """Build a snapshot from plain-list PATHS (files or folders) and publish it."""
    sources = list(paths) + (demo_feed_paths() if demo or not paths else [])
    builder = _builder_from(sources)
    catalog = SnapshotCatalog(data_dir or default_data_dir())
    version = catalog.publish(builder)
    counts = ", ".join(f"{k} {n}" for k, n in sorted(builder.counts.items()))
    click.echo(f"snapshot v{version}: {len(builder)} indicators ({counts}); "
               f"{builder.rejected} rejected")
    for sample in builder.reject_samples[:5]:
        click.echo(f"  rejected: {sample}", err=True)
