"""The doors of memlab serve, each with a case that reaches the check it guards.

- a key whose key_id EXISTS but whose secret is wrong is refused on every route (a key_id that does
  not exist never reaches the secret comparison, so it cannot prove the secret is checked);
- two orgs with a project of the same name are two stores;
- PATCH / GET of another org's project answer 404 and change nothing;
- deleting an entity that has no memories answers 404 (mem0's client raises MemoryNotFoundError).
"""

from __future__ import annotations

import httpx
import pytest


def _auth(key: str) -> dict:
    return {"Authorization": f"Token {key}"}


def _add(srv, key: str, text: str, user: str = "u") -> str:
    r = httpx.post(srv.url + "/v3/memories/add/", headers=_auth(key),
                   json={"messages": [{"role": "user", "content": text}], "user_id": user, "infer": False})
    assert r.status_code == 200, r.text
    return r.json()["results"][0]["id"]


def _texts(srv, key: str, user: str = "u") -> list[str]:
    r = httpx.post(srv.url + "/v3/memories/", headers=_auth(key), json={"filters": {"user_id": user}})
    assert r.status_code == 200, r.text
    body = r.json()
    return sorted(m["memory"] for m in (body["results"] if isinstance(body, dict) else body))


def _wrong_secret(key: str) -> str:
    """The same key_id with another well-formed secret (same length, one character changed)."""
    key_id, secret = key.split(".", 1)
    flipped = ("A" if secret[0] != "A" else "B") + secret[1:]
    return f"{key_id}.{flipped}"


def test_a_real_key_id_with_a_wrong_secret_is_refused_on_every_route(live):
    key = live.key("guard", "p")
    mid = _add(live, key, "guarded memory")
    wrong = _wrong_secret(key)
    assert wrong != key and wrong.split(".")[0] == key.split(".")[0]
    routes = [(m.upper(), path) for path, ops in live.app.openapi()["paths"].items() for m in ops]
    assert len(routes) >= 19
    for method, path in routes:
        url = live.url + path.format(memory_id=mid, entity_type="user", entity_id="u", org_id="guard",
                                     project_id="p")
        for bad in (wrong, key.split(".")[0] + "." + "x" * 43, key.split(".")[0]):
            r = httpx.request(method, url, headers=_auth(bad), json={})
            assert r.status_code == 401, (method, path, bad, r.status_code, r.text[:200])
            assert r.json() == {"detail": "Invalid API key."}
    # the right secret still works, and nothing above changed the project
    assert httpx.get(live.url + "/v1/ping/", headers=_auth(key)).status_code == 200
    assert _texts(live, key) == ["guarded memory"]


def test_a_revoked_key_is_refused_although_its_secret_is_right(live):
    key = live.key("guard", "revoked")
    assert httpx.get(live.url + "/v1/ping/", headers=_auth(key)).status_code == 200
    live.app.state.tenancy.keys.revoke(key)
    assert httpx.get(live.url + "/v1/ping/", headers=_auth(key)).status_code == 401


def test_two_orgs_with_a_project_of_the_same_name_are_two_stores(live):
    one, two = live.key("org-one", "shared-name"), live.key("org-two", "shared-name")
    mine = _add(live, one, "org one's plan")
    # both projects opened (and cached by the server) before either reads the other's data
    assert httpx.get(live.url + "/v1/ping/", headers=_auth(two)).json()["org_id"] == "org-two"
    _add(live, two, "org two's plan")
    assert _texts(live, one) == ["org one's plan"]
    assert _texts(live, two) == ["org two's plan"]
    r = httpx.post(live.url + "/v3/memories/search/", headers=_auth(two),
                   json={"query": "plan", "filters": {"user_id": "u"}})
    assert r.status_code == 200 and [m["memory"] for m in r.json()["results"]] == ["org two's plan"]
    assert httpx.get(live.url + f"/v1/memories/{mine}/", headers=_auth(two)).status_code == 404
    assert httpx.delete(live.url + f"/v1/memories/{mine}/", headers=_auth(two)).status_code == 404
    assert _texts(live, one) == ["org one's plan"]
    # each project's files live under its own org
    root = live.app.state.tenancy.root / "projects"
    assert (root / "org-one" / "shared-name").is_dir() and (root / "org-two" / "shared-name").is_dir()


