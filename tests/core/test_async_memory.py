import asyncio

from memlab import AsyncMemory


def test_async_memory_verbs(hash_config):
    async def scenario():
        m = AsyncMemory(hash_config)
        added = await m.add("I love sushi", user_id="alice", infer=False)
        mid = added["results"][0]["id"]
        # concurrent adds from many tasks all land
        await asyncio.gather(*(m.add(f"fact {i}", user_id="bob", infer=False) for i in range(20)))
        assert len((await m.get_all(user_id="bob"))["results"]) == 20
        assert (await m.search("sushi", user_id="alice"))["results"][0]["id"] == mid
        await m.update(mid, "I love ramen")
        assert (await m.get(mid))["memory"] == "I love ramen"
        assert [h["event"] for h in await m.history(mid)] == ["ADD", "UPDATE"]
        await m.delete(mid)
        assert await m.get(mid) is None
        await m.delete_all(user_id="bob")
        assert (await m.get_all(all_scopes=True))["results"] == []
        await m.reset()
        m.close()

    asyncio.run(scenario())
