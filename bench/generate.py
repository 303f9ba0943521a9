"""Deterministic synthetic threat-intelligence indicators and lookup query sets.

    from generate import records, QuerySampler
    sampler = QuerySampler(per_set=10_000)
    for record in records(1_000_000, seed=1):
        sampler.observe(record)
        builder.add(record)
    query_sets = sampler.query_sets()

``records`` streams ``IndicatorRecord``s with an explicit ``kind`` in a fixed mix
(see ``MIX``); the stream depends only on ``n`` and ``seed``. Values are written in
canonical form, except script masks (``host/x.php?*``, vendor syntax), so a plain
set of the values is the exact-match baseline. ``QuerySampler`` reservoir-samples
the stream (with its own RNG, so sampling never changes the stream) and turns the
samples into hit sets, in the spelling an observer sees (``http://`` prefix,
upper-case hashes), and miss sets of fresh values of the same kind.

IPv4 indicators use first octets 1-100 and IPv6 ones 2400::/6, misses 128-223 and
2c00::/6, so a miss is a miss even when it is an address.

Run ``python bench/generate.py --check 20000`` to verify that the values are
canonical and that the hits hit and the misses miss on a small snapshot.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import string
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from trapline.index import IndicatorRecord

# Share of each generator kind, in percent (sums to 100).
MIX: dict[str, float] = {
    "md5": 10.0, "sha1": 8.0, "sha256": 12.0,
    "ipv4": 25.0, "ipv6": 3.0,
    "cidr": 5.0,
    "domain": 20.0,
    "url": 12.0,
    "url-mask": 5.0,
}
RELIST_SHARE = 0.02      # values listed again by another feed (two records, one key)
CONTEXT_SHARE = 0.3      # records with a small context dict
FEEDS = ("abuse-ch", "phishtank", "vendor-apt", "internal")
CATEGORIES = ("malware", "phishing", "c2", "botnet", "spam", "scanner")

# Query set names in report order; each has a hit and a miss variant.
QUERY_KINDS = ("ipv4", "ipv6", "cidr", "domain", "subdomain", "url", "url-mask",
               "md5", "sha1", "sha256")


def _words(text: str) -> list[str]:
    """The space-separated words of ``text``."""
    return text.split()


_ALNUM = string.ascii_lowercase + string.digits
_LETTERS = string.ascii_lowercase
_TLDS = _words(
    "com net org info biz ru cn de uk fr br in jp it nl pl es ca au kr tw hk vn id ir tr ua "
    "kz by ro cz hu gr pt se no fi dk ch at be ie il za ng ke eg ar mx co cl pe ve my sg th "
    "ph pk bd lk io co me tv cc ws su xyz top club online site live shop store tech space "
    "website fun icu vip work click link win bid loan date review trade party stream "
    "download racing science cricket accountant faith men gq ml cf ga tk pw cyou buzz rest "
    "bar monster sbs cfd lol quest today world life app dev page cloud host press email "
    "support services digital network systems solutions center company agency group global "
    "zone eu asia mobi pro name travel us ly to gg la cx nu ai sh ac fm am sx is lt lv ee "
    "si sk hr rs ba mk al md ge az uz kg mn qa ae sa om kw jo lb iq tn dz ma sn gh cm ug tz "
    "zw zm mz ao"
)
_SECOND_LEVELS = _words(
    "co.uk org.uk ac.uk com.br net.br com.cn net.cn com.au net.au co.jp ne.jp co.kr com.tw "
    "com.hk com.vn co.id com.tr com.ua co.za com.ng com.eg com.ar com.mx com.co com.my "
    "com.sg co.th com.ph com.pk co.in net.in org.in com.ru msk.ru spb.ru co.il com.pl"
)
_HOSTING_PARENTS = _words(
    "blogspot.com github.io herokuapp.com azurewebsites.net appspot.com firebaseapp.com "
    "netlify.app vercel.app pages.dev workers.dev duckdns.org no-ip.org ddns.net hopto.org "
    "000webhostapp.com weebly.com wixsite.com sharepoint.com web.app ngrok.io glitch.me "
    "repl.co r2.dev myftp.biz serveo.net"
)
_WORDS = _words(
    "secure login account update verify bank pay paypal apple microsoft office mail web cdn "
    "static api auth sso portal online service support help client my app cloud data files "
    "drive share doc docs invoice order track delivery post dhl fedex ups wallet crypto "
    "coin bit trade free win gift bonus promo offer shop store news media video stream live "
    "game admin panel gate bot c2 node srv host mx ns vpn proxy dns update upgrade install "
    "setup download load get fetch img image images static assets js css wp content plugins "
    "themes"
)
_PATH_WORDS = _words(
    "wp-content wp-includes wp-admin admin login signin account verify update images img js "
    "css assets static files upload uploads download dl bin tmp cache includes plugins "
    "themes modules api v1 v2 gate panel secure auth session doc docs invoice payment mail "
    "webmail office owa portal sso cgi-bin public private data backup old new test dev"
)
_FILE_EXTS = ("php", "html", "htm", "exe", "zip", "js", "doc", "pdf", "apk", "bin", "sh", "jsp")
_QUERY_KEYS = ("id", "u", "user", "email", "token", "ref", "session", "page", "q", "file", "r")

# Parents for generated names: TLDs, registry second levels and hosting parents,
# a few hundred in all; hosting parents are public suffixes (subdomains of them
# are registrable names, they themselves never match on a parent walk).
_PARENTS = _TLDS + _SECOND_LEVELS + _HOSTING_PARENTS


def _label(rng: random.Random) -> str:
    """One DNS label: a word, a word with digits, two words or a random token."""
    pick = rng.random()
    if pick < 0.25:
        return rng.choice(_WORDS) + str(rng.randrange(1000))
    if pick < 0.45:
        return rng.choice(_WORDS) + "-" + rng.choice(_WORDS) + str(rng.randrange(100))
    first = rng.choice(_LETTERS)
    return first + "".join(rng.choices(_ALNUM, k=rng.randint(5, 13)))


def _domain(rng: random.Random, token: bool = False) -> str:
    """A registrable-looking name of 2 to 4 labels over a few hundred parents.

    With ``token`` the registrable label is a random token (never a word plus a
    number), so the name is all but certainly not generated as an indicator.
    """
    labels = rng.choices((1, 2, 3), weights=(55, 35, 10))[0]
    parent = rng.choice(_PARENTS)
    if parent.count(".") and labels == 3:
        labels = 2
    parts = ["q" + "".join(rng.choices(_ALNUM, k=11)) if token else _label(rng)]
    parts.extend(rng.choice(_WORDS) for _ in range(labels - 1))
    return ".".join(reversed(parts)) + "." + parent


def _ipv4(rng: random.Random, low: int = 1, high: int = 100) -> str:
    first = rng.randint(low, high)
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _ipv6_int(rng: random.Random, low: int = 0x2400, high: int = 0x27FF) -> int:
    return (rng.randint(low, high) << 112) | rng.getrandbits(112)


def _ipv6(rng: random.Random, low: int = 0x2400, high: int = 0x27FF) -> str:
    return str(ipaddress.IPv6Address(_ipv6_int(rng, low, high)))


def _cidr(rng: random.Random) -> str:
    """A network with host bits cleared: mostly IPv4 /24, some /16-/28, a tenth IPv6 /32-/64."""
    if rng.random() < 0.1:
        prefix = rng.choice((32, 36, 40, 44, 48, 48, 48, 56, 64, 64))
        network = (_ipv6_int(rng) >> (128 - prefix)) << (128 - prefix)
        return f"{ipaddress.IPv6Address(network)}/{prefix}"
    pick = rng.random()
    if pick < 0.80:
        prefix = 24
    elif pick < 0.92:
        prefix = rng.randint(25, 28)
    elif pick < 0.98:
        prefix = rng.randint(20, 23)
    else:
        prefix = rng.randint(16, 19)
    address = (rng.randint(1, 100) << 24) | rng.getrandbits(24)
    network = (address >> (32 - prefix)) << (32 - prefix)
    octets = (network >> 24, (network >> 16) & 255, (network >> 8) & 255, network & 255)
    return ".".join(map(str, octets)) + f"/{prefix}"


def _path(rng: random.Random) -> str:
    segments = [rng.choice(_PATH_WORDS) if rng.random() < 0.6 else _label(rng)
                for _ in range(rng.randint(0, 2))]
    if rng.random() < 0.6:
        segments.append(f"{rng.choice(_WORDS)}{rng.randrange(100)}.{rng.choice(_FILE_EXTS)}")
    else:
        segments.append(_label(rng))
    return "/" + "/".join(segments)


def _url(rng: random.Random, first_octets: tuple[int, int] = (1, 100),
         token: bool = False) -> str:
    """``host/seg[/seg[/seg]][?k=v]``: canonical (no scheme, lower-case, no trailing slash).

    One host in ten is an IPv4 address with a first octet in ``first_octets``.
    """
    host = _ipv4(rng, *first_octets) if rng.random() < 0.1 else _domain(rng, token)
    url = host + _path(rng)
    if rng.random() < 0.3:
        url += f"?{rng.choice(_QUERY_KEYS)}={rng.choice(_ALNUM)}{rng.randrange(100000)}"
    return url


def _mask(rng: random.Random) -> str:
    """``*.domain`` (40%), ``host/dir/*`` (35%) or ``host/x.php?*`` (25%)."""
    pick = rng.random()
    if pick < 0.40:
        return "*." + _domain(rng)
    if pick < 0.75:
        return f"{_domain(rng)}/{rng.choice(_PATH_WORDS)}/{_label(rng)}/*"
    return f"{_domain(rng)}/{rng.choice(_PATH_WORDS)}{rng.randrange(1000)}.php?*"


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


_MAKERS = {
    "md5": lambda rng: _hex(rng, 32),
    "sha1": lambda rng: _hex(rng, 40),
    "sha256": lambda rng: _hex(rng, 64),
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "cidr": _cidr,
    "domain": _domain,
    "url": _url,
    "url-mask": _mask,
}


def value_of(kind: str, rng: random.Random) -> str:
    """A fresh value of ``kind`` (a key of ``MIX``)."""
    return _MAKERS[kind](rng)


def values(n: int, seed: int = 1) -> Iterator[tuple[str, str, int, int, dict[str, Any] | None]]:
    """``(value, kind, feed index, category index, context or None)`` for ``n`` indicators."""
    rng = random.Random(seed)
    kinds = list(MIX)
    weights = [MIX[k] for k in kinds]
    recent: list[tuple[str, str]] = []
    batch = 4096
    emitted = 0
    while emitted < n:
        for kind in rng.choices(kinds, weights=weights, k=min(batch, n - emitted)):
            if recent and rng.random() < RELIST_SHARE:
                value, kind = recent[rng.randrange(len(recent))]
            else:
                value = _MAKERS[kind](rng)
                if len(recent) < 1024:
                    recent.append((value, kind))
                else:
                    recent[rng.randrange(1024)] = (value, kind)
            context = None
            if rng.random() < CONTEXT_SHARE:
                context = ({"popularity": rng.randint(1, 5)} if rng.random() < 0.7
                           else {"actor": f"ta{rng.randrange(500)}", "confidence": 80})
            yield value, kind, rng.randrange(len(FEEDS)), rng.randrange(len(CATEGORIES)), context
            emitted += 1


def records(n: int, seed: int = 1) -> Iterator[IndicatorRecord]:
    """``n`` IndicatorRecords in the fixed mix, deterministic for ``(n, seed)``."""
    for value, kind, feed, category, context in values(n, seed):
        if context is None:
            yield IndicatorRecord(value=value, kind=kind, feed=FEEDS[feed],
                                  category=CATEGORIES[category])
        else:
            yield IndicatorRecord(value=value, kind=kind, feed=FEEDS[feed],
                                  category=CATEGORIES[category], context=context)


@dataclass
class QuerySet:
    """Observables for one kind, all hits or all misses.

    ``observed`` is what a sensor would send (``http://`` URLs, upper-case hashes);
    ``probe`` is the canonical-ish string an exact-match set lookup would use
    (``probe.lower()`` is the stored value for exact kinds).
    """

    name: str
    hit: bool
    observed: list[str] = field(default_factory=list)
    probe: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name} {'hit' if self.hit else 'miss'}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "hit": self.hit, "observed": self.observed,
                "probe": self.probe}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuerySet:
        return cls(data["name"], data["hit"], data["observed"], data["probe"])


class QuerySampler:
    """Reservoir samples of the generated values per kind, turned into query sets."""

    def __init__(self, per_set: int, seed: int = 7) -> None:
        self.per_set = per_set
        self.rng = random.Random(seed)
        self.samples: dict[str, list[str]] = {kind: [] for kind in MIX}
        self.seen: Counter[str] = Counter()

    def observe(self, record: IndicatorRecord) -> None:
        """Offer one generated record to the reservoir of its kind (Algorithm R)."""
        kind = record.kind or ""
        self.seen[kind] += 1
        seen = self.seen[kind]
        sample = self.samples[kind]
        if len(sample) < self.per_set:
            sample.append(record.value)
        elif self.rng.random() * seen < self.per_set:
            sample[self.rng.randrange(self.per_set)] = record.value

    def _drawn(self, kind: str) -> list[str]:
        sample = self.samples[kind]
        if not sample:
            return []
        return [sample[i % len(sample)] for i in range(self.per_set)]

    def query_sets(self) -> list[QuerySet]:
        """Hit and miss sets for every name in QUERY_KINDS, ``per_set`` each."""
        rng = self.rng
        out: list[QuerySet] = []
        for name in QUERY_KINDS:
            hit = QuerySet(name, True)
            miss = QuerySet(name, False)
            for value in self._hit_sources(name):
                observed, probe = _hit_query(name, value, rng)
                hit.observed.append(observed)
                hit.probe.append(probe)
            for _ in range(self.per_set):
                observed, probe = _miss_query(name, rng)
                miss.observed.append(observed)
                miss.probe.append(probe)
            out.extend((hit, miss))
        return out

    def _hit_sources(self, name: str) -> list[str]:
        source = {"subdomain": "domain"}.get(name, name)
        if name == "url-mask":
            return self._drawn("url-mask")
        return self._drawn(source)


def _scheme(rng: random.Random) -> str:
    return "https://" if rng.random() < 0.5 else "http://"


def _url_in_mask(mask: str, rng: random.Random) -> str:
    """A canonical URL (no scheme) that the generated mask matches."""
    if mask.startswith("*."):
        return f"cdn{rng.randrange(100)}.{mask[2:]}{_path(rng)}"
    if mask.endswith("/*"):
        return f"{mask[:-2]}/{rng.choice(_WORDS)}{rng.randrange(100)}.{rng.choice(_FILE_EXTS)}"
    return f"{mask[:-2]}?{rng.choice(_QUERY_KEYS)}={rng.randrange(100000)}"


def _address_in(cidr: str, rng: random.Random) -> str:
    network = ipaddress.ip_network(cidr)
    offset = rng.randrange(network.num_addresses)
    return str(network.network_address + offset)


def _hit_query(name: str, value: str, rng: random.Random) -> tuple[str, str]:
    if name in ("md5", "sha1", "sha256", "ipv6"):
        return value.upper(), value.upper()
    if name == "ipv4":
        return value, value
    if name == "cidr":
        address = _address_in(value, rng)
        return address, address
    if name == "domain":
        observed = value.upper() if rng.random() < 0.25 else value
        return observed, observed
    if name == "subdomain":
        sub = f"{_label(rng)}.{value}"
        return sub, sub
    if name == "url":
        return _scheme(rng) + value, value
    url = _url_in_mask(value, rng)
    return _scheme(rng) + url, url


def _miss_query(name: str, rng: random.Random) -> tuple[str, str]:
    if name in ("md5", "sha1", "sha256"):
        value = value_of(name, rng).upper()
        return value, value
    if name in ("ipv4", "cidr"):
        value = _ipv4(rng, 128, 223)
        return value, value
    if name == "ipv6":
        value = _ipv6(rng, 0x2C00, 0x2FFF).upper()
        return value, value
    if name == "domain":
        value = _domain(rng, token=True)
        return value, value
    if name == "subdomain":
        value = f"{_label(rng)}.{_domain(rng, token=True)}"
        return value, value
    url = _url(rng, (128, 223), token=True)
    if name == "url-mask":
        url = f"cdn{rng.randrange(100)}.{_domain(rng, token=True)}{_path(rng)}"
    return _scheme(rng) + url, url


def _check(n: int) -> int:
    """Build a small snapshot and verify canonical values, hits and misses."""
    from trapline.index import SnapshotBuilder, build_memory_snapshot
    from trapline.indicators import normalize

    builder = SnapshotBuilder()
    sampler = QuerySampler(per_set=500)
    kinds: Counter[str] = Counter()
    not_canonical = 0
    for record in records(n, seed=1):
        kinds[record.kind or ""] += 1
        sampler.observe(record)
        builder.add(record)
        if record.kind != "url-mask":
            canonical = normalize(record.value, record.kind).value
            if canonical != record.value:
                not_canonical += 1
                if not_canonical <= 5:
                    print("not canonical:", record.kind, record.value, "->", canonical)
    print("kinds:", dict(kinds), "rejected:", builder.rejected, builder.reject_samples[:3])
    print("not canonical:", not_canonical)
    snapshot = build_memory_snapshot(builder)
    bad = not_canonical + builder.rejected
    for qs in sampler.query_sets():
        verdicts = snapshot.lookup_many(qs.observed)
        detected = sum(v.detected for v in verdicts) / len(verdicts)
        hows = Counter(f"{m.via} {m.how}".strip() for v in verdicts for m in v.matches[:1])
        print(f"{qs.label:16} detected {detected:6.1%}  {dict(hows.most_common(3))}")
        if (qs.hit and detected < 1.0) or (not qs.hit and detected > 0.0):
            bad += 1
    return 1 if bad else 0


def main() -> int:
    """``--check N``: self-test; ``--show N``: print the first N records."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=int, metavar="N", help="verify on N records")
    parser.add_argument("--show", type=int, metavar="N", help="print the first N records")
    args = parser.parse_args()
    if args.show:
        for record in records(args.show):
            print(record.kind, record.value, record.feed, record.category, record.context)
    if args.check:
        return _check(args.check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
