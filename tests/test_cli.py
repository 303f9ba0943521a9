"""The `trapline` command, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


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


def test_feeds_update_publishes_and_lookup_uses_data_dir(tmp_path: Path, feed: Path) -> None:
    data = tmp_path / "data"
    first = run("feeds", "update", data_dir=data)  # no configuration: the demo feeds
    assert "alert=KL_ALERT_UpdatedFeed feed=Demo_IP_Reputation.json records=3" in first.stdout
    out = json.loads(run("lookup", "--json", "198.51.100.9", data_dir=data).stdout)
    assert out[0]["categories"][0]["category"] == "Demo_IP_Reputation"
    assert out[0]["categories"][0]["match"]["snapshot"] == 1

    config = tmp_path / "trapline.toml"
    config.write_text(f'[[feeds]]\nsource = "{feed}"\ncategory = "Mine"\n', encoding="utf-8")
    second = run("feeds", "update", "--config", str(config), data_dir=data)
    assert "alert=KL_ALERT_UpdatedFeed feed=list.txt records=4" in second.stdout
    assert "rejected: not an indicator" in second.stdout
    out = json.loads(run("lookup", "--json", "198.51.100.9", "evil.example",
                         data_dir=data).stdout)
    assert out[0]["result"] == "not detected"
    assert out[1]["categories"][0]["category"] == "Mine"
    assert out[1]["categories"][0]["match"]["snapshot"] == 2
    listed = run("feeds", "list", "--config", str(config), data_dir=data).stdout
    assert "list.txt" in listed and "Demo_IP" not in listed


def test_feeds_update_failure_keeps_old_data_and_exits_1(tmp_path: Path, feed: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "trapline.toml"
    config.write_text(f'[[feeds]]\nsource = "{feed}"\n', encoding="utf-8")
    run("feeds", "update", "--config", str(config), data_dir=data)
    feed.write_text("<html><body>502 Bad Gateway</body></html>\n", encoding="utf-8")
    failed = run("feeds", "update", "--config", str(config), data_dir=data, check=False)
    assert failed.returncode == 1
    assert "alert=KL_ALERT_FailedToUpdateFeed feed=list.txt reason=list.txt: an HTML page" \
        in failed.stdout
    out = json.loads(run("lookup", "--json", "evil.example", data_dir=data).stdout)
    assert out[0]["result"] == "detected"


def test_feeds_check_reports_counts_and_reasons(shared_data: Path) -> None:
    out = run("feeds", "check", str(shared_data / "feeds/feodotracker/ipblocklist.csv"))
    assert "ipv4 28" in out.stdout
    bad = run("feeds", "check", "--format", "vendor-json",
              str(shared_data / "feeds/feodotracker/ipblocklist.csv"), check=False)
    assert bad.returncode == 1
    assert "a vendor JSON feed is a JSON array" in bad.stdout


def test_lookup_without_snapshot_explains(tmp_path: Path) -> None:
    out = run("lookup", "1.2.3.4", data_dir=tmp_path / "empty", check=False)
    assert out.returncode == 1
    assert "no snapshot published" in out.stderr
    assert "trapline feeds update" in out.stderr


def test_demo_feed_test_indicators_match(tmp_path: Path) -> None:
    values = ["http://malicious.trapline-demo.test/", "http://phish.trapline-demo.test/login/a",
              "x.c2.trapline-demo.test", "http://fakess123.nu", "192.0.2.1", "198.51.100.200",
              "2001:db8:dead:1::5", "E6301B768EF6F9946CBCA6D55E2BB10C",
              "4ce055d506bc77efcd3b1294121b25a355a682b9",
              "1d8ce479d7be5c2628379b8ee2e2c0e78e95a0fe79bcb2093e1ae4d14193d8a0",
              "http://c2.trapline-demo.test/gate.php", "776735A8CA96DB15B422879DA599F474"]
    run("feeds", "update", data_dir=tmp_path)
    out = json.loads(run("lookup", "--json", *values, data_dir=tmp_path).stdout)
    assert [e["result"] for e in out] == ["detected"] * len(values)


def test_allow_list_suppresses_and_names_itself(tmp_path: Path, shared_data: Path) -> None:
    """The EICAR hash in a feed is allowed by the real MISP warning list of EICAR hashes."""
    eicar = "44d88612fea8a8f36de82e1278abb02f"
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{eicar}\nevil.example\n", encoding="utf-8")
    config = tmp_path / "trapline.toml"
    allow = shared_data / "feeds/misp-warninglists/eicar.com.json"
    config.write_text(f'[[feeds]]\nsource = "{bad}"\n[[feeds]]\nsource = "{allow}"\n',
                      encoding="utf-8")
    run("feeds", "update", "--config", str(config), data_dir=tmp_path / "data")
    entry, other = json.loads(run("lookup", "--json", eicar.upper(), "evil.example",
                                  data_dir=tmp_path / "data").stdout)
    assert entry["result"] == "not detected" and entry["categories"] == []
    assert entry["allowed_by"][0]["feed"] == "eicar.com.json"
    assert entry["allowed_by"][0]["context"]["list"] == "List of hashes for EICAR test virus"
    assert entry["suppressed"][0]["feed"] == "bad.txt"
    assert other["result"] == "detected"
    table = run("lookup", eicar, data_dir=tmp_path / "data").stdout
    assert "allowed" in table and "eicar.com.json" in table
