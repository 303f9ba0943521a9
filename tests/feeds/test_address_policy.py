"""The address policy alone: which addresses pass, in which spellings, and why not."""

from __future__ import annotations

import ipaddress

import pytest

from trapline.errors import FeedFetchError, FeedRefused
from trapline.feeds.address_policy import METADATA_ADDRESSES, AddressPolicy, literal_address

REFUSED = {
    "127.0.0.1": "loopback", "127.255.0.9": "loopback", "::1": "loopback",
    "10.1.2.3": "private", "172.31.0.1": "private", "192.168.0.1": "private",
    "fc00::1": "private", "fd12:3456::1": "private",
    "169.254.1.1": "link-local", "fe80::1": "link-local",
    "100.64.0.1": "CGNAT", "100.127.255.254": "CGNAT",
    "0.0.0.0": "unspecified", "::": "unspecified",
    "224.0.0.1": "multicast", "ff02::1": "multicast",
    "240.0.0.1": "reserved", "255.255.255.255": "reserved",
    "192.0.2.1": "private", "2001:db8::1": "private",
    "fec0::1": "site-local",
    "::ffff:127.0.0.1": "loopback", "::ffff:10.0.0.1": "private",
    "::127.0.0.1": "embeds 127.0.0.1", "2002:7f00:1::1": "embeds 127.0.0.1",
    "64:ff9b::a00:1": "private", "2001:0:4136:e378:8000:63bf:3fff:fdd2": "embeds 192.0.2.45",
}
ALLOWED = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808",
           "100.63.255.255", "100.128.0.0", "172.32.0.1", "2002:808:808::1"]


@pytest.mark.parametrize(("address", "why"), sorted(REFUSED.items()))
def test_refused_addresses(address: str, why: str) -> None:
    reason = AddressPolicy().reason(ipaddress.ip_address(address))
    assert reason is not None and why in reason and "allow_private" in reason
    assert AddressPolicy(allow_private=True).reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert AddressPolicy().reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", [*sorted(str(a) for a in METADATA_ADDRESSES),
                                     "::ffff:169.254.169.254", "2002:a9fe:a9fe::1"])
def test_metadata_is_refused_whatever_the_settings(address: str) -> None:
    for policy in (AddressPolicy(), AddressPolicy(allow_private=True),
                   AddressPolicy(allowed=["0.0.0.0/0", "::/0"])):
        reason = policy.reason(ipaddress.ip_address(address))
        assert reason is not None and "metadata" in reason


@pytest.mark.parametrize(("host", "address"), [
    ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("0x7f000001", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("017700000001", "127.0.0.1"),
    ("0xa9fea9fe", "169.254.169.254"), ("[::1]", "::1"), ("127.0.0.1.", "127.0.0.1"),
    ("[fe80::1%eth0]", "fe80::1"),
])
def test_literal_spellings(host: str, address: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(address)
    with pytest.raises(FeedRefused):
        AddressPolicy().check_literal(host)


@pytest.mark.parametrize("host", ["feeds.example", "deadbeef", "1e100.net", "cafe", "x1.2.3.4"])
def test_names_are_not_literals(host: str) -> None:
    assert literal_address(host) is None


def test_every_answer_must_pass() -> None:
    policy = AddressPolicy(resolver=lambda host, port: ["8.8.8.8", "10.0.0.1"])
    with pytest.raises(FeedRefused, match=r"mixed.test \(10.0.0.1\): private"):
        policy.resolve("mixed.test", 80)
    assert AddressPolicy(resolver=lambda h, p: ["8.8.8.8"]).resolve("ok.test", 80) == ["8.8.8.8"]


def test_unresolvable_names_are_fetch_errors_not_refusals() -> None:
    def nxdomain(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")
    with pytest.raises(FeedFetchError, match="cannot resolve") as caught:
        AddressPolicy(resolver=nxdomain).resolve("nope.test", 80)
    assert not isinstance(caught.value, FeedRefused)


def test_allowed_networks_open_exactly_those() -> None:
    policy = AddressPolicy(allowed=["127.0.0.1/32", "10.9.0.0/16"])
    assert policy.reason(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.reason(ipaddress.ip_address("10.9.8.7")) is None
    assert policy.reason(ipaddress.ip_address("127.0.0.2")) is not None
    assert policy.reason(ipaddress.ip_address("10.8.0.1")) is not None
