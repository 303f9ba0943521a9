"""``trapline serve``: a supervisor process and N worker processes sharing one port.

The supervisor loads the settings, brings the snapshot up to date (the demo
feeds when none is configured), starts the workers, runs the feed scheduler
(``FeedUpdater.run_due`` every ``service.update_interval`` seconds, in a
thread), and sends service alerts. Each worker runs an asyncio loop with the
TCP event service and the HTTP API (service/http, docs/http-api.md) bound with
SO_REUSEPORT, follows the snapshot file, and sends its detections to the output
itself. SIGHUP re-reads the configuration: an
invalid one is refused (logged) and everything keeps running on the old one; a
valid one goes to every worker and raises KL_ALERT_ConfigurationUpdated.
SIGTERM or SIGINT stops everything and raises KL_ALERT_ServiceStopped.
SIGUSR2 restarts: the merged configuration is checked (valid, its listen ports
free or ours), the workers stop as at SIGTERM (KL_ALERT_ServiceRestarting
instead of ServiceStopped), and the supervisor re-executes itself (same PID),
which reads the file and the stored settings again and binds the new addresses.
A check that fails is logged and everything keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import multiprocessing
import os
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from trapline import alerts
from trapline.alerts import Alert
from trapline.config import Settings, check_http, load_settings, parse_address
from trapline.errors import ConfigError, TraplineError
from trapline.extract import RuleSet, presets, rule_sets_from_config
from trapline.feeds.config import feed_for_path
from trapline.feeds.updater import FeedUpdater
from trapline.index import SnapshotCatalog, SnapshotFollower
from trapline.index.matcher import Matcher
from trapline.service.events import EventProcessor
from trapline.service.feed_actions import make_updater
from trapline.service.first_start import create_first_admin, first_start_message
from trapline.service.http import HttpServer, start_http
from trapline.service.http.tls import server_context, tls_files
from trapline.service.http.wiring import build_app_context
from trapline.service.lists import ListsFollower
from trapline.service.rates import RatePublisher
from trapline.service.recorder import DetectionRecorder
from trapline.service.stats import Stats
from trapline.service.stored_settings import with_stored_settings
from trapline.service.syslog_output import SyslogSink
from trapline.service.tcp import EventProtocol, Limits, serve_events
from trapline.service.templates import Renderer, templates_from_config
from trapline.store import SYSTEM, open_store

log = logging.getLogger("trapline.service")
GC_THRESHOLDS = (10_000, 50, 100)
BOOT_ENV = "TRAPLINE_BOOT"  # one random id per start of the supervisor, seen by its workers


@dataclass
class Overrides:
    """Command-line settings; they win over the file at start and at every reload."""

    config: Path | None = None
    data_dir: Path | None = None
    listen: str | None = None
    output: str | None = None
    workers: int | None = None
    http: str | None = None
    feeds: list[str] = field(default_factory=list)

    def load(self) -> Settings:
        """The file's settings with these applied; ConfigError if anything is invalid."""
        settings = with_stored_settings(load_settings(self.config, data_dir=self.data_dir))
        service, output = settings.service, settings.output
        if self.listen is not None:
            parse_address(self.listen, "--listen")
            service = msgspec.structs.replace(service, listen=self.listen)
        if self.workers is not None:
            service = msgspec.structs.replace(service, workers=self.workers)
        if self.output is not None:
            parse_address(self.output, "--output")
            output = msgspec.structs.replace(output, address=self.output)
        feeds = [feed_for_path(path) for path in self.feeds] or settings.feeds
        http = settings.http
        if self.http is not None:
            http = msgspec.structs.replace(http, listen=self.http, enabled=True)
            check_http(http, "--http: ")
        settings = msgspec.structs.replace(settings, service=service, output=output,
                                           feeds=feeds, http=http)
        Runtime.build(settings)  # templates and rule sets are checked here, before use
        return settings


@dataclass
class Runtime:
    """What a worker builds from the settings: rule sets, renderer, limits."""

    rule_sets: list[RuleSet]
    default: RuleSet
    renderer: Renderer
    limits: Limits

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        shipped = presets()
        configured = rule_sets_from_config(settings.rule_sets)
        by_name = {**shipped, **{r.name: r for r in configured}}
        default = by_name.get(settings.service.rules)
        if default is None:
            raise ConfigError(f"service.rules: no rule set named {settings.service.rules!r} "
                              f"(presets: {', '.join(sorted(shipped))})")
        # Configured rule sets are chosen by their match first; KUMA-style requests are
        # recognised on the same port whatever the default is.
        chosen = [*configured, shipped["kuma"]]
        service = settings.service
        return cls(chosen, default, Renderer(templates_from_config(settings.output.templates)),
                   Limits(service.max_line_bytes, service.idle_timeout,
                          service.max_connections))


