"""``BenchWidget``: inspect a benchmark question by question, systems side by side.

:class:`BenchModel` holds the state and does the work (plain Python, testable without a browser):
which questions pass the filters (category; only questions the systems disagree on), which one is
shown, and the HTML of its columns: each system's top ``k`` memories with the evidence marked,
its answer and the judge's verdicts. :class:`BenchWidget` is a thin ipywidgets view over it.

"Disagree" means: at the cut-off ``k``, some system retrieved evidence (hit@k = 1) and another did
not, or the judge's majority verdicts differ between systems.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Optional, Union

from memlab.errors import ValidationError

ALL = "all"


def _load(result: Any) -> list[dict]:
    if hasattr(result, "records"):
        return list(result.records)
    path = Path(result)
    path = path / "per_question.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise ValidationError(f"{path} is not a benchmark run folder (no per_question.jsonl); run memlab bench first.")
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class BenchModel:
    """Per-question view of a run: a :class:`~memlab.bench.report.BenchResult` or a run folder."""

    def __init__(self, result: Union[Any, str, Path], *, k: int = 5, questions: Optional[dict] = None):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValidationError(f"k must be a positive integer, got {k!r}.")
        records = _load(result)
        if not records:
            raise ValidationError("the run has no per-question records yet (has its search stage run?).")
        self.k = k
        self.systems = list(dict.fromkeys(r["system"] for r in records))
        self.by_question: dict[str, dict[str, dict]] = {}
        for r in records:
            self.by_question.setdefault(r["question_id"], {})[r["system"]] = r
        self.texts = {r["question_id"]: r["question"] for r in records if r.get("question")}
        self.texts.update(questions or {})
        self.category = ALL
        self.only_disagreements = False
        self.selected: Optional[str] = None
        self._refilter()

    # ------------------------------------------------------------------ filters
    @property
    def categories(self) -> list[str]:
        return [ALL] + sorted({str(r["category"]) for q in self.by_question.values() for r in q.values()})

    def hit(self, record: dict) -> bool:
        return any(h.get("relevant") for h in record.get("hits", [])[: self.k])

    def disagree(self, qid: str) -> bool:
        rows = self.by_question[qid]
        answerable = any(r.get("answerable") for r in rows.values())
        hits = {self.hit(r) for r in rows.values()} if answerable else set()
        verdicts = {sum(r["judge"]) * 2 > len(r["judge"]) for r in rows.values() if r.get("judge")}
        return len(hits) > 1 or len(verdicts) > 1

    def _refilter(self) -> None:
        self.visible = [q for q, rows in self.by_question.items()
                        if (self.category == ALL or any(str(r["category"]) == self.category for r in rows.values()))
                        and (not self.only_disagreements or self.disagree(q))]
        if self.selected not in self.visible:
            self.selected = self.visible[0] if self.visible else None

    def set_filter(self, *, category: Optional[str] = None, only_disagreements: Optional[bool] = None) -> None:
        if category is not None:
            if category not in self.categories:
                raise ValidationError(f"unknown category {category!r}; choose from {self.categories}.")
            self.category = category
        if only_disagreements is not None:
            self.only_disagreements = bool(only_disagreements)
        self._refilter()

    def choose(self, qid: str) -> None:
        if qid not in self.visible:
            raise ValidationError(f"question {qid!r} is not among the {len(self.visible)} shown by the filters.")
        self.selected = qid

    def step(self, delta: int) -> None:
        if self.visible:
            i = self.visible.index(self.selected) if self.selected in self.visible else 0
            self.selected = self.visible[(i + delta) % len(self.visible)]

    # ------------------------------------------------------------------ rendering
    def label(self, qid: str) -> str:
        text = self.texts.get(qid)
        return f"{qid}: {text}" if text else qid

    def question_html(self) -> str:
        if self.selected is None:
            return "<p><i>No question matches the filters.</i></p>"
        rows = self.by_question[self.selected]
        any_row = next(iter(rows.values()))
        evidence = ", ".join(any_row.get("evidence") or []) or "none (unanswerable)"
        ref = f" · reference answer: <i>{html.escape(str(any_row['reference']))}</i>" if any_row.get("reference") else ""
        head = (f"<p><b>{html.escape(self.label(self.selected))}</b> · category {html.escape(str(any_row['category']))}"
                f" · evidence: {html.escape(evidence)}{ref}</p>")
        cols = "".join(self._column(s, rows.get(s)) for s in self.systems)
        return head + f"<div class='memlab-bench-columns' style='display:flex;gap:12px;align-items:flex-start'>{cols}</div>"

    def _column(self, system: str, row: Optional[dict]) -> str:
        if row is None:
            return f"<div style='flex:1'><h4>{html.escape(system)}</h4><i>not run</i></div>"
        items = []
        for i, h in enumerate(row.get("hits", [])[: self.k], 1):
            style = "background:#d7f5dd;" if h.get("relevant") else ""
            mark = " ✓" if h.get("relevant") else ""
            date = f"<small>{html.escape(str(h['date']))}</small> " if h.get("date") else ""
            items.append(f"<li style='{style}' class='{'evidence' if h.get('relevant') else 'other'}'>{date}"
                         f"{html.escape(str(h['memory']))}{mark}</li>")
        status = "hit" if self.hit(row) else "miss"
        parts = [f"<h4>{html.escape(system)} <small>({status} @{self.k})</small></h4>", f"<ol>{''.join(items)}</ol>"]
        if "answer" in row:
            parts.append(f"<p><b>Answer:</b> {html.escape(str(row['answer']))}"
                         f" <small>F1 {row.get('f1', 0):.2f} · BLEU-1 {row.get('bleu1', 0):.2f}</small></p>")
        if row.get("judge"):
            verdicts = " ".join("✔" if v else "✘" for v in row["judge"])
            parts.append(f"<p><b>Judge:</b> {verdicts}</p>")
        return f"<div class='memlab-bench-system' style='flex:1;min-width:0'>{''.join(parts)}</div>"

    def summary(self) -> str:
        n = len(self.visible)
        dis = sum(self.disagree(q) for q in self.visible)
        return f"{n} question(s) shown, {dis} with a disagreement at k={self.k}."


class BenchWidget:
    """The ipywidgets view of a :class:`BenchModel` (display it, or its ``.box``)."""

    def __init__(self, model: BenchModel):
        import ipywidgets as w

        self.model = model
        self.category = w.Dropdown(options=model.categories, value=model.category, description="Category")
        self.disagree = w.Checkbox(value=model.only_disagreements, description="Only disagreements")
        self.picker = w.Dropdown(description="Question", layout=w.Layout(width="min(100%, 720px)"))
        self.prev_button = w.Button(description="◀ Previous")
        self.next_button = w.Button(description="Next ▶")
        self.status = w.HTML()
        self.view = w.HTML()
        self._syncing = False
        self.category.observe(self._on_filter, names="value")
        self.disagree.observe(self._on_filter, names="value")
        self.picker.observe(self._on_pick, names="value")
        self.prev_button.on_click(lambda _b: self._step(-1))
        self.next_button.on_click(lambda _b: self._step(1))
        self.box = w.VBox([w.HBox([self.category, self.disagree]),
                           w.HBox([self.picker, self.prev_button, self.next_button]), self.status, self.view])
        self.refresh()

    def _on_filter(self, _change) -> None:
        if not self._syncing:
            self.model.set_filter(category=self.category.value, only_disagreements=self.disagree.value)
            self.refresh()

    def _on_pick(self, change) -> None:
        if not self._syncing and change["new"]:
            self.model.choose(change["new"])
            self.refresh()

    def _step(self, delta: int) -> None:
        self.model.step(delta)
        self.refresh()

    def refresh(self) -> None:
        self._syncing = True
        try:
            self.picker.options = [(self.model.label(q), q) for q in self.model.visible]
            self.picker.value = self.model.selected
        finally:
            self._syncing = False
        self.status.value = self.model.summary()
        self.view.value = self.model.question_html()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)


def bench_widget(result: Any, *, k: int = 5, questions: Optional[dict] = None) -> BenchWidget:
    """A :class:`BenchWidget` over a :class:`~memlab.bench.report.BenchResult` or a run folder."""
    return BenchWidget(BenchModel(result, k=k, questions=questions))
