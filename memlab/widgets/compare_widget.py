"""``CompareWidget``: before/after results side by side for one query at a time.

:class:`CompareModel` holds the state and does the work (plain Python, testable without a
browser); :class:`CompareWidget` is a thin ipywidgets view over it: a query box (or a pick
from a dataset of queries), two columns with gains (green) and losses (red) highlighted,
moved memories in yellow, and an answer panel (no memory / before / after).
"""

from __future__ import annotations

from typing import Any, Optional

from memlab.compare.answers import compare_answers, make_responder
from memlab.compare.core import Comparison, compare
from memlab.compare.queries import SCOPE_KEYS, Query, normalize_queries
from memlab.compare.render import query_columns, two_columns_html
from memlab.compare.runs import open_side
from memlab.errors import MemlabError, ValidationError
from memlab.validation import check_limit


class CompareModel:
    """State and logic of the compare view.

    Args:
        before, after: anything :func:`memlab.compare.compare` accepts as a side. Sides built
            from configs (with ``records``) are opened once and kept until :meth:`close`.
        queries: optional dataset of queries for the picker.
        k, threshold, match_on, labels: as in :func:`~memlab.compare.compare`.
        llm: responder for the answer panel (None = offline extractive responder).
        answers: whether :meth:`run` also produces answers.
    """

    def __init__(self, before: Any, after: Any, *, queries: Any = None, records: Any = None, k: int = 5,
                 threshold: Optional[float] = None, match_on: str = "id",
                 labels: tuple[str, str] = ("before", "after"), llm: Any = None, answers: bool = True,
                 context_k: int = 3):
        from memlab.compare.core import _takes_records

        self.k = check_limit(k, "k")
        self.threshold = threshold
        self.match_on = match_on
        self.labels = tuple(labels)
        self.answers_enabled = bool(answers)
        self.context_k = context_k
        self.responder = make_responder(llm)
        self.dataset: list[Query] = normalize_queries(queries) if queries is not None else []
        self._sides = []
        try:
            for source, label in ((before, self.labels[0]), (after, self.labels[1])):
                self._sides.append(open_side(source, records=records if _takes_records(source) else None,
                                             label=label))
        except Exception:
            self.close()
            raise
        self.query_text = ""
        self.scope: dict[str, str] = {}
        self.selected: Optional[str] = None
        self.comparison: Optional[Comparison] = None
        self.answers = None
        self.error: Optional[str] = None

    # -------------------------------------------------------------- inputs
    def choose(self, query_id: Optional[str]) -> None:
        """Pick a query of the dataset (None: type your own)."""
        if query_id is None:
            self.selected = None
            return
        for q in self.dataset:
            if q.query_id == query_id:
                self.selected = q.query_id
                self.query_text = q.text
                self.scope = dict(q.scope)
                return
        raise ValidationError(f"No query {query_id!r} in the dataset.")

    def set_query(self, text: str, **scope: Optional[str]) -> None:
        """Type a query (clears the dataset pick unless the text is the picked query's own)."""
        picked = next((q for q in self.dataset if q.query_id == self.selected), None)
        if picked is None or picked.text != text:
            self.selected = None
        self.query_text = text
        self.scope = {key: value for key, value in scope.items() if key in SCOPE_KEYS and value}

    def current_query(self) -> Query:
        picked = next((q for q in self.dataset if q.query_id == self.selected), None)
        if picked is not None and picked.text == self.query_text:
            return picked
        return normalize_queries([{"query_id": "typed", "query": self.query_text, **self.scope}])[0]

    # -------------------------------------------------------------- work
    def run(self) -> Optional[Comparison]:
        """Compare the current query on both sides (and answer it); errors land in ``self.error``."""
        self.error = None
        self.comparison = None
        self.answers = None
        try:
            query = self.current_query()
            self.comparison = compare(self._sides[0], self._sides[1], [query], k=self.k, threshold=self.threshold,
                                      match_on=self.match_on, labels=self.labels)
            if self.answers_enabled:
                self.answers = compare_answers(self.comparison, llm=self.responder, context_k=self.context_k)
        except MemlabError as exc:
            self.error = str(exc)
        return self.comparison

    # -------------------------------------------------------------- outputs
    def columns(self) -> tuple[list[dict], list[dict]]:
        """Display rows (rank, memory, score, status: same / moved / only) of both sides."""
        if self.comparison is None:
            return [], []
        return query_columns(self.comparison, self.comparison.results[0])

    def gained(self) -> list[str]:
        return [r["memory"] for r in self.columns()[1] if r["status"] == "only"]

    def lost(self) -> list[str]:
        return [r["memory"] for r in self.columns()[0] if r["status"] == "only"]

    def answer_panel(self) -> dict[str, str]:
        """``{side label: answer}`` for the current query (empty before :meth:`run`)."""
        if self.answers is None:
            return {}
        row = self.answers.rows[0]
        return {self.answers.labels[s]: row[f"answer_{s}"] for s in self.answers.sides}

    def summary_text(self) -> str:
        if self.error:
            return f"Error: {self.error}"
        if self.comparison is None:
            return "Type a query or pick one, then press Compare."
        c = self.comparison.results[0].changes
        # a query without user_id/agent_id/run_id searches every scope: say so, it surprises people
        everyone = " · no user_id: searched all users" if not self.current_query().scope else ""
        return (f"overlap@{self.k} {c['overlap_at_k']:.2f} · Jaccard {c['jaccard']:.2f} · "
                f"+{len(c['gained_keys'])} gained · −{len(c['lost_keys'])} lost"
                + (" · top-1 changed" if c["top1_changed"] else "") + everyone)

    def close(self) -> None:
        for side in self._sides:
            side.close()


