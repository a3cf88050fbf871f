"""Every notebook in JupyterLab in Chromium, run with Run > Run All Cells, and the three widgets
used with mouse and keyboard as a person would.

Each test opens its notebook in a fresh kernel, runs all cells through the menu, then asserts
that no cell holds an error output, that every widget rendered (no "Error displaying widget",
no raw ``VBox(...)`` text in place of a widget) and, for the widget notebooks, that the visible
numbers and tables change the way the inputs say they must. Screenshots land in reports/browser/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.lab import error_outputs, open_notebook, rendered_output_texts, run_all_cells

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


def test_config_migration_widget(page, lab, shots):
    run_clean(page, lab, shots, "02_config_migration.ipynb")
    w = page.locator(WIDGET_OUTPUT).last
    status = w.locator(".widget-html-content").first
    assert re.search(r"Migrated: \d+ change\(s\)", status.inner_text())  # built with the guide's flat config
    w.locator(".lm-TabBar-tab", has_text="Changes").click()
    assert "vector_store.provider" in w.locator(".widget-tab").inner_text()

    # paste a mem0 0.1.x config and press Migrate: the status, table and migrated config follow it
    w.locator(".widget-textarea textarea").fill(
        '{"embedder": {"provider": "huggingface", "config": {"model": "sentence-transformers/all-MiniLM-L6-v2"}},'
        ' "vector_store": {"provider": "faiss", "config": {"distance_strategy": "euclidean"}}, "telemetry": false}')
    w.get_by_role("button", name="Migrate").click()
    # only this config has "telemetry" (the status said "Migrated: ..." already, for the first one)
    expect_text(w.locator(".widget-tab"), "telemetry")
    assert re.search(r"Migrated: \d+ change\(s\)", status.inner_text())
    assert "distance_strategy" in w.locator(".widget-tab").inner_text()
    w.locator(".lm-TabBar-tab", has_text="Migrated config").click()
    assert '"minilm"' in w.locator(".widget-tab").inner_text()

    # the Save button sits next to its field, not at the far right
    field, button = w.locator(".widget-text input").last.bounding_box(), w.get_by_role("button", name="Save")
    assert button.bounding_box()["x"] - (field["x"] + field["width"]) < 200

    # a failed save shows red; the next migration (here: a broken one) clears it and hides the tabs
    w.locator(".widget-text input").last.fill("no/such/folder/cfg.json")
    button.click()
    save_status = w.locator(".widget-html-content").last
    expect_text(save_status, "does not exist")
    w.locator(".widget-textarea textarea").fill("{oops")
    w.get_by_role("button", name="Migrate").click()
    expect_text(status, "Error:")
    assert save_status.inner_text().strip() == ""
    assert not w.locator(".widget-tab").is_visible()
    w.locator(".widget-textarea textarea").fill('{"embedder": "openai", "vector_store": "qdrant", "llm": "openai"}')
    w.get_by_role("button", name="Migrate").click()
    expect_text(status, r"Migrated: \d+ change\(s\), 1 warning")
    assert w.locator(".widget-tab").is_visible()
    w.screenshot(path=str(shots / "02_config_migration_widget.png"))


def test_threshold_explorer(page, lab, shots):
    run_clean(page, lab, shots, "03_threshold_evaluation.ipynb")
    w = page.locator(WIDGET_OUTPUT).last
    threshold, k = w.locator(".widget-readout").nth(0), w.locator(".widget-readout").nth(1)
    metrics, table = w.locator(".widget-html-content").nth(0), w.locator(".widget-html-content").nth(1)
    # the notebook's next cell sets model.threshold = 0.5 in code: the slider followed it
    assert threshold.inner_text().strip() == "0.50"
    assert "and 0.50" in table.inner_text()
    recall_050 = _number(metrics.inner_text(), "recall")
    img = w.locator(".widget-image")
    assert img.evaluate("i => i.naturalWidth") >= 1.9 * img.bounding_box()["width"]  # drawn at 2x: crisp

    _type_readout(page, threshold, "0.30")
    expect_text(table, "between threshold 0.50 and 0.30")
    recall_030 = _number(metrics.inner_text(), "recall")
    assert recall_030 > recall_050  # a lower threshold keeps more relevant memories

    # drag the handle left: the readout, the metrics and the table move with it
    handle = w.locator(".noUi-handle").first
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 12, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    expect_text(table, r"between threshold 0\.30 and (0\.[0-2]\d|−|-)")
    dragged = float(threshold.inner_text().replace("\u2212", "-"))  # the readout writes a real minus sign
    assert dragged < 0.30 and _number(metrics.inner_text(), "recall") >= recall_030

    _type_readout(page, k, "3")
    expect_text(table, "k=3")
    w.locator(".widget-dropdown select").nth(1).select_option("finance")
    expect_text(metrics, "no answerable queries in category 'finance'")
    assert not re.search(r"\bnan\b", metrics.inner_text())
    w.screenshot(path=str(shots / "03_threshold_explorer.png"))


def test_compare_widget(page, lab, shots):
    run_clean(page, lab, shots, "04_before_after.ipynb")
    w = page.locator(WIDGET_OUTPUT).last
    picker = w.locator(".widget-dropdown select")
    status = w.locator(".widget-html-content").nth(0)
    columns = w.locator(".widget-html-content").nth(1)
    query = w.locator(".widget-text:has(label:text-is('Query')) input")
    user = w.locator(".widget-text:has(label:text-is('user_id')) input")
    # the notebook ran "music" before showing the widget: the dropdown shows that pick, not a blank
    assert picker.evaluate("s => s.options[s.selectedIndex].text").startswith("music:")
    assert "overlap@3" in status.inner_text()

    # the notebook's clean-up cell ran after the widget: picking must still work
    picker.select_option(label="home: Where does Alice live?")
    expect_text(columns, "Alice lives in Berlin.")  # (the status said "overlap@3" already, for "music")
    assert "overlap@3" in status.inner_text() and "Error" not in status.inner_text()
    assert query.input_value() == "Where does Alice live?" and user.input_value() == "alice"

    # type a query and a user_id, press Enter: it runs, and the dropdown no longer claims a pick
    query.fill("What does Bob like to drink?")
    user.fill("bob")
    user.press("Enter")
    expect_text(columns, "Bob prefers tea over coffee.")
    assert picker.evaluate("s => s.options[s.selectedIndex].text").replace("\xa0", " ") == "(type a query)"
    assert "Alice" not in columns.inner_text()

    # an empty user_id searches everyone, and the status says so; the Compare button runs too
    user.fill("")
    user.press("Enter")
    expect_text(status, "searched all users")
    query.fill("Which instrument does Alice play?")
    w.get_by_role("button", name="Compare").click()
    expect_text(columns, "cello")
    assert "Error" not in status.inner_text()
    # the text box is wide enough for the whole question
    assert query.evaluate("i => i.scrollWidth <= i.clientWidth")
    w.screenshot(path=str(shots / "04_compare_widget.png"))


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
