"""Rendering verdicts: the JSON shape of the HTTP lookup API, and a readable table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from trapline.index.verdict import Match, Verdict


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")


def match_context(match: Match) -> dict[str, Any]:
    """The record's context plus its lifecycle fields, where the feed gave them."""
    context = dict(match.context)
    for key in ("first_seen", "last_seen", "valid_until"):
        stamp = _iso(getattr(match, key))
        if stamp is not None:
            context.setdefault(key, stamp)
    if match.confidence is not None:
        context.setdefault("confidence", match.confidence)
    return context


def _category(match: Match, snapshot: int) -> dict[str, Any]:
    explanation: dict[str, Any] = {"how": match.how, "pattern": match.pattern,
                                   "snapshot": snapshot}
    if match.via:
        explanation["via"] = match.via
    return {
        "category": match.category,
        "detected_indicator": match.pattern,
        "context": match_context(match),
        "feed": match.feed,
        "match": explanation,
    }


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """One entry as protocol.md section 2 shapes it, with trapline's ``match`` explanation.

    An observable an allow list matched is ``not detected`` and carries
    ``allowed_by`` (the allow-list matches) and ``suppressed`` (what it silenced).
    """
    entry: dict[str, Any] = {
        "object": verdict.observable,
        "result": "detected" if verdict.matches else "not detected",
        "categories": [_category(m, verdict.snapshot) for m in verdict.matches],
    }
    if verdict.allowed_by:
        entry["allowed_by"] = [_category(m, verdict.snapshot) for m in verdict.allowed_by]
        entry["suppressed"] = [_category(m, verdict.snapshot) for m in verdict.suppressed]
    if verdict.error:
        entry["error"] = verdict.error
    return entry


def verdict_rows(verdict: Verdict) -> list[tuple[str, str, str, str, str]]:
    """Table rows ``(object, result, category, feed, explanation)`` for one verdict."""
    if verdict.allowed_by:
        return [(verdict.observable, "allowed", m.category, m.feed, m.explain())
                for m in verdict.allowed_by]
    if not verdict.matches:
        result = f"invalid: {verdict.error}" if verdict.error else "not detected"
        return [(verdict.observable, result, "", "", "")]
    return [(verdict.observable, "detected", m.category, m.feed, m.explain())
            for m in verdict.matches]


def format_table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
