"""The migration guide's "Self-Hosted to Cloud Migration" walk-through, end to end, with mem0ai's
real MemoryClient against two ``memlab serve`` instances (two processes, two directories).

The guide's code is followed step by step. Where mem0ai 2.2 has moved on from the guide, the
smallest change that keeps the step's meaning is made, and said so in a comment:

* ``MemoryClient(...)`` no longer takes ``org_id``/``project_id``: the key decides (and ping tells);
* ``project.update()`` no longer takes ``enable_graph``/``version``/``retrieval_criteria``: they are
  sent to the same project endpoint through the client's own authenticated session;
* ``search(..., user_id=...)`` must be ``search(..., filters={"user_id": ...})``;
* the guide's export schema lists no ``user_id`` but its import loop reads ``memory_data["user_id"]``:
  the field is added to the schema.
"""

from __future__ import annotations

import pytest

mem0_client = pytest.importorskip("mem0.client.main", reason="mem0ai is not installed (test extra)")
MemoryClient = mem0_client.MemoryClient

from memlab import Memory  # noqa: E402
from tests.server.live import HASH_CONFIG, ServeProcess  # noqa: E402

SEED = [("Prefers window seats on long flights", {"topic": "travel"}),
        ("Is allergic to peanuts", {"topic": "health"}),
        ("Works as a data engineer in Lyon", {"topic": "work"})]


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    base = tmp_path_factory.mktemp("walkthrough")
    selfhosted, cloud = ServeProcess(base / "selfhosted"), ServeProcess(base / "cloud")
    try:
        yield selfhosted.start(), cloud.start()
    finally:
        selfhosted.stop()
        cloud.stop()


def test_self_hosted_to_cloud(instances, tmp_path):
    selfhosted, cloud = instances
    client = MemoryClient(api_key=selfhosted.key("selfhosted-org", "main"), host=selfhosted.url)
    for text, meta in SEED:
        client.add([{"role": "user", "content": text}], user_id="user123", metadata=meta, infer=False)
    client.add("Someone else's memory", user_id="user999", infer=False)

    # --- Data Export from Self-Hosted
    schema = {
        "memories": {
            "fields": ["id", "content", "metadata", "created_at", "updated_at", "user_id"],  # + user_id (see above)
            "filters": {"user_id": "user123"},
        },
        "users": {"fields": ["id", "user_id", "name", "email"]},
    }
    export_result = client.create_memory_export(schema, user_id="user123")
    export_id = export_result["id"]
    assert export_id

    # --- Cloud Instance Configuration
    cloud_client = MemoryClient(api_key=cloud.key("cloud-org-id", "cloud-project-id"), host=cloud.url)
    assert (cloud_client.org_id, cloud_client.project_id) == ("cloud-org-id", "cloud-project-id")
    cloud_client.project.update(custom_instructions="Migrated from self-hosted instance")
    project_path = f"/api/v1/orgs/organizations/{cloud_client.org_id}/projects/{cloud_client.project_id}/"
    r = cloud_client.client.patch(project_path, json={"enable_graph": True, "version": "v1.1"})
    assert r.status_code == 200, r.text

    # --- Data Import to Cloud
    exported_data = client.get_memory_export(user_id="user123")
    assert exported_data == client.get_memory_export(memory_export_id=export_id)
    assert exported_data["users"] == [{"id": "user123", "user_id": "user123", "name": "user123", "email": None}]
    for memory_data in exported_data["memories"]:
        cloud_client.add(
            messages=[{"role": "user", "content": memory_data["content"]}],
            user_id=memory_data["user_id"],
            metadata=memory_data["metadata"],
            infer=False,  # the exported texts are already extracted memories: keep them verbatim
        )

    # --- Configuration Synchronization
    local_memory = Memory({**HASH_CONFIG, "custom_fact_extraction_prompt": "Extract travel and health facts.",
                           "vector_store": {"provider": "faiss", "config": {"path": str(tmp_path / "local")}}})
    local_config = local_memory.config
    cloud_client.project.update(custom_instructions=local_config.custom_fact_extraction_prompt)
    r = cloud_client.client.patch(project_path, json={"retrieval_criteria": [
        {"type": "vector", "threshold": 0.7, "provider": local_config.vector_store.provider}]})
    assert r.status_code == 200, r.text
    local_memory.close()
    settings = cloud_client.project.get()
    assert settings["custom_instructions"] == "Extract travel and health facts."
    assert settings["enable_graph"] is True and settings["version"] == "v1.1"
    assert settings["retrieval_criteria"][0]["threshold"] == 0.7

    # --- Testing and Validation
    test_result = cloud_client.search("Is allergic to peanuts", filters={"user_id": "user123"})
    assert len(test_result["results"]) > 0, "No memories retrieved after migration"
    assert test_result["results"][0]["memory"] == "Is allergic to peanuts"
    assert all(r["score"] >= 0.7 for r in test_result["results"])  # the synced threshold is in force
    assert test_result["relations"] == []  # graph enabled on the cloud project
    summary = cloud_client.get_summary(filters={"user_id": "user123"})
    assert summary["total_memories"] == len(SEED)

    # nothing lost, nothing extra, nothing changed on the way
    source = {m["memory"]: m["metadata"] for m in client.get_all(filters={"user_id": "user123"})["results"]}
    target = {m["memory"]: m["metadata"] for m in cloud_client.get_all(filters={"user_id": "user123"})["results"]}
    assert source == target == {t: m for t, m in SEED}
    assert cloud_client.get_all(filters={"user_id": "user999"})["count"] == 0
