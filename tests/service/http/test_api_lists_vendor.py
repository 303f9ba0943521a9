"""InternalTI and FalsePositive (``/api/v1/lists``), the vendor's suppliers, indicators and
tags, and the explained lookup that sees them."""

from __future__ import annotations

from urllib.parse import quote

from api_env import ApiEnv, run

from trapline.store import SYSTEM

ERROR = "error"


def reasons(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert isinstance(body, list) and body[0]["status"] == ERROR, body
    return str(body[0]["reason"])


def test_lists_add_page_search_remove(env: ApiEnv) -> None:
    alice, root = env.basic("alice"), env.basic("root")
    url = "http://evil.example/a/b?x=1"

    async def go() -> None:
        async with env.client() as client:
            response = await client.post("/api/v1/lists/InternalTI", headers=alice, json=[
                {"value": "198.51.100.7", "category": "KL_InternalTI_IP",
                 "context": {"ticket": "INC-1"}},
                {"value": url, "kind": "url"}, {"value": "evil.example"}])
            assert response.json() == {"added": 3, "updated": 0}
            response = await client.post("/api/v1/lists/InternalTI", headers=alice,
                                         json={"value": "evil.example", "comment": "again"})
            assert response.json() == {"added": 0, "updated": 1}
            page = (await client.get("/api/v1/lists/InternalTI?limit=2",
                                     headers=alice)).json()
            assert page["total"] == 3 and len(page["items"]) == 2 and page["next_cursor"]
            rest = (await client.get(f"/api/v1/lists/InternalTI?limit=2&cursor="
                                     f"{page['next_cursor']}", headers=alice)).json()
            assert len(rest["items"]) == 1 and rest["next_cursor"] is None
            found = (await client.get("/api/v1/lists/InternalTI?search=EVIL",
                                      headers=alice)).json()
            assert {i["value"] for i in found["items"]} == {url, "evil.example"}
            item = next(i for i in page["items"] + rest["items"]
                        if i["value"] == "198.51.100.7")
            assert item["added_by"] == "alice" and item["context"] == {"ticket": "INC-1"}
            # Not an indicator, or not of the kind given: refused, nothing stored.
            for bad in ({"value": "not an indicator"}, {"value": "evil.example", "kind": "md5"},
                        {"value": "x.example", "kind": "banana"}):
                response = await client.post("/api/v1/lists/InternalTI", headers=alice,
                                             json=[bad])
                assert response.status_code == 400, bad
            assert "not an indicator" in reasons(response) or "kind" in reasons(response)
            assert (await client.post("/api/v1/lists/InternalTI", headers=alice,
                                      json=[])).status_code == 400
            # Removing from InternalTI is the Administrator's; the value URL-encoded.
            path = f"/api/v1/lists/InternalTI/{quote(url, safe='')}"
            assert (await client.delete(path, headers=alice)).status_code == 403
            assert (await client.delete(path, headers=root)).status_code == 204
            assert (await client.delete(path, headers=root)).status_code == 404
            # False positives are the Analyst's both ways.
            await client.post("/api/v1/lists/FalsePositive", headers=alice,
                              json=[{"value": "192.0.2.1"}])
            response = await client.delete("/api/v1/lists/FalsePositive/192.0.2.1",
                                           headers=alice)
            assert response.status_code == 204

    run(go())
    assert sorted(i.value for i in env.store.list_entries("InternalTI")) == [
        "198.51.100.7", "evil.example"]
    assert env.store.list_entries("FalsePositive") == []


def test_internal_ti_alerts_even_when_also_a_false_positive(env: ApiEnv) -> None:
    alice = env.basic("alice")

    async def go() -> None:
        async with env.client() as client:
            await client.put("/api/1.1/suppliers/InternalTI/indicators", headers=alice,
                             json=[{"indicator": "192.0.2.1", "category": "KL_InternalTI_IP"}])
            await client.put("/api/1.1/suppliers/FalsePositive/indicators", headers=alice,
                             json=[{"indicator": "192.0.2.1"}, {"value": "198.51.100.9"}])
            response = await client.post("/api/v1/lookup", headers=alice, json={
                "values": ["192.0.2.1", "198.51.100.9", "198.51.100.10", "hxxp://x[.]test"]})
            assert response.status_code == 200
            body = response.json()
            assert body["snapshot"] == 3 and body["lists_version"] >= 2
            both, marked, feed, clean = body["results"]
            assert both["result"] == "detected"
            assert [m["feed"] for m in both["matches"]] == ["InternalTI"]
            assert both["matches"][0]["category"] == "KL_InternalTI_IP"
            assert [m["feed"] for m in both["allowed_by"]] == ["FalsePositive"]
            assert [m["feed"] for m in both["suppressed"]] == ["Demo_IP_Reputation.json"]
            assert marked["result"] == "not detected" and marked["suppressed"]
            assert feed["result"] == "detected"
            match = feed["matches"][0]
            assert (match["how"], match["pattern"], match["explain"]) == (
                "cidr", "198.51.100.0/24", "cidr 198.51.100.0/24")
            assert match["context"]["threat_score"] == 70 and match["first_seen"] > 0
            assert (clean["kind"], clean["canonical"], clean["result"]) == (
                "url", "x.test", "not detected")
            # The vendor's lookup says the same.
            vendor = (await client.post("/api/1.1/lookup", headers=alice,
                                        json=[{"object": "192.0.2.1"}])).json()
            assert [c["category"] for c in vendor[0]["categories"]] == ["KL_InternalTI_IP"]
            history = (await client.get("/api/v1/lookups/recent", headers=alice)).json()
            assert len(history) == 1
            assert history[0]["values"][0] == "192.0.2.1" and history[0]["total"] == 4
            assert history[0]["summary"]["detected"] == 2
            assert history[0]["summary"]["snapshot"] == 3
            response = await client.post("/api/v1/lookup", headers=alice,
                                          json={"values": []})
            assert response.status_code == 400
            response = await client.post("/api/v1/lookup?tenant=Nowhere",
                                          headers=env.basic("root"), json={"values": ["x"]})
            assert response.status_code == 404

    run(go())


def test_suppliers_and_their_indicators(env: ApiEnv) -> None:
    root, alice = env.basic("root"), env.basic("alice")

    async def go() -> None:
        async with env.client() as client:
            base = "/api/1.2/suppliers"
            response = await client.post(base, headers=root, json=[
                {"name": "ExampleSupplier", "confidence": 90, "retention": 5000,
                 "vendor": "ExampleVendor"}])
            assert response.status_code == 201
            assert response.json() == [{"status": "Supplier successfully created"}]
            assert (await client.post(base, headers=root,
                                      json=[{"name": "ExampleSupplier"}])).status_code == 409
            assert (await client.post(base, headers=alice,
                                      json=[{"name": "Mine"}])).status_code == 403
            listed = (await client.get(base, headers=alice)).json()
            assert [(s["name"], s["status"]) for s in listed] == [
                ("ExampleSupplier", "enabled"), ("FalsePositive", "enabled"),
                ("InternalTI", "enabled")]
            shown = (await client.get(f"{base}/ExampleSupplier", headers=alice)).json()
            assert shown[0]["vendor"] == "ExampleVendor" and not shown[0]["builtin"]
            put = await client.put(f"{base}/ExampleSupplier/indicators", headers=root, json=[
                {"indicator": "e6301b768ef6f9946cbca6d55e2bb10c", "context": {"a": 1}},
                {"object": "phish.example/login/*", "type": "url-mask"},
                {"value": "203.0.113.5", "category": "Mine"}])
            assert put.json() == [{"status": "Indicators successfully added or updated",
                                   "added": 3, "updated": 0}]
            entries = {i.value: i for i in env.store.list_entries("ExampleSupplier")}
            assert entries["phish.example/login/*"].kind == "url-mask"
            assert entries["203.0.113.5"].category == "Mine"
            deleted = await client.request("DELETE", f"{base}/ExampleSupplier/indicators",
                                           headers=root, json=[{"indicator": "203.0.113.5"},
                                                               {"indicator": "absent.test"}])
            assert deleted.json()[0]["deleted"] == 1
            # Malformed bodies answer in the vendor's error shape, naming what is wrong.
            for body, part in (({"indicator": 5}, "at `$.indicator`"),
                               ([{"indicator": "a.test", "value": "b.test"}], "exactly one"),
                               ([{"context": {}}], "exactly one"), ("[", "malformed")):
                response = await client.put(f"{base}/ExampleSupplier/indicators", headers=root,
                                            content=body if isinstance(body, str) else None,
                                            json=None if isinstance(body, str) else body)
                assert response.status_code == 400
                assert part in reasons(response)
            renamed = await client.put(f"{base}/ExampleSupplier", headers=root,
                                       json=[{"name": "Renamed"}])
            assert renamed.json() == [{"status": "Supplier successfully updated"}]
            assert (await client.get(f"{base}/ExampleSupplier",
                                     headers=root)).status_code == 404
            # The built-in suppliers are reserved.
            for method, path, body in (
                    ("POST", base, [{"name": "InternalTI"}]),
                    ("POST", base, [{"name": "falsepositive"}]),
                    ("PUT", f"{base}/InternalTI", [{"name": "Other"}]),
                    ("DELETE", f"{base}/FalsePositive", None),
                    ("PUT", f"{base}/Renamed", [{"name": "InternalTI"}])):
                response = await client.request(method, path, headers=root, json=body)
                assert response.status_code == 409, (method, path)
                assert "built-in supplier" in reasons(response)
            response = await client.delete(f"{base}/Renamed", headers=root)
            assert response.json() == [{"status": "Supplier successfully removed"}]
            # Built-in lists: the deny list and false positives, with their own permissions.
            response = await client.put(f"{base}/InternalTI/indicators", headers=alice,
                                        json=[{"indicator": "203.0.113.66"}])
            assert response.status_code == 200
            response = await client.request("DELETE", f"{base}/InternalTI/indicators",
                                            headers=alice, json=[{"indicator": "203.0.113.66"}])
            assert response.status_code == 403
            response = await client.request("DELETE", f"{base}/InternalTI/indicators",
                                            headers=root, json=[{"indicator": "203.0.113.66"}])
            assert response.json()[0]["deleted"] == 1

    run(go())


def test_tenants_by_path_and_query(env: ApiEnv) -> None:
    bob, alice, root = env.basic("bob"), env.basic("alice"), env.basic("root")

    async def go() -> None:
        async with env.client() as client:
            response = await client.put("/api/1.3/Acme/suppliers/InternalTI/indicators",
                                        headers=bob, json=[{"indicator": "203.0.113.7"}])
            assert response.status_code == 200
            response = await client.put("/api/1.3/Acme/suppliers/InternalTI/indicators",
                                        headers=alice, json=[{"indicator": "203.0.113.8"}])
            assert response.status_code == 403
            assert "tenant 'Acme'" in reasons(response)
            # bob's own tenant without naming it; alice does not see it.
            listed = (await client.get("/api/v1/lists/InternalTI", headers=bob)).json()
            assert [i["value"] for i in listed["items"]] == ["203.0.113.7"]
            listed = (await client.get("/api/v1/lists/InternalTI", headers=alice)).json()
            assert listed["items"] == []
            assert (await client.get("/api/v1/lists/InternalTI?tenant=Acme",
                                     headers=alice)).status_code == 403
            shown = (await client.get("/api/v1/lists/InternalTI?tenant=Acme",
                                      headers=root)).json()
            assert [i["value"] for i in shown["items"]] == ["203.0.113.7"]
            acme = (await client.post("/api/v1/lookup", headers=bob,
                                      json={"values": ["203.0.113.7"]})).json()
            general = (await client.post("/api/v1/lookup", headers=alice,
                                         json={"values": ["203.0.113.7"]})).json()
            assert acme["tenant"] == "Acme" and acme["results"][0]["result"] == "detected"
            assert general["results"][0]["result"] == "not detected"
            lookup = await client.post("/api/1.3/Acme/lookup", headers=bob,
                                       json=[{"object": "203.0.113.7"}])
            assert lookup.json()[0]["result"] == "detected"
            assert (await client.get("/api/1.3/Nowhere/suppliers",
                                     headers=root)).status_code == 404

    run(go())


def test_tags(env: ApiEnv) -> None:
    root, alice = env.basic("root"), env.basic("alice")

    async def go() -> None:
        async with env.client() as client:
            response = await client.post("/api/1.1/tags", headers=root,
                                         json=[{"name": "WIN-TROJAN", "weight": 5,
                                                "color": "#aa0000"}])
            assert response.status_code == 201
            assert response.json() == [{"status": "Tag successfully created"}]
            assert (await client.post("/api/1.1/tags", headers=root,
                                      json=[{"name": "WIN-TROJAN"}])).status_code == 409
            assert (await client.post("/api/1.1/tags", headers=alice,
                                      json=[{"name": "x"}])).status_code == 403
            assert (await client.post("/api/1.1/tags", headers=root, json=[{
                "name": "bad", "color": "red"}])).status_code == 400
            listed = (await client.get("/api/1.1/tags", headers=alice)).json()
            assert [(t["name"], t["color"]) for t in listed] == [("WIN-TROJAN", "#aa0000")]
            response = await client.put("/api/1.1/suppliers/InternalTI/indicators",
                                        headers=alice, json=[{"indicator": "203.0.113.9",
                                                              "tags": ["WIN-TROJAN"]}])
            assert response.status_code == 200
            assert env.store.indicators.get("InternalTI", "203.0.113.9").tags == ("WIN-TROJAN",)
            response = await client.put("/api/1.1/suppliers/InternalTI/indicators",
                                        headers=alice, json=[{"indicator": "203.0.113.9",
                                                              "tags": ["NO-SUCH"]}])
            assert response.status_code == 404 and "unknown tag" in reasons(response)
            response = await client.put("/api/1.1/tags/WIN-TROJAN", headers=root,
                                        json=[{"name": "TROJAN", "description": "loaders"}])
            assert response.status_code == 200
            shown = (await client.get("/api/1.1/tags/TROJAN", headers=alice)).json()
            assert shown[0]["description"] == "loaders"
            assert env.store.indicators.get("InternalTI", "203.0.113.9").tags == ("TROJAN",)
            assert (await client.delete("/api/1.1/tags/TROJAN", headers=root)).json() == [
                {"status": "Tag successfully deleted"}]
            assert (await client.get("/api/1.1/tags/TROJAN", headers=root)).status_code == 404

    run(go())
    assert env.store.audit.search(action="tag.delete").items[0].actor == "root"


def test_unknown_supplier_and_feed_supplier_refusals(env: ApiEnv) -> None:
    env.store.suppliers.create(SYSTEM, "Demo_Feed", kind="feed")
    root = env.basic("root")

    async def go() -> None:
        async with env.client() as client:
            response = await client.put("/api/1.1/suppliers/Nope/indicators", headers=root,
                                        json=[{"indicator": "203.0.113.1"}])
            assert response.status_code == 404 and "unknown supplier" in reasons(response)
            response = await client.put("/api/1.1/suppliers/Demo_Feed/indicators",
                                        headers=root, json=[{"indicator": "203.0.113.1"}])
            assert response.status_code == 400 and "is a feed" in reasons(response)

    run(go())
