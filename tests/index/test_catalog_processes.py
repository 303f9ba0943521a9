"""Reader processes follow the catalog while it publishes: every verdict sees one version whole.

Each version N holds ``always.example`` (context ``{"version": N}``) and
``sentinel-N.example``. Readers assert that every verdict agrees with the version
it reports, and that no lookup ever fails.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from pathlib import Path

from trapline.index import IndicatorRecord, SnapshotBuilder, SnapshotCatalog, SnapshotFollower

READERS = 2
NEW_VERSIONS = 5
READ_SECONDS = 3.0
MAX_ITERATIONS = 200_000


def version_builder(version: int) -> SnapshotBuilder:
    builder = SnapshotBuilder()
    builder.add(IndicatorRecord(value="always.example", feed="f", context={"version": version}))
    builder.add(IndicatorRecord(value=f"sentinel-{version}.example", feed="f",
                                context={"version": version}))
    builder.add(IndicatorRecord(value=f"10.{version}.0.0/16", feed="f"))
    return builder


def check_verdicts(version: int, verdicts: list) -> list[str]:
    """Problems with the verdicts of one batch against snapshot ``version``."""
    problems = []
    for verdict in verdicts:
        if verdict.error:
            problems.append(f"{verdict.observable}: error {verdict.error}")
        if verdict.snapshot != version:
            problems.append(f"{verdict.observable}: verdict of {verdict.snapshot} from {version}")
    always, own, before, after, host, address = verdicts
    if [(m.how, m.pattern, m.context.get("version")) for m in always.matches] != [
        ("exact", "always.example", version)
    ]:
        problems.append(f"v{version} always.example: {always.matches}")
    if [(m.how, m.context.get("version")) for m in own.matches] != [("exact", version)]:
        problems.append(f"v{version} own sentinel: {own.matches}")
    if before.matches or after.matches:
        problems.append(f"v{version} other sentinels: {before.matches} {after.matches}")
    if [(m.how, m.via, m.context.get("version")) for m in host.matches] != [
        ("parent-domain", "url-host", version)
    ]:
        problems.append(f"v{version} url host: {host.matches}")
    if [m.pattern for m in address.matches] != [f"10.{version}.0.0/16"]:
        problems.append(f"v{version} address: {address.matches}")
    return problems


def reader(data_dir: str, ready, results) -> None:
    follower = SnapshotFollower(SnapshotCatalog(data_dir))
    problems: list[str] = []
    seen: set[int] = set()
    count = 0
    ready.set()
    deadline = time.monotonic() + READ_SECONDS
    while time.monotonic() < deadline and count < MAX_ITERATIONS:
        count += 1
        try:
            snapshot = follower.get()
            version = snapshot.version
            seen.add(version)
            observables = [
                "always.example",
                f"sentinel-{version}.example",
                f"sentinel-{version - 1}.example",
                f"sentinel-{version + 1}.example",
                f"http://x.sentinel-{version}.example/path",
                f"10.{version}.1.1",
            ]
            if count % 2:
                verdicts = snapshot.lookup_many(observables)
            else:
                verdicts = [snapshot.lookup(o) for o in observables]
            problems.extend(check_verdicts(version, verdicts))
        except Exception as exc:  # every failure is reported to the parent
            problems.append(f"{type(exc).__name__}: {exc}")
        if len(problems) > 20:
            break
    results.put((os.getpid(), count, sorted(seen), problems[:20]))


def test_readers_see_whole_versions_while_the_catalog_publishes(tmp_path: Path) -> None:
    catalog = SnapshotCatalog(tmp_path)
    assert catalog.publish(version_builder(1)) == 1
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    readies = [context.Event() for _ in range(READERS)]
    processes = [context.Process(target=reader, args=(str(tmp_path), ready, results))
                 for ready in readies]
    for process in processes:
        process.start()
    try:
        for ready in readies:
            assert ready.wait(60), "a reader process did not start"
        published = [1]
        for _ in range(NEW_VERSIONS):
            time.sleep(0.2)
            expected = published[-1] + 1
            assert catalog.publish(version_builder(expected)) == expected
            published.append(expected)
        reports = [results.get(timeout=60) for _ in processes]
    except queue.Empty as exc:
        raise AssertionError("a reader process sent no report") from exc
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
    for process in processes:
        assert process.exitcode == 0
    assert catalog.versions() == [NEW_VERSIONS, NEW_VERSIONS + 1]
    for pid, count, seen, problems in reports:
        assert problems == [], f"reader {pid}: {problems}"
        assert count > 10, f"reader {pid} made only {count} lookups"
        assert seen[-1] == NEW_VERSIONS + 1, f"reader {pid} never saw the last version: {seen}"
        assert len(seen) >= 2, f"reader {pid} never switched: {seen}"