TYPED = ""  # the picker's "(type a query)" entry (None would leave the dropdown blank)


class CompareWidget:
    """The ipywidgets view of a :class:`CompareModel` (display it, or its ``.box``, in a notebook).

    Picking a dataset query runs it; so does pressing Enter in the query or user_id box, or Compare.
    """

    def __init__(self, model: CompareModel):
        import ipywidgets as w

        self.model = model
        options = [("(type a query)", TYPED)] + [(f"{q.query_id}: {q.text}", q.query_id) for q in model.dataset]
        self.picker = w.Dropdown(options=options, value=model.selected or TYPED, description="Dataset",
                                 layout=w.Layout(width="min(100%, 640px)"))
        # continuous_update=False: the value is sent (and observed) on Enter or when the box loses focus
        self.query_box = w.Text(value=model.query_text, placeholder="Ask something...", description="Query",
                                continuous_update=False, layout=w.Layout(flex="1 1 auto", min_width="240px"))
        self.user_box = w.Text(value=model.scope.get("user_id", ""), placeholder="empty = all users",
                               description="user_id", continuous_update=False,
                               layout=w.Layout(width="220px"))
        self.run_button = w.Button(description="Compare", button_style="primary")
        self.status = w.HTML()
        self.columns = w.HTML()
        self.answer_panel = w.HTML()
        self._syncing = False  # set while the view writes its own inputs, so observers do not re-run
        self.picker.observe(self._on_pick, names="value")
        self.query_box.observe(self._on_submit, names="value")
        self.user_box.observe(self._on_submit, names="value")
        self.run_button.on_click(self._on_run)
        self.box = w.VBox([self.picker,
                           w.HBox([self.query_box, self.user_box, self.run_button], layout=w.Layout(width="100%")),
                           self.status, self.columns, self.answer_panel])
        self.refresh()

    def _on_pick(self, change) -> None:
        if self._syncing:
            return
        picked = change["new"] or None
        self.model.choose(picked)
        if picked is not None:
            self._sync_inputs()
            self._on_run()

    def _on_submit(self, _change) -> None:
        if not self._syncing:
            self._on_run()

    def _on_run(self, *_args) -> None:
        scope = dict(self.model.scope)
        scope["user_id"] = self.user_box.value.strip() or None
        self.model.set_query(self.query_box.value, **scope)
        self.model.run()
        self._sync_inputs()  # a typed query clears the pick: the dropdown must not show a stale one
        self.refresh()

    def _sync_inputs(self) -> None:
        self._syncing = True
        try:
            self.picker.value = self.model.selected or TYPED
            self.query_box.value = self.model.query_text
            self.user_box.value = self.model.scope.get("user_id", "")
        finally:
            self._syncing = False

    def refresh(self) -> None:
        """Redraw every panel from the model."""
        import html

        self.status.value = f"<b>{html.escape(self.model.summary_text())}</b>"
        before_rows, after_rows = self.model.columns()
        self.columns.value = (two_columns_html(self.model.labels[0], before_rows, self.model.labels[1], after_rows)
                              if self.model.comparison is not None else "")
        answers = self.model.answer_panel()
        self.answer_panel.value = "".join(
            f"<p><b>{html.escape(label)}:</b> {html.escape(text)}</p>" for label, text in answers.items())

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)
