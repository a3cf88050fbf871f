"""Every notebook in JupyterLab in Chromium, run with Run > Run All Cells, and the three widgets
used with mouse and keyboard as a person would.

Each test opens its notebook in a fresh kernel, runs all cells through the menu, then asserts
that no cell holds an error output, that every widget rendered (no "Error displaying widget",
no raw ``VBox(...)`` text in place of a widget) and, for the widget notebooks, that the visible
numbers and tables change the way the inputs say they must. Screenshots land in reports/browser/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.browser.lab import (error_outputs, open_notebook, reopen_without_widgets, rendered_output_texts,
                               run_all_cells, save_notebook)

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
WIDGET_NOTEBOOKS = {"02_config_migration.ipynb", "03_threshold_evaluation.ipynb", "04_before_after.ipynb",
                    "09_bench.ipynb"}
# a rendered widget view is an output whose child is the widget's own DOM (.jupyter-widgets)
WIDGET_OUTPUT = ".jp-OutputArea-output:has(> .jupyter-widgets)"


def run_clean(page, lab, shots: Path, name: str) -> None:
    """Open, Run All Cells, and check what a person would see: no errors, every widget drawn."""
    open_notebook(page, lab, name)
    run_all_cells(page)
    assert error_outputs(page) == [], f"{name}: cells ended in errors"
    texts = rendered_output_texts(page)
    broken = [t[:200] for t in texts if "Error displaying widget" in t or "Traceback (most recent call last)" in t
              or re.match(r"\s*(VBox|HBox|Tab|Output)\(", t)]
    assert broken == [], f"{name}: outputs a person would read as broken"
    if name in WIDGET_NOTEBOOKS:
        assert page.locator(WIDGET_OUTPUT).count() >= 1, f"{name}: its widget did not render"
    page.screenshot(path=str(shots / f"{Path(name).stem}.png"))


@pytest.mark.parametrize("name", [n for n in NOTEBOOKS if n not in WIDGET_NOTEBOOKS])
def test_notebook_runs_clean(page, lab, shots, name):
    run_clean(page, lab, shots, name)


def _html(widget, i: int) -> str:
    return widget.locator(".widget-html-content").nth(i).inner_text()


def _number(text: str, label: str) -> float:
    match = re.search(rf"{label} (\d+\.\d+)", text)
    assert match, f"no {label} in {text!r}"
    return float(match.group(1))


def _type_readout(page, readout, value: str) -> None:
    """Click a slider's readout, replace its text and press Enter (the readout is editable)."""
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def _snapshot_after_reopen(page, lab, shots, name: str, expected: list, widget=None, shot: str = "") -> None:
    """Save, shut the kernel down, reopen: each widget's static snapshot shows its last state."""
    live = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .memlab-snapshot").last
    expect(live).to_be_hidden()  # while the widget is live, its snapshot is not shown twice
    for pattern in expected:  # the snapshot follows the widget (its update comes after the redraw)
        expect(live).to_contain_text(re.compile(pattern), timeout=20_000)
    if widget is not None:  # what a person sees once the redraw is done
        widget.screenshot(path=str(shots / shot))
    save_notebook(page)
    reopen_without_widgets(page, lab, name)
    snap = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .memlab-snapshot")
    expect(snap.last).to_be_visible(timeout=20_000)
    text = snap.last.inner_text()
    for pattern in expected:
        assert re.search(pattern, text), f"{name}: the snapshot lacks {pattern!r}: {text[:400]!r}"
    snap.last.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / f"{Path(name).stem}_reopened.png"), full_page=False)
    snap.last.screenshot(path=str(shots / f"{Path(name).stem}_snapshot.png"))
    # the dead widget's "model not found" line is hidden next to its snapshot (a trusted, saved notebook)
    dead = page.locator(".jp-OutputArea-child:has(+ .jp-OutputArea-child .memlab-snapshot) > .jupyter-widgets")
    assert dead.count() >= 1 and "model not found" in dead.last.text_content() and not dead.last.is_visible()


