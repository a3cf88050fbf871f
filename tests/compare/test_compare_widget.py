"""CompareModel logic in plain pytest, and the ipywidgets view driven like a user would."""

from __future__ import annotations

import pytest

from memlab import Memory
from memlab.compare import record_run
from memlab.errors import StoreError
from memlab.widgets import CompareModel, CompareWidget
from tests.compare.compare_data import HASH_CONFIG, QUERIES, records


@pytest.fixture
def pair():
    full = Memory(HASH_CONFIG)
    full.add_records(records())
    partial = Memory(HASH_CONFIG)
    partial.add_records(records()[1:])
    yield full, partial
    full.close()
    partial.close()


def test_model_pick_run_columns_answers(pair):
    model = CompareModel(*pair, queries=QUERIES, k=3, labels=("full", "partial"))
    assert model.summary_text().startswith("Type a query")
    model.choose("home")
    assert model.query_text == "Where does Alice live?" and model.scope == {"user_id": "alice"}
    model.run()
    assert model.error is None
    before_rows, after_rows = model.columns()
    assert before_rows[0]["memory"] == "Alice lives in Berlin." and before_rows[0]["status"] == "only"
    assert model.lost() == ["Alice lives in Berlin."]
    assert len(model.gained()) == 1
    assert {r["status"] for r in after_rows} <= {"only", "moved", "rescored", "same"}
    assert model.answer_panel() == {"no memory": "I don't know.", "full": "Alice lives in Berlin.",
                                    "partial": model.answers.rows[0]["answer_after"]}
    assert "overlap@3" in model.summary_text() and "1 lost" in model.summary_text()


def test_model_typed_query_and_errors(pair):
    full, _ = pair
    model = CompareModel(full, full, k=2, answers=False)
    model.set_query("Where does Bob live?", user_id="bob")
    model.run()
    assert model.comparison.identical and model.answer_panel() == {}
    assert [r["status"] for r in model.columns()[0]] == ["same", "same"]
    run = record_run(full, QUERIES, k=3)
    recorded = CompareModel(run, full, queries=QUERIES, k=3, answers=False)
    recorded.set_query("A question nobody recorded")
    recorded.run()
    assert recorded.comparison is None and "no results for query" in recorded.error
    assert recorded.summary_text().startswith("Error:")
    recorded.choose("pet")
    recorded.run()
    assert recorded.error is None and recorded.comparison.identical


AFTER_CONFIG = {"embedder": {"provider": "hash", "config": {"embedding_dims": 64}}}


def test_model_owns_config_sides():
    model = CompareModel(HASH_CONFIG, AFTER_CONFIG,
                         records=records(), queries=QUERIES, k=3)
    model.choose("pet")
    model.run()
    assert model.error is None
    # each column is exactly what a Memory built from that side's config returns for the query
    direct = []
    for config, rows in zip((HASH_CONFIG, AFTER_CONFIG), model.columns()):
        with Memory(config) as m:
            m.add_records(records())
            direct.append([w["memory"] for w in m.search("What pet does she have?", user_id="alice",
                                                          limit=3)["results"]])
        assert [r["memory"] for r in rows] == direct[-1]
    row = model.comparison.to_pandas().iloc[0]
    assert row["lost"] == [t for t in direct[0] if t not in direct[1]]
    assert row["overlap_at_k"] == len(set(direct[0]) & set(direct[1])) / 3
    memories = [side.memory for side in model._sides]
    assert all(side.owned for side in model._sides)
    model.close()
    for memory in memories:  # the model built both Memory objects, so close() closes them
        with pytest.raises(StoreError, match="closed"):
            memory.search("x", user_id="alice")


def test_widget_view(pair):
    view = CompareWidget(CompareModel(*pair, queries=QUERIES, k=3, labels=("full", "partial")))
    assert "Type a query" in view.status.value and view.columns.value == ""
    view.picker.value = "home"  # picking a dataset query runs it
    assert view.query_box.value == "Where does Alice live?" and view.user_box.value == "alice"
    assert "lost" in view.columns.value and "#f9d6d5" in view.columns.value  # the loss is highlighted
    assert "Berlin" in view.answer_panel.value
    view.query_box.value = "Where does Bob live?"
    view.user_box.value = "bob"
    view.run_button.click()
    assert view.model.selected is None and view.model.scope == {"user_id": "bob"}
    assert "Bob lives in Lisbon." in view.columns.value
    assert view.box.children[0] is view.picker


