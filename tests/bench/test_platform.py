"""``mem0-platform``: mem0's ``MemoryClient`` against a real ``memlab serve`` on 127.0.0.1.

The served store uses memlab's keyword-capable default search over the hash embedder, the same engine
as the ``memlab:embedder=hash`` system here, so both must retrieve the same turns: the platform path
(HTTP, timestamps as Unix seconds, ids mapped back from the add responses) loses nothing.
"""

from __future__ import annotations

import pytest

pytest.importorskip("mem0", reason="mem0ai is not installed")
pytest.importorskip("fastapi", reason="memlab[serve] is not installed")

from memlab.bench import Benchmark  # noqa: E402


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from tests.server.live import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("served"), {"embedder": {"provider": "hash"}}).start()
    yield srv
    srv.stop()


def test_platform_system_matches_the_same_engine_in_process(live, sample_path, tmp_path):
    spec = f"mem0-platform:host={live.url},api_key={live.key('bench', 'p')},label=platform"
    bench = Benchmark(sample_path, [spec, "memlab:embedder=hash,label=local"], ks=(1, 5), scopes=1, out=tmp_path,
                      n_boot=100, n_perm=200, progress=False)
    result = bench.run(only="retrieval")
    lists = {}
    for r in result.records:
        lists.setdefault(r["question_id"], {})[r["system"]] = [h["mid"] for h in r["hits"]]
    assert all(None not in v["platform"] for v in lists.values())  # every hit mapped to its turn
    same = sum(v["platform"][:5] == v["local"][:5] for v in lists.values())
    assert same == len(lists) == 10
    # the session date went over as the platform's timestamp: the served memories carry it
    from mem0 import MemoryClient

    client = MemoryClient(api_key=spec.split("api_key=")[1].split(",")[0], host=live.url)
    items = client.get_all(filters={"user_id": "sample-1"}, page_size=100)["results"]
    assert len(items) == 18 and {i["created_at"][:10] for i in items} == {"2024-03-03", "2024-04-21", "2024-06-14"}


def test_platform_without_a_key_is_a_config_error(sample_path, tmp_path, monkeypatch):
    from memlab.errors import ConfigError

    monkeypatch.delenv("MEM0_API_KEY", raising=False)
    bench = Benchmark(sample_path, ["mem0-platform:host=http://127.0.0.1:9"], out=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="API key"):
        bench.run(only="retrieval")