def test_config_migration_widget(page, lab, shots):
    run_clean(page, lab, shots, "02_config_migration.ipynb")
    w = page.locator(WIDGET_OUTPUT).last
    status, save_status = w.locator(".memlab-status"), w.locator(".memlab-save-status")
    textarea, save_as = w.locator(".memlab-input textarea"), w.locator(".memlab-save-path input")
    assert re.search(r"Migrated: \d+ change\(s\)", status.inner_text())  # built with the guide's flat config
    w.locator(".lm-TabBar-tab", has_text="Changes").click()
    assert "vector_store.provider" in w.locator(".widget-tab").inner_text()
    # the Diff tab shows what changed, coloured, not every default
    w.locator(".lm-TabBar-tab", has_text="Diff").click()
    diff = w.locator(".widget-tab").inner_text()
    assert "embedding_model_dims" in diff and "bm25_k1" not in diff
    assert w.locator(".widget-tab div[style*='background:#e6ffec']").count() >= 3

    # paste a mem0 0.1.x config and press Save without Migrate: the file holds the PASTED config
    textarea.fill('{"embedder": {"provider": "huggingface", "config": {"model": '
                  '"sentence-transformers/all-MiniLM-L6-v2"}}, "telemetry": false}')
    expect_text(status, "text changed since the last migration")
    save_as.fill("pasted.json")
    w.get_by_role("button", name="Save").click()
    expect_text(save_status, r"Saved JSON \(\d+ lines\) to .*pasted\.json")
    assert str(lab.root / "pasted.json") in save_status.inner_text()  # the full path
    saved = json.loads((lab.root / "pasted.json").read_text())
    assert saved["embedder"]["provider"] == "minilm" and "qdrant" not in json.dumps(saved)
    expect_text(status, r"Migrated: \d+ change\(s\)")  # and the screen now shows that migration
    w.locator(".lm-TabBar-tab", has_text="Changes").click()
    assert "telemetry" in w.locator(".widget-tab").inner_text()

    # YAML gets a .yaml name, and Enter in the Save-as box saves
    w.locator(".widget-dropdown select").select_option("yaml")
    expect(save_as).to_have_value("pasted.yaml")
    save_as.press("Enter")
    expect_text(save_status, r"Saved YAML .*pasted\.yaml")
    assert "provider: minilm" in (lab.root / "pasted.yaml").read_text()

    # the Save button sits next to its field, not at the far right
    field, button = save_as.bounding_box(), w.get_by_role("button", name="Save")
    assert button.bounding_box()["x"] - (field["x"] + field["width"]) < 200

    # a failed save shows red; bad JSON says where, on its own lines, without parser jargon
    save_as.fill("no/such/folder/cfg.yaml")
    button.click()
    expect_text(save_status, "does not exist")
    textarea.fill("{oops")
    w.get_by_role("button", name="Migrate").click()
    expect_text(status, "Error: The config is not valid JSON")
    assert "line 1, column 2" in status.inner_text() and "unicode string" not in status.inner_text()
    assert "\n" in status.inner_text()  # the caret line is not flattened
    assert save_status.inner_text().strip() == "" and not w.locator(".widget-tab").is_visible()
    textarea.fill('{"embedder": "openai", "vector_store": "qdrant", "llm": "openai"}')
    w.get_by_role("button", name="Migrate").click()
    expect_text(status, r"Migrated: \d+ change\(s\), 1 warning")
    expect(w.locator(".widget-tab").first).to_be_visible()
    _snapshot_after_reopen(page, lab, shots, "02_config_migration.ipynb", [r"Migrated: 6 change\(s\), 1 warning"],
                           widget=w, shot="02_config_migration_widget.png")


