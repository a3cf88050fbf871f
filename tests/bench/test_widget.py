"""The inspection widget: filters, disagreement, the side-by-side columns, and its ipywidgets view."""

from __future__ import annotations

import pytest

from memlab.bench import Benchmark
from memlab.errors import ValidationError
from memlab.widgets.bench_widget import BenchModel, bench_widget


@pytest.fixture(scope="module")
def result(sample_path, tmp_path_factory):
    bench = Benchmark(sample_path, ["bm25", "memlab:embedder=hash,mode=dense,label=hash-dense"], ks=(1, 5),
                      out=tmp_path_factory.mktemp("w"), n_boot=50, n_perm=100, progress=False)
    return bench.run(only="answers")


def test_model_filters_by_category_and_disagreement(result):
    m = BenchModel(result, k=1)
    assert m.systems == ["bm25", "hash-dense"] and len(m.visible) == 20
    assert m.categories == ["all", "1", "2", "3", "4", "5"]
    m.set_filter(category="2")
    assert m.visible == ["sample-1:q4", "sample-2:q4"]
    m.set_filter(category="all", only_disagreements=True)
    for qid in m.visible:
        hits = {m.hit(r) for r in m.by_question[qid].values()}
        assert hits == {True, False}  # one system found evidence at k=1, the other did not
    assert 0 < len(m.visible) < 18
    with pytest.raises(ValidationError, match="unknown category"):
        m.set_filter(category="9")


def test_question_html_marks_evidence_and_shows_answers(result, tmp_path):
    m = BenchModel(result, k=5)
    m.choose("sample-1:q2")
    page = m.question_html()
    assert "What is the name of Tom&#x27;s dog?" in page and "reference answer: <i>Pixel</i>" in page
    assert page.count("class='memlab-bench-system'") == 2
    assert "class='evidence'" in page and "✓" in page and "<b>Answer:</b>" in page
    m.step(1)
    assert m.selected == "sample-1:q3"
    m.step(-2)
    assert m.selected == "sample-1:q1"


def test_widget_view_follows_its_controls(result):
    pytest.importorskip("ipywidgets")
    w = bench_widget(result, k=1)
    assert len(w.picker.options) == 20 and w.picker.value == "sample-1:q0"
    w.disagree.value = True
    assert len(w.picker.options) == len(w.model.visible) < 20
    first = w.picker.value
    w.next_button.click()
    assert w.picker.value != first and w.picker.value in w.model.visible
    w.category.value = "5"
    assert [v for _, v in w.picker.options] == [] or all(w.model.disagree(q) for q in w.model.visible)
    w.disagree.value = False
    assert [v for _, v in w.picker.options] == ["sample-1:q9", "sample-2:q9"]
    assert "unanswerable" in w.view.value


def test_run_folder_and_errors(result, tmp_path):
    result.write(tmp_path / "run")
    folder = BenchModel(tmp_path / "run", k=5)
    assert folder.systems == ["bm25", "hash-dense"] and folder.visible == BenchModel(result, k=5).visible
    with pytest.raises(ValidationError, match="not a benchmark run folder"):
        BenchModel(tmp_path)
    with pytest.raises(ValidationError, match="k must be"):
        BenchModel(result, k=0)