def _enter(box) -> None:
    """Press Enter in a text box: the front end sends this "submit" message (after the value)."""
    box._handle_custom_msg({"event": "submit"}, [])


def test_widget_enter_runs_tab_does_not_and_picker_never_stale(pair):
    view = CompareWidget(CompareModel(*pair, queries=QUERIES, k=3, labels=("full", "partial")))
    assert view.picker.value == "" and view.picker.label == "(type a query)"  # not a blank dropdown
    view.picker.value = "home"
    assert view.picker.label.startswith("home:")
    # typing and leaving the box (Tab) runs nothing: the user_id box may be next
    view.query_box.value = "What does Bob like to drink?"
    assert view.model.query_text == "Where does Alice live?" and "Alice lives in Berlin." in view.columns.value
    view.user_box.value = "bob"
    assert view.model.scope == {"user_id": "alice"}
    _enter(view.user_box)  # Enter in either box runs the query with both boxes' values
    assert view.model.query_text == "What does Bob like to drink?" and view.model.scope == {"user_id": "bob"}
    assert view.picker.value == "" and view.model.selected is None
    assert "Bob prefers tea over coffee." in view.columns.value and "Alice" not in view.columns.value
    view.user_box.value = ""
    _enter(view.query_box)
    assert "searched all users" in view.status.value


def test_widget_headers_key_empty_query_and_unknown_user(pair):
    view = CompareWidget(CompareModel(*pair, queries=QUERIES, k=3, labels=("full", "partial")))
    view.picker.value = "home"
    assert ">memory</th>" in view.columns.value and ">score</th>" in view.columns.value
    assert "only partial found it (gained)" in view.columns.value and "only full found it (lost)" in view.columns.value
    view.query_box.value = "   "
    _enter(view.query_box)
    assert "Type a question in the Query box" in view.status.value and view.columns.value == ""
    assert "must not be empty" not in view.status.value
    # an unknown user finds nothing on both sides: said plainly, never "overlap 1.00"
    view.query_box.value, view.user_box.value = "Where does she live?", "carol"
    _enter(view.user_box)
    status = view.status.value
    assert "No results on either side" in status and "&#x27;carol&#x27;" in status and "alice, bob" in status
    assert "overlap" not in status and "1.00" not in status and view.columns.value == ""


def test_widget_snapshot_follows_the_last_state(pair):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    published = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: published.append((data, kw))
    try:
        view = CompareWidget(CompareModel(*pair, queries=QUERIES, k=3, labels=("full", "partial")))
        view._ipython_display_()
        view.picker.value = "home"
    finally:
        del shell.display_pub.publish
    html_outputs = [(d, kw) for d, kw in published if "text/html" in d]
    first, last = html_outputs[0], html_outputs[-1]
    assert "Type a query" in first[0]["text/html"]
    assert last[1].get("update") and "Alice lives in Berlin." in last[0]["text/html"]  # updated in place
    assert view.snapshot.css_class in last[0]["text/html"]
    assert view.snapshot.hide_rule() in view.status.value  # the live widget hides its snapshot


def test_widget_shows_why_a_closed_memory_fails():
    full = Memory(HASH_CONFIG)
    full.add_records(records())
    view = CompareWidget(CompareModel(full, full, queries=QUERIES, k=3))
    full.close()
    view.picker.value = "home"
    assert "Error:" in view.status.value and "closed" in view.status.value


def test_snapshot_never_hides_itself():
    from memlab.widgets.snapshot import Snapshot

    snap = Snapshot("X")
    snap.update(snap.hide_rule() + "<p>state</p>")
    assert snap.hide_rule() not in snap.document() and "<p>state</p>" in snap.document()
    assert f"class='{snap.css_class} memlab-snapshot'" in snap.document()
