"""Plots return real Figures; the ThresholdExplorer model works without a browser; the view follows it."""

from __future__ import annotations

import re

import pytest
from matplotlib.figure import Figure

from memlab.errors import ValidationError
from memlab.evaluate import plots
from memlab.evaluate.metrics import aggregate, aggregate_by, evaluate_run
from memlab.evaluate.sweep import recommend_threshold, sweep_thresholds
from memlab.widgets.threshold_explorer import ThresholdExplorer, ThresholdExplorerModel


@pytest.fixture(scope="module")
def model(bundled, bundled_minilm_run):
    from memlab.evaluate.retrieval import bm25_retrieve

    return ThresholdExplorerModel(bundled, {"minilm": bundled_minilm_run, "bm25": bm25_retrieve(bundled, depth=20)},
                                  threshold=0.3, k=5)


def test_plots_are_figures_with_content(tmp_path, bundled, bundled_minilm_run):
    run = bundled_minilm_run
    sweep = sweep_thresholds(run, bundled.qrels, bundled.queries, k=5)
    rec = recommend_threshold(sweep)
    fig = plots.pr_curve({"minilm": sweep}, rec)
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 1 and fig.axes[0].get_xlabel() == "recall"
    fig = plots.metrics_vs_threshold(sweep, rec)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "precision" in labels and any(lbl.startswith("recommended") for lbl in labels)
    fig = plots.score_distributions(run, bundled.qrels, bundled.queries, k=5, threshold=rec.threshold)
    assert len(fig.axes[0].patches) > 0 and "relevant" in fig.axes[0].get_legend().get_texts()[0].get_text()
    by = aggregate_by(evaluate_run(run, bundled.qrels, bundled.queries, k=5), "category")
    fig = plots.category_bars(by)
    assert len(fig.axes[0].patches) == 4 * len(by)
    fig.savefig(tmp_path / "bars.png")
    assert (tmp_path / "bars.png").stat().st_size > 5000
    with pytest.raises(ValidationError):
        plots.metrics_vs_threshold(sweep, metrics=["nope"])


def test_model_metrics_follow_threshold_and_k(model, bundled, bundled_minilm_run):
    model.embedder, model.category, model.k, model.threshold = "minilm", "all", 5, 0.0
    low = model.metrics()
    model.threshold = 0.6
    high = model.metrics()
    assert high["recall"] < low["recall"] and high["empty_rate_unanswerable"] >= low["empty_rate_unanswerable"]
    expected = aggregate(evaluate_run(bundled_minilm_run, bundled.qrels, bundled.queries, k=5, threshold=0.6))
    assert high["recall"] == pytest.approx(expected["recall"])
    model.k = 1
    assert model.metrics()["mean_results"] <= 1.0


def test_model_changes_table(model):
    model.embedder, model.category, model.k = "minilm", "all", 5
    model.threshold = 0.2
    model.threshold = 0.45
    ch = model.changes()
    assert model.previous_threshold == 0.2 and len(ch) > 0
    assert (ch["n_after"] <= ch["n_before"]).all() and ch["gained"].map(len).eq(0).all()
    assert ch["relevant_lost"].sum() > 0  # raising the threshold costs some relevant memories
    assert model.changes(baseline=0.45).empty
    back = model.changes(baseline=0.9)  # relative to a stricter baseline, queries gain results
    assert (back["n_after"] >= back["n_before"]).all()


def test_model_category_embedder_and_validation(model, bundled):
    model.category = "pets"
    pq = model.per_query()
    assert set(pq["query_id"]) == set(bundled.queries.loc[bundled.queries["category"] == "pets", "id"])
    model.embedder = "bm25"
    assert model.sweep()["threshold"].max() == 1.0  # every run: the calibrated score, one grid over [0, 1]
    assert isinstance(model.figure(), Figure)
    for attr, value in (("embedder", "nope"), ("category", "nope"), ("k", 0), ("threshold", "x")):
        with pytest.raises(ValidationError):
            setattr(model, attr, value)
    model.embedder, model.category = "minilm", "all"


