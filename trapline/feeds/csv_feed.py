"""CSV feeds: one indicator per row, the other columns as its context.

    ################################################
    # abuse.ch Feodo Tracker Botnet C2 IP Blocklist
    ################################################
    "first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"
    "2023-05-23 17:51:44","192.9.135.73","1194","online","2024-04-01","Pikabot"
    # END 1 entries

Lines starting with the comment character (``#``) are skipped. The header row
is detected (a first row without indicators), or taken from the comment line
just before the data when that one has the shape of a header (some feeds
comment their header out); ``csv.header`` forces either reading. The value
column is configured by name or number, else the first column named like an
indicator (``ioc``, ``url``, ``dst_ip``, ``md5``...), else the first column whose
first value is an indicator. Columns named ``first_seen*``, ``last_seen*`` or
``last_online`` fill the lifecycle fields.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from trapline.errors import FeedParseError
from trapline.feeds.config import CsvOptions, FeedConfig
from trapline.feeds.report import FeedReport
from trapline.feeds.timestamps import parse_time
from trapline.index.records import IndicatorRecord
from trapline.indicators import detect_kind

VALUE_NAMES = ("ioc", "indicator", "value", "observable", "url", "domain", "hostname", "host",
               "ip", "ip_address", "dst_ip", "ipaddress", "md5", "sha1", "sha256", "hash",
               "md5_hash", "sha1_hash", "sha256_hash")
KIND_HINTS = {"md5": "md5", "md5_hash": "md5", "sha1": "sha1", "sha1_hash": "sha1",
              "sha256": "sha256", "sha256_hash": "sha256", "domain": "domain"}
FIRST_SEEN = ("first_seen", "first_seen_utc", "firstseen", "dateadded", "date_added")
LAST_SEEN = ("last_seen", "last_seen_utc", "lastseen", "last_online")
MAX_FIELD = 1 << 20
MAX_BAD_ROWS_IN_A_ROW = 1000

csv.field_size_limit(min(MAX_FIELD, sys.maxsize))


class _Columns:
    """Where a CSV feed's value, kind, category and context live in a row."""

    def __init__(self, names: list[str], first_row: list[str], options: CsvOptions,
                 feed: FeedConfig) -> None:
        self.names = names
        self.value = self._index(options.value_column) if options.value_column is not None \
            else self._guess_value(first_row)
        self.kind_column = self._index(options.kind_column)
        self.category = self._index(options.category_column)
        self.kind = feed.kind or (KIND_HINTS.get(names[self.value].lower())
                                  if self.value < len(names) else None)
        taken = {self.value, self.kind_column, self.category}
        wanted = options.context_columns
        indexes = [self._index(c) for c in wanted] if wanted is not None else range(len(names))
        self.context = [(i, names[i]) for i in indexes if i is not None and i not in taken]
        lowered = [n.lower() for n in names]
        self.first_seen = next((i for i, n in enumerate(lowered) if n in FIRST_SEEN), None)
        self.last_seen = next((i for i, n in enumerate(lowered) if n in LAST_SEEN), None)

    def _index(self, column: str | int | None) -> int | None:
        if column is None:
            return None
        if isinstance(column, int):
            if column < 0:
                raise FeedParseError(f"column {column}: numbers start at 0")
            return column
        try:
            return self.names.index(column)
        except ValueError:
            raise FeedParseError(f"no column named {column!r} (columns: "
                                 f"{', '.join(self.names)})") from None

    def _guess_value(self, row: list[str]) -> int:
        for i, name in enumerate(self.names):
            if name.strip().lower() in VALUE_NAMES:
                return i
        for i, cell in enumerate(row):
            if _indicator(cell):
                return i
        return 0


def read_csv(path: Path, feed: FeedConfig, report: FeedReport) -> Iterator[IndicatorRecord]:
    """Stream the records of a CSV feed file."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            yield from _read(handle, feed, report, path.name)
    except OSError as exc:
        raise FeedParseError(f"{path.name}: cannot read: {exc}") from exc
    except FeedParseError as exc:
        if str(exc).startswith(path.name):
            raise
        raise FeedParseError(f"{path.name}: {exc}") from exc


def _read(handle: TextIO, feed: FeedConfig, report: FeedReport,
          name: str) -> Iterator[IndicatorRecord]:
    options = feed.csv
    if len(options.delimiter) != 1:
        raise FeedParseError(f"csv.delimiter must be one character, not {options.delimiter!r}")
    comments: list[str] = []
    rows = _rows(_data_lines(handle, options.comment, comments), options.delimiter, report)
    first = next(rows, None)
    if first is None:
        return
    header = _header(first, comments, options)
    sample = next(rows, None) if header is first else first
    if sample is None:
        return
    names = header or [f"column{i + 1}" for i in range(len(sample))]
    columns = _Columns(names, sample, options, feed)
    for row in _chain(sample, rows):
        record = _record(row, columns, feed, report)
        if record is not None:
            yield record


def _chain(first: list[str], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield first
    yield from rest


def _data_lines(handle: TextIO, comment: str, comments: list[str]) -> Iterator[str]:
    """Non-blank, non-comment lines; the comment lines seen before data are kept."""
    seen_data = False
    for line in handle:
        stripped = line.strip().lstrip("\ufeff")
        if not stripped:
            continue
        if comment and stripped.startswith(comment):
            if not seen_data:
                comments.append(stripped[len(comment):].strip())
            continue
        seen_data = True
        yield line


def _rows(lines: Iterator[str], delimiter: str, report: FeedReport) -> Iterator[list[str]]:
    reader = csv.reader(lines, delimiter=delimiter)
    bad = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.skip("malformed CSV row", str(exc))
            bad += 1
            if bad > MAX_BAD_ROWS_IN_A_ROW:
                raise FeedParseError(f"more than {MAX_BAD_ROWS_IN_A_ROW} malformed rows in a "
                                     "row: not a CSV file with this delimiter") from exc
            continue
        bad = 0
        yield row


def _header(first: list[str], comments: list[str], options: CsvOptions) -> list[str] | None:
    """The header: the first row itself, the last comment line before data, or None."""
    if options.header is True:
        return first
    if options.header is False:
        return None
    if not any(_indicator(cell) for cell in first):
        return first
    if comments:
        candidate = next(csv.reader([comments[-1]], delimiter=options.delimiter), [])
        if len(candidate) == len(first) and not any(_indicator(c) for c in candidate):
            return [c.strip() for c in candidate]
    return None


def _record(row: list[str], columns: _Columns, feed: FeedConfig,
            report: FeedReport) -> IndicatorRecord | None:
    if columns.value >= len(row) or not row[columns.value].strip():
        report.skip("row without a value in the value column", ",".join(row)[:100])
        return None
    kind = columns.kind
    if columns.kind_column is not None and columns.kind_column < len(row):
        kind = row[columns.kind_column].strip().lower() or kind
    category = feed.category
    if columns.category is not None and columns.category < len(row):
        category = row[columns.category].strip() or category
    context = {name: row[i] for i, name in columns.context if i < len(row) and row[i] != ""}
    return IndicatorRecord(
        value=row[columns.value],
        kind=kind,
        feed=feed.name,
        category=category,
        context=context,
        first_seen=_time(row, columns.first_seen),
        last_seen=_time(row, columns.last_seen),
        allow=feed.allow,
    )


def _time(row: list[str], index: int | None) -> float | None:
    return parse_time(row[index]) if index is not None and index < len(row) else None



def _indicator(cell: str) -> bool:
    return detect_kind(cell) is not None