def test_threshold_explorer(page, lab, shots):
    run_clean(page, lab, shots, "03_threshold_evaluation.ipynb")
    w = page.locator(WIDGET_OUTPUT).last
    threshold, k = w.locator(".widget-readout").nth(0), w.locator(".widget-readout").nth(1)
    metrics, table = w.locator(".memlab-metrics"), w.locator(".memlab-changes-panel")
    handle = w.locator(".memlab-threshold .noUi-handle").first
    # the notebook's next cell sets model.threshold = 0.25 in code: the slider followed it
    assert threshold.inner_text().strip() == "0.25"
    assert "and 0.25" in table.inner_text()
    # a 0-1 slider in steps of 0.01
    assert float(handle.get_attribute("aria-valuemin")) == 0 and float(handle.get_attribute("aria-valuemax")) == 1
    recall_025 = _number(metrics.inner_text(), "recall")
    assert "expected precision at 0.25" in metrics.inner_text()
    img = w.locator(".widget-image")
    assert img.evaluate("i => i.naturalWidth") >= 1.9 * img.bounding_box()["width"]  # drawn at 2x: crisp

    _type_readout(page, threshold, "0.10")
    expect_text(table, "between threshold 0.25 and 0.10")
    recall_010 = _number(metrics.inner_text(), "recall")
    assert recall_010 > recall_025  # a lower threshold keeps more relevant memories
    assert "<th>scope</th>" in table.inner_html() and "['" not in table.inner_text()
    # at 1024 px the question column still reads as text, not one word per line
    page.set_viewport_size({"width": 1024, "height": 1000})
    cell = table.locator("td.text").first
    words = len(cell.inner_text().split())  # the height of the text itself (a cell is as tall as its row)
    height = cell.evaluate("c => { const r = document.createRange(); r.selectNodeContents(c); "
                           "return r.getBoundingClientRect().height; }")
    line = cell.evaluate("c => parseFloat(getComputedStyle(c).lineHeight) || 18")
    table.screenshot(path=str(shots / "03_changes_table_1024.png"))
    assert height <= max(3, words / 3) * line + 8, (words, height, line)
    page.set_viewport_size({"width": 1400, "height": 1000})

    # drag the handle left: the readout, the metrics and the table move with it; the scale stays 0-1
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 12, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    expect_text(table, r"between threshold 0\.10 and 0\.0\d")
    dragged = float(threshold.inner_text())
    assert dragged < 0.10 and _number(metrics.inner_text(), "recall") >= recall_010
    assert float(handle.get_attribute("aria-valuemax")) == 1

    # apply the recommended threshold
    apply = w.locator("button", has_text="Apply recommended")
    recommended = re.search(r"\((\d\.\d\d)\)", apply.inner_text()).group(1)
    apply.click()
    expect(threshold).to_have_text(recommended)
    expect(apply).to_be_disabled()

    # export the chart as PNG
    w.get_by_role("button", name="Export PNG").click()
    status = w.locator(".memlab-export-status")
    expect_text(status, r"Saved .*\.png")
    path = Path(re.search(r"Saved (\S+\.png)", status.inner_text()).group(1))
    assert path.parent == lab.root and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # bm25 keeps its own threshold on the same calibrated 0-1 scale; back on minilm the old one returns
    # (minilm's moved off the recommended one first: both methods' recommendations may round alike)
    _type_readout(page, threshold, "0.55")
    expect(threshold).to_have_text("0.55")
    kept = threshold.inner_text()
    w.locator(".widget-dropdown select").nth(0).select_option("bm25")
    expect(threshold).not_to_have_text(kept)
    assert 0 <= float(threshold.inner_text()) <= 1 and float(handle.get_attribute("aria-valuemax")) == 1
    w.locator(".widget-dropdown select").nth(0).select_option("minilm")
    expect(threshold).to_have_text(kept)

    _type_readout(page, k, "3")
    expect_text(table, "k=3|Move the threshold")
    w.locator(".widget-dropdown select").nth(1).select_option("finance")
    expect_text(metrics, "no answerable queries in category 'finance'")
    assert "no recommendation here" in metrics.inner_text() and not re.search(r"\bnan\b", metrics.inner_text())
    expect(apply).to_be_disabled()
    _snapshot_after_reopen(page, lab, shots, "03_threshold_evaluation.ipynb",
                           [r"category finance", r"k=3", r"no answerable queries"], widget=w,
                           shot="03_threshold_explorer.png")