def test_view_drives_the_model(model):
    view = ThresholdExplorer(model)
    view.k.value = 3
    assert model.k == 3
    view.threshold.value = 0.5
    assert model.threshold == pytest.approx(0.5)
    assert "recall" in view.metrics_html.value and "recommended" in view.metrics_html.value
    assert bytes(view.plot.value[:8]) == b"\x89PNG\r\n\x1a\n"
    view.category.value = "home"
    assert model.category == "home"
    view.embedder.value = "bm25"
    assert model.embedder == "bm25"
    model.embedder, model.category = "minilm", "all"


def test_model_from_dataset_retrieves_once_per_embedder(bundled):
    from memlab.embedders import create_embedder

    small = bundled.subset(scopes=["dara"])
    m = ThresholdExplorerModel.from_dataset(small, [create_embedder("hash", {"embedding_dims": 64}), "hash"],
                                            depth=5, threshold=0.1, k=3)
    assert len(m.embedders) == 2 and all(len(r) for r in m.runs.values())
    assert m.metrics()["n_queries"] == len(small.queries)
    with pytest.raises(ValidationError, match="at least one run"):
        ThresholdExplorerModel(small, {})


def test_plots_read_well(bundled, bundled_minilm_run):
    """Legends outside the data, empty categories labelled, a 2x PNG shown at 1x in notebooks."""
    sweep = sweep_thresholds(bundled_minilm_run, bundled.qrels, bundled.queries, k=5)
    fig = plots.metrics_vs_threshold(sweep, recommend_threshold(sweep))
    fig.canvas.draw()
    ax = fig.axes[0]
    legend_box, axes_box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend_box.x0 >= axes_box.x1  # right of the plot area: it cannot cover a curve
    by = aggregate_by(evaluate_run(bundled_minilm_run, bundled.qrels, bundled.queries, k=5), "category")
    empty = by.index[by[["recall", "precision", "hit", "ndcg"]].isna().all(axis=1)].tolist()
    assert empty, "the bundled dataset has a category without answerable queries"
    fig = plots.category_bars(by)
    notes = [t for t in fig.axes[0].texts if "no answerable" in t.get_text()]
    assert len(notes) == len(empty)
    data, meta = fig._repr_mimebundle_()
    png = data["image/png"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert meta["image/png"]["width"] == width // 2 and width >= 2 * 0.9 * fig.get_figwidth() * fig.dpi


def test_view_follows_code_and_keeps_table_current(model, bundled):
    model.embedder, model.category, model.k, model.threshold = "minilm", "all", 5, 0.05
    view = ThresholdExplorer(model)
    model.threshold = 0.2  # set in code (a later cell): the slider moves and the table follows
    assert view.threshold.value == pytest.approx(0.2)
    assert "between threshold 0.05 and 0.20" in view.table.value
    n_all = len(model.changes())
    view.category.value = "home"  # a new category redraws the table for that category only
    text = view.table.value
    assert "category home" in text and f"{len(model.changes())} queries changed" in text
    assert len(model.changes()) < n_all
    model.k = 2
    assert view.k.value == 2 and "k=2" in view.table.value
    empty = [c for c in model.categories[1:]
             if not bundled.queries.loc[bundled.queries["category"] == c, "answerable"].astype(bool).any()]
    view.category.value = empty[0]
    assert "no answerable queries" in view.metrics_html.value
    assert not re.search(r"\bnan\b", view.metrics_html.value)  # ("finance" itself contains "nan")
    assert view.plot.layout.width.endswith("px")
    model.embedder, model.category, model.k = "minilm", "all", 5


@pytest.fixture(scope="module")
def fast_runs(bundled):
    """Hash embedder (scores in [-1, 1]) and raw BM25 (unbounded): two scales, no model to load."""
    from memlab.evaluate.retrieval import bm25_retrieve, build_memory, dense_retrieve

    with build_memory(bundled, "hash") as memory:
        hashed = dense_retrieve(bundled, memory, depth=20)
    return {"hash": hashed, "bm25": bm25_retrieve(bundled, depth=20)}


@pytest.fixture
def fast_model(bundled, fast_runs):
    return ThresholdExplorerModel(bundled, fast_runs, k=5)


def test_slider_is_0_to_1_in_steps_of_001_and_the_axis_never_rescales(fast_model):
    view = ThresholdExplorer(fast_model)
    assert (view.threshold.min, view.threshold.max, view.threshold.step) == (0.0, 1.0, 0.01)
    assert view.threshold.readout_format == ".2f"
    limits = set()
    for t in (0.0, 0.05, 0.3, 0.77, 1.0):
        view.threshold.value = t
        limits.add(fast_model.figure().axes[0].get_xlim())
    assert limits == {(0.0, 1.0)}  # fixed while dragging
    assert (view.threshold.min, view.threshold.max) == (0.0, 1.0)


def test_each_embedder_keeps_its_own_threshold(fast_model):
    start = fast_model.threshold
    assert start == pytest.approx(fast_model.recommendation().threshold)  # default: the recommended one
    view = ThresholdExplorer(fast_model)
    view.threshold.value = 0.4
    view.embedder.value = "bm25"  # its own (recommended) threshold, on the same calibrated [0, 1] scale
    bm25_t = fast_model.threshold
    assert 0.0 <= bm25_t <= 1.0 and bm25_t == pytest.approx(fast_model.recommendation().threshold)
    assert view.threshold.value == pytest.approx(bm25_t) and (view.threshold.min, view.threshold.max) == (0.0, 1.0)
    assert fast_model.figure().axes[0].get_xlim() == fast_model.domain()
    assert "Move the threshold" in view.table.value  # switching embedder changed no threshold
    view.embedder.value = "hash"
    assert fast_model.threshold == pytest.approx(0.4) and view.threshold.value == pytest.approx(0.4)
    assert (view.threshold.min, view.threshold.max) == (0.0, 1.0)


def test_no_recommendation_where_nothing_is_answerable(fast_model, bundled):
    empty = [c for c in fast_model.categories[1:]
             if not bundled.queries.loc[bundled.queries["category"] == c, "answerable"].astype(bool).any()]
    view = ThresholdExplorer(fast_model)
    view.category.value = empty[0]
    assert fast_model.recommendation() is None and view.apply_button.disabled
    labels = [t.get_text() for t in fast_model.figure().axes[0].get_legend().get_texts()]
    assert not any("recommended" in label for label in labels)  # the legend matches "no recommendation"
    assert "precision" not in labels and "current" in " ".join(labels)  # no legend entry without a line
    assert "no recommendation here" in view.metrics_html.value
    with pytest.raises(ValidationError, match="no recommendation"):
        fast_model.apply_recommended()


def test_apply_recommended_expected_precision_and_export(fast_model, tmp_path, monkeypatch):
    view = ThresholdExplorer(fast_model)
    view.threshold.value = 0.9
    rec = fast_model.recommendation()
    assert not view.apply_button.disabled and f"({rec.threshold:.2f})" in view.apply_button.description
    view.apply_button.click()
    assert fast_model.threshold == pytest.approx(rec.threshold) and view.threshold.value == pytest.approx(rec.threshold)
    assert view.apply_button.disabled  # already there
    # the expected precision at the chosen threshold is the recommendation's measured precision
    assert fast_model.expected_precision() == pytest.approx(rec.metrics["precision"])
    assert f"expected precision at {rec.threshold:.2f}: {rec.metrics['precision']:.3f}" in view.metrics_html.value
    monkeypatch.chdir(tmp_path)
    view.export_button.click()
    files = list(tmp_path.glob("*.png"))
    assert len(files) == 1 and files[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(files[0]) in view.export_status.value and "download=" in view.export_status.value
    assert fast_model.export_png(tmp_path / "chart.png") == (tmp_path / "chart.png").resolve()


def test_changes_table_reads_well(fast_model):
    view = ThresholdExplorer(fast_model)
    view.threshold.value = 0.6
    ch = fast_model.changes()
    assert "scope" in ch.columns and set(ch["scope"]) <= set(fast_model.dataset.queries["scope"])
    html = view.table.value
    assert "<th>scope</th>" in html and "<th>question</th>" in html
    assert "['" not in html and "<li class='lost'>" in html  # memory texts as a list, not a Python repr
    assert "word-break: normal" in html


def test_explorer_snapshot_is_its_last_state(fast_model):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    published = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: published.append((data, kw))
    try:
        view = ThresholdExplorer(fast_model)
        view._ipython_display_()
        view.threshold.value = 0.42
    finally:
        del shell.display_pub.publish
    snaps = [d["text/html"] for d, kw in published if "text/html" in d and view.snapshot.css_class in d["text/html"]]
    assert "threshold <b>0.42</b>" in snaps[-1] and "data:image/png;base64," in snaps[-1]
    assert "between threshold" in snaps[-1]