def make_sink(settings: Settings, renderer: Renderer, worker: int) -> SyslogSink:
    """The output sink of one process (each has its own connection and spool folder)."""
    output = settings.output
    host, port = parse_address(output.address, "output.address")
    spool = Path(output.spool_dir) / f"process-{worker}" if output.spool_dir else None
    return SyslogSink(host, port, protocol=output.protocol, framing=output.framing,
                      retries=output.retries, retry_interval=output.retry_interval,
                      queue_size=output.queue_size, spool_dir=spool,
                      spool_max_mb=output.spool_max_mb, renderer=renderer,
                      app_name=output.app_name, hostname=output.hostname or None,
                      facility=output.facility, severity=output.severity,
                      alert_severity=output.alert_severity, worker=worker)


# -- a worker ----------------------------------------------------------------------------------


def worker_main(overrides: Overrides, index: int, ready: Any) -> None:
    """Entry point of a worker process."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s worker-{index} %(message)s")
    # Lookups allocate short-lived objects by the million; the default thresholds run a
    # full collection over the verdict cache every few thousand events (a third of the
    # time under load, measured in bench/protocol_bench.py). A larger first generation
    # collects less often; 10,000 keeps each pause near 2-3 ms (50,000: 10 ms pauses).
    gc.set_threshold(*GC_THRESHOLDS)
    loop = "asyncio"
    with contextlib.suppress(TraplineError):
        loop = overrides.load().service.event_loop
    with contextlib.suppress(KeyboardInterrupt):
        if loop == "uvloop" and importlib.util.find_spec("uvloop") is not None:
            import uvloop

            uvloop.run(_worker(overrides, index, ready))
        else:
            asyncio.run(_worker(overrides, index, ready))


async def _worker(overrides: Overrides, index: int, ready: Any) -> None:
    settings = overrides.load()
    runtime = Runtime.build(settings)
    stats = Stats()
    sink = make_sink(settings, runtime.renderer, index + 1)
    await sink.start()
    follower = SnapshotFollower(SnapshotCatalog(settings.data_dir))
    store = await asyncio.to_thread(open_store, settings.store_target)
    lists = ListsFollower(store, stats)
    await asyncio.to_thread(lists.refresh)  # the lists are in force before the first event
    lists_task = asyncio.create_task(lists.run(), name="lists")
    recorder = DetectionRecorder(store, stats, queue_size=settings.store.detections_queue)
    recorder.start()
    matcher = Matcher(follower.get, lists.get)
    stats.include("lookup_", matcher.counters)
    stats.include("output_", sink.counters)
    processor = EventProcessor(matcher, runtime.rule_sets, runtime.default,
                               runtime.renderer, stats, record=recorder.record)
    connections: set[EventProtocol] = set()
    stats.include("", lambda: {"connections_open": len(connections)})
    limits = runtime.limits

    def factory() -> EventProtocol:
        return EventProtocol(processor, sink.send_many, limits, stats, connections)

    host, port = parse_address(settings.service.listen, "service.listen")
    server = await serve_events(host, port, factory, reuse_port=True)
    http: HttpServer | None = None
    if settings.http.enabled:
        context = build_app_context(settings, store, matcher.lookup_many, stats,
                                    lambda: follower.get().version, index + 1,
                                    matcher=matcher, alerts=sink)
        context.request_reload = _ask_supervisor_to_reload
        bound = settings

        def check_restart() -> Settings:
            return restart_check(overrides, bound)

        context.check_restart = check_restart
        context.request_restart = _ask_supervisor_to_restart
        context.boot = os.environ.get(BOOT_ENV, "")
        context.started_with = bound
        http = await start_http(settings, context)
    rates = RatePublisher(Path(settings.data_dir), index + 1, stats.all_counters)
    rates_task = asyncio.create_task(rates.run(), name="rates")
    ready.set()
    gc.freeze()  # what start-up made lives as long as the worker: out of every collection
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def reload() -> None:
        nonlocal limits
        try:
            reread = overrides.load()
            fresh = Runtime.build(reread)
        except TraplineError as exc:
            log.error("configuration refused, the old one stays: %s", exc)
            return
        if http is not None:
            context.settings = reread  # what the pages show as in force
        processor.rule_sets, processor.default = fresh.rule_sets, fresh.default
        processor.renderer = sink.renderer = fresh.renderer
        limits.__dict__.update(fresh.limits.__dict__)

    loop.add_signal_handler(signal.SIGHUP, reload)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()
    if http is not None:
        await http.stop()
        if context.feed_actions is not None:
            await context.feed_actions.wait()
        if context.limiter is not None:
            context.limiter.close()
    for connection in list(connections):
        if connection.transport is not None:
            connection.transport.close()
    lists_task.cancel()
    rates_task.cancel()
    rates.remove()
    await asyncio.to_thread(recorder.stop, 5.0)
    await sink.stop(5.0)
    store.close()


# -- the supervisor ----------------------------------------------------------------------------


class Supervisor:
    """Runs the workers, the feed scheduler and the service alerts."""

    def __init__(self, overrides: Overrides) -> None:
        self.overrides = overrides
        self.settings = overrides.load()
        if self.settings.http.enabled:  # make the self-signed certificate once, before workers
            files = tls_files(self.settings)
            if files is not None:
                server_context(*files)
        _check_port_free(self.settings.service.listen, "service.listen")
        if self.settings.http.enabled:
            _check_port_free(self.settings.http.listen, "http.listen")
        self.bound = self.settings  # the addresses this start listens on
        self.stop_event = threading.Event()
        self.reload_event = threading.Event()
        self.restart_event = threading.Event()
        self.restarting = False
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[Any] = []
        self._last_retention = 0.0

    def run(self) -> int:
        settings = self.settings
        _raise_file_limit()
        runtime = Runtime.build(settings)
        # The supervisor's output runs on its own event loop, in a thread.
        self.loop = asyncio.new_event_loop()
        self.loop_thread = threading.Thread(target=self.loop.run_forever, name="output",
                                            daemon=True)
        self.loop_thread.start()
        self.sink = make_sink(settings, runtime.renderer, 0)
        asyncio.run_coroutine_threadsafe(self.sink.start(), self.loop).result(30)
        # The store's schema is brought up to date here, once, before any worker opens it.
        self.store = open_store(settings.store_target)
        password = create_first_admin(self.store)
        if password is not None:
            print(first_start_message(password, _http_url(settings)), flush=True)
        self.updater = self._updater(settings)
        self._first_snapshot()
        os.environ[BOOT_ENV] = secrets.token_hex(8)  # inherited by the workers
        signal.signal(signal.SIGUSR2, lambda *_: self.restart_event.set())
        count = settings.service.workers or os.cpu_count() or 1
        for index in range(count):
            ready = self.context.Event()
            process = self.context.Process(target=worker_main, args=(self.overrides, index, ready),
                                           name=f"trapline-worker-{index}")
            process.start()
            if not ready.wait(60):
                log.error("worker %d did not start", index)
            self.workers.append(process)
        self._alert(alerts.SERVICE_STARTED, listen=settings.service.listen,
                    workers=str(count))
        signal.signal(signal.SIGHUP, lambda *_: self.reload_event.set())
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        scheduler = threading.Thread(target=self._schedule, name="feed-scheduler", daemon=True)
        scheduler.start()
        while not self.stop_event.is_set():
            if self.reload_event.wait(0.5):
                self.reload_event.clear()
                self._reload()
            if self.restart_event.is_set():
                self.restart_event.clear()
                self._restart()
        if self.restarting:  # a feed update in progress ends before the store closes
            scheduler.join(60)
        self._shutdown()
        return 0

    def _restart(self) -> None:
        """Stop for a restart when the new configuration can start; else log and go on."""
        try:
            settings = restart_check(self.overrides, self.bound)
        except TraplineError as exc:
            log.error("restart refused, the service keeps running: %s", exc)
            return
        log.info("restarting: event service on %s, HTTP %s", settings.service.listen,
                 settings.http.listen if settings.http.enabled else "off")
        self.restarting = True
        self.stop_event.set()

    def _updater(self, settings: Settings) -> FeedUpdater:
        """The scheduler's updater; feeds switched off through the API are left out."""
        return make_updater(settings, self.store, self)

    def _first_snapshot(self) -> None:
        """Update what is due (new feeds at once) and drop feeds no longer configured."""
        self.updater.run_due()
        catalog = SnapshotCatalog(self.settings.data_dir)
        configured = {f.name for f in self.settings.feeds_or_demo
                      if self.updater.is_enabled(f)}
        try:
            current = set(catalog.open_current().meta.feeds)
        except TraplineError:
            current = None
        if current != configured:
            self.updater.rebuild()

    def _schedule(self) -> None:
        while not self.stop_event.wait(self.settings.service.update_interval):
            try:
                self.updater.run_due()
            except Exception:  # the scheduler must outlive any one failure
                log.exception("feed scheduler tick failed")
            try:
                self._retention()
            except Exception:
                log.exception("detections retention failed")

    def _retention(self) -> None:
        """Delete detections older than ``store.keep_detections_days`` (once an hour)."""
        days = self.settings.store.keep_detections_days
        now = time.time()
        if days <= 0 or now - self._last_retention < 3600:
            return
        self._last_retention = now
        removed = self.store.detections.purge(SYSTEM, now - days * 86400)
        if removed:
            log.info("retention: %d detections older than %g days deleted", removed, days)

    def _reload(self) -> None:
        try:
            settings = self.overrides.load()
        except TraplineError as exc:
            log.error("configuration refused, the old one stays: %s", exc)
            return
        self.settings = settings
        self.sink.renderer = Runtime.build(settings).renderer
        self.updater = self._updater(settings)
        threading.Thread(target=self._first_snapshot, daemon=True).start()
        for process in self.workers:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGHUP)
        self._alert(alerts.CONFIGURATION_UPDATED,
                    file=str(settings.path) if settings.path else "defaults")

    def _shutdown(self) -> None:
        for process in self.workers:
            if process.is_alive():
                process.terminate()
        for process in self.workers:
            process.join(10)
            if process.is_alive():  # a restart binds the ports again: nothing may hold them
                process.kill()
                process.join(10)
        if self.restarting:
            self._alert(alerts.SERVICE_RESTARTING, pid=str(os.getpid()))
        else:
            self._alert(alerts.SERVICE_STOPPED)
        asyncio.run_coroutine_threadsafe(self.sink.stop(5.0), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.loop_thread.join(10)
        self.store.close()

    # AlertSink: the updater and the supervisor raise alerts here
    def alert(self, alert: Alert) -> None:
        alerts.LogAlerts().alert(alert)
        self.loop.call_soon_threadsafe(self.sink.alert, alert)

    def _alert(self, name: str, **fields: str) -> None:
        self.alert(Alert(name, fields))


def _ask_supervisor_to_reload() -> None:
    """SIGHUP to the supervisor: it re-reads the configuration and tells every worker."""
    os.kill(os.getppid(), signal.SIGHUP)


def _ask_supervisor_to_restart() -> None:
    """SIGUSR2 to the supervisor: it checks again, stops its workers and re-executes."""
    os.kill(os.getppid(), signal.SIGUSR2)


def restart_check(overrides: Overrides, bound: Settings) -> Settings:
    """The settings a restart would start with; ConfigError when it could not start: the
    merged configuration is invalid, or a new listen port is taken by another program
    (the ports ``bound``, those this start listens on, are ours and free at restart)."""
    settings = overrides.load()
    held = {parse_address(bound.service.listen, "service.listen")[1]}
    if bound.http.enabled:
        held.add(parse_address(bound.http.listen, "http.listen")[1])
    wanted = [("service.listen", settings.service.listen)]
    if settings.http.enabled:
        wanted.append(("http.listen", settings.http.listen))
    ports = [parse_address(address, key)[1] for key, address in wanted]
    if len(ports) == 2 and ports[0] == ports[1]:
        raise ConfigError(f"service.listen and http.listen both use port {ports[0]}")
    for (key, address), port in zip(wanted, ports, strict=True):
        if port not in held:
            _check_port_free(address, key)
    return settings


def reexec() -> None:
    """Replace this process with a new ``trapline serve`` (same PID, same arguments)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def _http_url(settings: Settings) -> str:
    host, port = parse_address(settings.http.listen, "http.listen")
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    return f"{'https' if settings.http.tls else 'http'}://{shown}:{port}/"


def _check_port_free(address: str, key: str) -> None:
    """Refuse a port another process holds: workers share theirs with SO_REUSEPORT, which
    would otherwise let a second ``trapline serve`` join the first one's port silently."""
    host, port = parse_address(address, key)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"{key}: cannot listen on {address}: {exc.strerror or exc} "
                              f"(another trapline serve or another program has it)") from exc


def _raise_file_limit() -> None:
    """Open files up to the hard limit: every connection is a descriptor."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