def test_another_orgs_project_cannot_be_read_or_patched(live):
    mine, theirs = live.key("org-a", "settings"), live.key("org-b", "settings")
    path = "/api/v1/orgs/organizations/{}/projects/settings/"
    before = httpx.get(live.url + path.format("org-b"), headers=_auth(theirs))
    assert before.status_code == 200
    for org in ("org-b", "org-never"):  # another org's project and one that does not exist: the same 404
        r = httpx.patch(live.url + path.format(org), headers=_auth(mine),
                        json={"custom_instructions": "hijacked"})
        assert r.status_code == 404, (org, r.status_code, r.text)
        assert r.json() == {"detail": "Project not found."}
        assert httpx.get(live.url + path.format(org), headers=_auth(mine)).status_code == 404
    # same org, another project name: also not ours
    r = httpx.patch(live.url + "/api/v1/orgs/organizations/org-a/projects/other/", headers=_auth(mine),
                    json={"custom_instructions": "hijacked"})
    assert r.status_code == 404
    after = httpx.get(live.url + path.format("org-b"), headers=_auth(theirs)).json()
    assert after == before.json() and after.get("custom_instructions") != "hijacked"
    assert httpx.get(live.url + path.format("org-a"), headers=_auth(mine)).json().get(
        "custom_instructions") != "hijacked"
    ok = httpx.patch(live.url + path.format("org-a"), headers=_auth(mine), json={"custom_instructions": "mine"})
    assert ok.status_code == 200, ok.text
    assert httpx.get(live.url + path.format("org-b"), headers=_auth(theirs)).json() == before.json()


@pytest.mark.parametrize("entity_type", ["user", "agent", "run"])
def test_deleting_an_unknown_entity_is_404_and_deletes_nothing(live, entity_type):
    key = live.key("ent", entity_type)
    r = httpx.post(live.url + "/v3/memories/add/", headers=_auth(key), json={
        "messages": [{"role": "user", "content": "kept"}], "user_id": "known", "agent_id": "known",
        "run_id": "known", "infer": False})
    assert r.status_code == 200, r.text
    gone = httpx.delete(live.url + f"/v2/entities/{entity_type}/nobody/", headers=_auth(key))
    assert gone.status_code == 404, gone.text
    assert "nobody" in gone.json()["detail"]
    assert _texts(live, key, "known") == ["kept"]
    done = httpx.delete(live.url + f"/v2/entities/{entity_type}/known/", headers=_auth(key))
    assert done.status_code == 200, done.text
    assert _texts(live, key, "known") == []
    # deleted once: the entity no longer exists
    assert httpx.delete(live.url + f"/v2/entities/{entity_type}/known/", headers=_auth(key)).status_code == 404


@pytest.mark.parametrize("bad", ["..", "../escape", "a/b", "", ".hidden", "-dash", "x" * 65, "sp ace", 5, None])
def test_names_that_could_leave_the_projects_folder_are_refused(live, bad):
    from memlab.errors import ValidationError

    keys = live.app.state.tenancy.keys
    for org, project in ((bad, "p"), ("o", bad)):
        with pytest.raises(ValidationError, match="1-64 characters"):
            keys.create(org, project)
        with pytest.raises(ValidationError, match="1-64 characters"):
            live.app.state.tenancy.local_tenant(org, project)
    keys.create("x" * 64, "ok.name_1-2")  # the longest name and every allowed character class


def test_a_key_name_must_be_a_short_string(live):
    from memlab.errors import ValidationError

    keys = live.app.state.tenancy.keys
    for bad in (5, ["x"], "n" * 201):
        with pytest.raises(ValidationError, match="at most 200 characters"):
            keys.create("o", "p", name=bad)
    _, rec = keys.create("o", "p", name="n" * 200)
    assert rec.name == "n" * 200 and keys.create("o", "p")[1].name is None