def test_compare_widget(page, lab, shots):
    run_clean(page, lab, shots, "04_before_after.ipynb")
    w = page.locator(WIDGET_OUTPUT).last
    picker = w.locator(".widget-dropdown select")
    status, columns = w.locator(".memlab-status"), w.locator(".memlab-columns")
    query = w.locator(".widget-text:has(label:text-is('Query')) input")
    user = w.locator(".widget-text:has(label:text-is('user_id')) input")
    # the notebook ran "music" before showing the widget: the dropdown shows that pick, not a blank
    assert picker.evaluate("s => s.options[s.selectedIndex].text").startswith("music:")
    assert "overlap@3" in status.inner_text()
    # column headers and a colour key
    text = columns.inner_text()
    assert "memory" in text and "score" in text and "gained" in text and "lost" in text
    assert "found by both, at another rank" in text

    # the notebook's clean-up cell ran after the widget: picking must still work
    picker.select_option(label="home: Where does Alice live?")
    expect_text(columns, "Alice lives in Berlin.")
    assert "overlap@3" in status.inner_text() and "Error" not in status.inner_text()
    # the text boxes follow the pick (the browser may render the columns first: wait for them)
    expect(query).to_have_value("Where does Alice live?")
    expect(user).to_have_value("alice")

    # type a query, Tab to the user box: nothing runs against the previous user
    query.fill("What does Bob like to drink?")
    query.press("Tab")
    page.wait_for_timeout(1500)
    assert "Alice lives in Berlin." in columns.inner_text() and "Bob prefers" not in columns.inner_text()
    user.fill("bob")
    user.press("Enter")
    expect_text(columns, "Bob prefers tea over coffee.")
    assert picker.evaluate("s => s.options[s.selectedIndex].text").replace("\xa0", " ") == "(type a query)"
    assert "Alice" not in columns.inner_text()
    answers = w.locator(".memlab-answers").inner_text()
    assert "Bob prefers tea over coffee." in answers  # a readable sentence, not keyword salad

    # an unknown user: said plainly, not "overlap 1.00"
    user.fill("carol")
    user.press("Enter")
    expect_text(status, "No results on either side: no memories for user_id 'carol'")
    assert "1.00" not in status.inner_text() and columns.inner_text().strip() == ""
    # an empty query says what to do
    query.fill("")
    query.press("Enter")
    expect_text(status, "Type a question in the Query box")

    # an empty user_id searches everyone, and the status says so; the Compare button runs too
    user.fill("")
    query.fill("What does Bob like to drink?")
    query.press("Enter")
    expect_text(status, "searched all users")
    query.fill("Which instrument does Alice play?")
    w.get_by_role("button", name="Compare").click()
    expect_text(columns, "cello")
    assert "Error" not in status.inner_text()
    # the text box is wide enough for the whole question
    assert query.evaluate("i => i.scrollWidth <= i.clientWidth")
    _snapshot_after_reopen(page, lab, shots, "04_before_after.ipynb",
                           [r"Which instrument does Alice play\?", r"cello"], widget=w, shot="04_compare_widget.png")


def expect(locator):
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def test_bench_widget(page, lab, shots):
    run_clean(page, lab, shots, "09_bench.ipynb")
    w = page.locator(WIDGET_OUTPUT).last
    category = w.locator(".widget-dropdown:has(label:text-is('Category')) select")
    picker = w.locator(".widget-dropdown:has(label:text-is('Question')) select")
    only = w.locator(".widget-checkbox input[type=checkbox]")
    status = w.locator(".widget-html-content").nth(0)
    view = w.locator(".widget-html-content").nth(1)
    # the notebook ticked "Only disagreements": fewer than all 20 questions, each with a hit and a miss
    shown = int(re.search(r"(\d+) question", status.inner_text()).group(1))
    assert 0 < shown < 20 and only.is_checked()
    assert "(hit @3)" in view.inner_text() and "(miss @3)" in view.inner_text()

    only.click()  # untick: every question again
    expect_text(status, r"^20 question")
    category.select_option(label="5")  # the adversarial questions: nothing to find
    expect_text(status, r"^2 question")
    expect_text(view, "none \\(unanswerable\\)")
    first = picker.input_value()
    w.get_by_role("button", name="Next ▶").click()
    expect_text(view, "What is the name of Marco")
    assert picker.input_value() != first
    category.select_option(label="4")
    picker.select_option(label="sample-1:q2: What is the name of Tom's dog?")
    expect_text(view, "Pixel")
    assert view.locator("li.evidence").count() >= 1  # the evidence turn is marked in some column
    w.screenshot(path=str(shots / "09_bench_widget.png"))


def expect_text(locator, pattern: str, timeout_ms: int = 20_000) -> None:
    """Wait until the element's text matches ``pattern`` (the kernel answers asynchronously)."""
    from playwright.sync_api import expect

    expect(locator).to_have_text(re.compile(pattern, re.S), timeout=timeout_ms)
