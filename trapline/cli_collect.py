"""``trapline collect`` and ``trapline internal-ti``: the SIEM side (docs/collector.md).

    trapline collect --config collector.toml           # runs until SIGTERM / Ctrl-C
    trapline collect --config collector.toml --check   # validate, list every error, exit
    trapline internal-ti add 203.0.113.9 --config collector.toml
    trapline internal-ti add --from-event event.json --field DestinationHostName --config c.toml
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click
import msgspec

from trapline.errors import TraplineError

COLLECT_CONFIG = click.option(
    "--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="The collector's configuration file (TOML; docs/collector.md).")


def _load(config: Path) -> Any:
    from trapline.collector.config import load_collector_config
    try:
        return load_collector_config(config)
    except TraplineError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("collect")
@COLLECT_CONFIG
@click.option("--check", is_flag=True, help="Validate the configuration and exit.")
def collect(config: Path, check: bool) -> None:
    """Receive events, enrich them from trapline serve, write them out with their TI field."""
    settings = _load(config)
    if check:
        click.echo(f"{config}: valid ({len(settings.inputs)} input(s), {len(settings.rules)} "
                   f"rule(s), {len(settings.outputs)} output(s))")
        return
    logging.basicConfig(level=settings.collector.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency
        runner = asyncio.run
    try:
        counters = runner(_run(settings))
    except TraplineError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("trapline collect: stopped; counters " +
               msgspec.json.encode(counters.snapshot()).decode(), err=True)


async def _run(settings: Any) -> Any:
    from trapline.collector.pipeline import Collector
    collector = Collector(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    try:
        await collector.start()
    except OSError as exc:
        await collector.stop()
        raise click.ClickException(f"cannot start an input: {exc}") from exc
    addresses = {i.config.name: i.where for i in collector.inputs}
    click.echo("trapline collect: ready " + msgspec.json.encode(addresses).decode(),
               err=True)
    await stop.wait()
    await collector.stop()
    return collector.counters


@click.group("internal-ti")
def internal_ti() -> None:
    """The service's InternalTI (deny list), from the SIEM side."""


def _values_from_event(path: Path, field: str) -> list[str]:
    from trapline.collector.schema import field_value
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    events: list[Any] = []
    try:
        events = [msgspec.json.decode(text)]
    except msgspec.DecodeError:
        try:
            events = [msgspec.json.decode(line) for line in text.splitlines() if line.strip()]
        except msgspec.DecodeError as exc:
            raise click.ClickException(f"{path}: not a JSON event: {exc}") from exc
    values: list[str] = []
    for event in events:
        for item in event if isinstance(event, list) else [event]:
            value = field_value(item, field) if isinstance(item, dict) else None
            for one in value if isinstance(value, list) else [value]:
                if one not in (None, "") and str(one) not in values:
                    values.append(str(one))
    if not values:
        raise click.ClickException(f"{path}: no event has a value in field {field!r}")
    return values


@internal_ti.command("add")
@COLLECT_CONFIG
@click.option("--from-event", "from_event", type=click.Path(dir_okay=False, path_type=Path),
              help="Take the value(s) from this JSON event (or JSON lines of events).")
@click.option("--field", default=None, help="The event field to take, with --from-event.")
@click.option("--category", default=None, help="The category (default: the list's).")
@click.option("--comment", default=None, help="A comment stored with the indicator.")
@click.argument("values", nargs=-1)
def internal_ti_add(config: Path, from_event: Path | None, field: str | None,
                    category: str | None, comment: str | None, values: tuple[str, ...]) -> None:
    """Add VALUES (a domain, URL, IP or hash) to the service's InternalTI."""
    import httpx

    from trapline.collector.enrich.rule import rule_credentials
    settings = _load(config)
    chosen = list(values)
    if from_event is not None:
        if not field:
            raise click.UsageError("--from-event needs --field")
        chosen += _values_from_event(from_event, field)
    elif field:
        raise click.UsageError("--field goes with --from-event")
    if not chosen:
        raise click.UsageError("give a VALUE or --from-event FILE --field NAME")
    api = settings.api
    if api is None:
        rule = next((r for r in settings.rules if r.kind == "cybertrace-http"), None)
        if rule is None:
            raise click.ClickException(
                f"{config}: no [api] section and no cybertrace-http rule to take the "
                "service's address and secret from")
        base, tenant, verify = (f"{'https' if rule.tls else 'http'}://{rule.url}",
                                rule.tenant, _verify(rule.verify, rule.ca_file))
        secret_from, timeout = rule, rule.timeout
    else:
        base, tenant, verify = api.url.rstrip("/"), api.tenant, _verify(api.verify, api.ca_file)
        secret_from, timeout = api, api.timeout
    try:
        credentials = rule_credentials(secret_from)
    except TraplineError as exc:
        raise click.ClickException(str(exc)) from exc
    body = []
    for value in chosen:
        item: dict[str, Any] = {"value": value}
        if category:
            item["category"] = category
        if comment:
            item["comment"] = comment
        body.append(item)
    try:
        response = httpx.post(f"{base}/api/v1/lists/InternalTI", params={"tenant": tenant},
                              json=body, auth=(credentials.user, credentials.password),
                              verify=verify, timeout=timeout)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"{base}: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise click.ClickException(f"InternalTI refused ({response.status_code}): "
                                   f"{response.text[:500]}")
    answer = response.json()
    click.echo(f"InternalTI ({tenant}): {answer.get('added', 0)} added, "
               f"{answer.get('updated', 0)} updated: {', '.join(chosen)}")


def _verify(verify: bool, ca_file: str) -> Any:
    if verify and ca_file:
        import ssl
        return ssl.create_default_context(cafile=ca_file)
    return verify