def test_revoke_by_id_or_full_key_once_and_only_that_key(live):
    from memlab.errors import NotFoundError

    keys = live.app.state.tenancy.keys
    first, second, third = (keys.create("rev", "p")[0] for _ in range(3))
    key_id = first.split(".")[0][len("m0-"):]
    assert keys.revoke(key_id).revoked_at is not None          # by its id
    assert keys.revoke(second).key_id == second.split(".")[0][3:]  # by the full key
    for again in (key_id, second, "0123456789abcdef"):
        with pytest.raises(NotFoundError, match="No active key"):
            keys.revoke(again)
    assert keys.verify(first) is None and keys.verify(second) is None
    assert keys.verify(third).project == "p"  # the project's other key still works
    assert third.split(".")[0][3:] in {r.key_id for r in keys.list()}
    assert key_id not in {r.key_id for r in keys.list()} and key_id in {r.key_id for r in keys.list(True)}


def test_verify_returns_exactly_the_record_create_made(live):
    keys = live.app.state.tenancy.keys
    key, record = keys.create("rec-org", "rec-project", name="laptop")
    assert keys.verify(key) == record  # org, project, name and creation time, field for field
    assert keys.verify(key).to_dict() == {**record.to_dict(), "revoked_at": None}


def test_a_key_carries_a_256_bit_secret_and_its_row_a_128_bit_salt(live):
    """The key format: ``m0-<16 hex>.<43 url-safe characters>`` (32 random bytes); the row stores a 16-byte
    salt and the HMAC, never the secret. A different length is a different key format (clients, docs)."""
    import sqlite3

    keys = live.app.state.tenancy.keys
    made = [keys.create("entropy-org", "p")[0] for _ in range(3)]
    for key in made:
        key_id, secret = key[3:].split(".", 1)
        assert key.startswith("m0-") and len(key_id) == 16 and len(secret) == 43
    assert len({k.split(".", 1)[1] for k in made}) == 3
    con = sqlite3.connect(str(keys.path))
    try:
        rows = con.execute("SELECT key_id, salt, digest FROM api_keys WHERE org = 'entropy-org'").fetchall()
    finally:
        con.close()
    assert len(rows) == 3 and all(len(salt) == 16 for _, salt, _ in rows)
    assert len({salt for _, salt, _ in rows}) == 3
    assert not any(k.split(".", 1)[1] in digest for k in made for _, _, digest in rows)


def test_project_fields_select_and_retrieval_criteria_name_one_type(live):
    from memlab.errors import ValidationError

    key = live.key("crit", "p")
    url = live.url + "/api/v1/orgs/organizations/crit/projects/p/"
    whole = httpx.get(url, headers=_auth(key)).json()
    assert (whole["org_id"], whole["project_id"]) == ("crit", "p") and "custom_instructions" in whole
    some = httpx.get(url, headers=_auth(key), params={"fields": ["custom_instructions"]})
    assert some.status_code == 200 and set(some.json()) == {"custom_instructions"}
    tenant = live.app.state.tenancy.local_tenant("crit", "p")
    two = [{"name": "a", "type": "vector"}, {"name": "b", "type": "keyword"}]
    with pytest.raises(ValidationError, match="one search type"):
        tenant.update_settings({"retrieval_criteria": two})
    assert tenant.settings.retrieval_criteria is None  # nothing written
    same = [{"name": "a", "type": "keyword", "threshold": 0.2}, {"name": "b", "type": "keyword"}]
    assert len(tenant.update_settings({"retrieval_criteria": same}).retrieval_criteria) == 2
    assert len(tenant.update_settings({"retrieval_criteria": same[:1]}).retrieval_criteria) == 1


def test_entities_lists_scopes_with_active_memories_and_their_counts(live):
    key = live.key("ents", "p")
    assert httpx.get(live.url + "/v1/entities/", headers=_auth(key)).json()["results"] == []  # empty project
    for user in ("bea", "al", "bea"):
        _add(live, key, f"note of {user}", user=user)
    paused = _add(live, key, "paused note", user="cy")
    live.app.state.tenancy.local_tenant("ents", "p").memory.set_state(paused, "paused")
    rows = httpx.get(live.url + "/v1/entities/", headers=_auth(key)).json()["results"]
    assert [(r["name"], r["type"], r["total_memories"]) for r in rows] == [("al", "user", 1), ("bea", "user", 2)]
    assert all(r["owner"] == "ents" and r["created_at"] <= r["updated_at"] for r in rows)
