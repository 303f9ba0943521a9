"""The `trapline` command, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "trapline" / "demo"


def run(*args: str, data_dir: Path | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if data_dir is not None:
        env["TRAPLINE_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "trapline", *args], capture_output=True,
                          text=True, env=env, check=check, timeout=120)


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "list.txt"
    path.write_text(
        "# a plain list\n"
        "evil.example\tbad domain\n"
        "10.0.0.0/8\n"
        "hxxp://phish[.]example/login/*\n"
        "C1153422C5F68E731347F6A33F791598;vendor demo hash\n"
        "this is not an indicator\n",
        encoding="utf-8",
    )
    return path


def test_lookup_json_gives_documented_shape(feed: Path) -> None:
    out = run("lookup", "--feed", str(feed), "--json", "a.b.evil.example", "10.1.2.3",
              "http://phish.example/login/x", "c1153422c5f68e731347f6a33f791598",
              "notevil.example", "???")
    entries = json.loads(out.stdout)
    assert [e["object"] for e in entries] == [
        "a.b.evil.example", "10.1.2.3", "http://phish.example/login/x",
        "c1153422c5f68e731347f6a33f791598", "notevil.example", "???"]
    assert [e["result"] for e in entries] == ["detected"] * 4 + ["not detected"] * 2
    parent = entries[0]["categories"][0]
    assert parent == {
        "category": "list", "detected_indicator": "evil.example",
        "context": {"comment": "bad domain"}, "feed": "list.txt",
        "match": {"how": "parent-domain", "pattern": "evil.example", "snapshot": 0},
    }
    assert entries[1]["categories"][0]["match"]["how"] == "cidr"
    assert entries[2]["categories"][0]["detected_indicator"] == "phish.example/login/*"
    assert entries[3]["categories"][0]["context"] == {"comment": "vendor demo hash"}
    assert entries[4]["categories"] == [] and "error" not in entries[4]
    assert entries[5]["error"] == "URL without a host"


def test_lookup_table(feed: Path) -> None:
    out = run("lookup", "--feed", str(feed), "http://evil.example/x", "192.0.2.55")
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["object", "result", "category", "feed", "match"]
    assert "url-host exact evil.example" in lines[2]
    assert lines[3].split()[:2] == ["192.0.2.55", "not"]


def test_normalize_prints_kind_and_canonical_form() -> None:
    out = run("normalize", "hxxps://WWW.Evil[.]example:443/A/../B?X=1#f", "::ffff:192.0.2.1",
              "2A01:0000::1", "ТЕСТ.РФ.")
    assert out.stdout.splitlines() == [
        "url\tevil.example/b?x=1", "ipv4\t192.0.2.1", "ipv6\t2a01::1",
        "domain\txn--e1aybc.xn--p1ai"]


def test_normalize_reports_invalid_values_and_fails() -> None:
    out = run("normalize", "evil.example", "not a value", check=False)
    assert out.returncode == 1
    assert out.stdout.splitlines()[0] == "domain\tevil.example"
    assert out.stdout.splitlines()[1].startswith("invalid\tnot a value\t")


def test_feeds_load_publishes_and_lookup_uses_data_dir(tmp_path: Path, feed: Path) -> None:
    data = tmp_path / "data"
    first = run("feeds", "load", data_dir=data)
    assert first.stdout.startswith("snapshot v1: 10 indicators")
    out = json.loads(run("lookup", "--json", "198.51.100.9", data_dir=data).stdout)
    assert out[0]["categories"][0]["category"] == "Demo_IP_Reputation"
    assert out[0]["categories"][0]["match"]["snapshot"] == 1

    second = run("feeds", "load", str(feed), data_dir=data)
    assert second.stdout.startswith("snapshot v2: 4 indicators")
    assert "1 rejected" in second.stdout
    out = json.loads(run("lookup", "--json", "198.51.100.9", "evil.example",
                         data_dir=data).stdout)
    assert out[0]["result"] == "not detected"
    assert out[1]["categories"][0]["match"]["snapshot"] == 2


def test_lookup_without_snapshot_explains(tmp_path: Path) -> None:
    out = run("lookup", "1.2.3.4", data_dir=tmp_path / "empty", check=False)
    assert out.returncode == 1
    assert "no snapshot published" in out.stderr
    assert "trapline feeds load" in out.stderr


def test_demo_feed_test_indicators_match() -> None:
    values = ["http://malicious.trapline-demo.test/", "http://phish.trapline-demo.test/login/a",
              "x.c2.trapline-demo.test", "http://fakess123.nu", "192.0.2.1", "198.51.100.200",
              "2001:db8:dead:1::5", "E6301B768EF6F9946CBCA6D55E2BB10C",
              "4ce055d506bc77efcd3b1294121b25a355a682b9",
              "1d8ce479d7be5c2628379b8ee2e2c0e78e95a0fe79bcb2093e1ae4d14193d8a0"]
    out = json.loads(run("lookup", "--feed", str(DEMO), "--json", *values).stdout)
    assert [e["result"] for e in out] == ["detected"] * len(values)
