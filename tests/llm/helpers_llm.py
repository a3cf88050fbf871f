"""Shared assertions of the LLM-layer tests (imported by file path-independent name)."""

from __future__ import annotations


def all_rows(m) -> list[dict]:
    """Every stored row, deleted ones included (cheaper than to_pandas in loops)."""
    from memlab.store import filters as F

    return m.store.select(F.parse({"state": "*"}))


def history_lengths(m, ids) -> dict:
    return {i: len(m.history(i)) for i in ids}


def add_and_check(m, messages, **kwargs):
    """``m.add(...)`` and check that every returned event has the history row it should."""
    known = [r["id"] for r in all_rows(m)]
    before = history_lengths(m, known)
    result = m.add(messages, return_trace=True, **kwargs)
    for item in result["results"]:
        rows = m.history(item["id"])
        event = item["event"]
        if event == "NONE":
            assert len(rows) == before[item["id"]], f"NONE must not write history: {rows}"
            continue
        assert len(rows) == before.get(item["id"], 0) + 1, f"{event} must write exactly one history row"
        last = rows[-1]
        assert last["event"] == event
        if event == "ADD":
            assert (last["old_memory"], last["new_memory"]) == (None, item["memory"])
        elif event == "UPDATE":
            assert (last["old_memory"], last["new_memory"]) == (item["previous_memory"], item["memory"])
        elif event == "DELETE":
            assert last["is_deleted"] and last["old_memory"] == item["memory"] and last["new_memory"] is None
    return result


def events(result) -> list[tuple]:
    return [(i["event"], i["memory"]) + ((i["previous_memory"],) if i["event"] == "UPDATE" else ())
            for i in result["results"]]


def active_texts(m, **scope) -> list[str]:
    return [r["memory"] for r in m.get_all(**scope)["results"]]
