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
from memlab.compare.render import legend_html, query_columns, two_columns_html
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
        self.responder_name = str(getattr(self.responder, "name", type(self.responder).__name__))
        self.dataset: list[Query] = normalize_queries(queries) if queries is not None else []
        self._records = records
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
        if not self.query_text.strip():
            self.error = "Type a question in the Query box (or pick one from the Dataset list), then press Enter."
            return None
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

    def known_users(self) -> list[str]:
        """The user_ids this comparison knows of (records, dataset queries, memories of live sides)."""
        users = {str(r.get("user_id")) for r in (self._records or []) if isinstance(r, dict) and r.get("user_id")}
        users |= {q.scope["user_id"] for q in self.dataset if q.scope.get("user_id")}
        for side in self._sides:
            memory = getattr(side, "memory", None)
            if memory is not None and not users:
                try:
                    frame = memory.to_pandas()
                    users |= set(frame["user_id"].dropna().astype(str)) if "user_id" in frame else set()
                except MemlabError:
                    pass
        return sorted(users)

    def summary_text(self) -> str:
        if self.error:
            return f"Error: {self.error}"
        if self.comparison is None:
            return "Type a query or pick one, then press Compare."
        result = self.comparison.results[0]
        user = self.current_query().scope.get("user_id")
        if not result.before and not result.after:  # "overlap 1.00" over two empty lists is no success
            known = self.known_users()
            if user and known and user not in known:
                return (f"No results on either side: no memories for user_id {user!r} "
                        f"(users here: {', '.join(known)}).")
            return "No results on either side for this query" + (f" (user_id {user!r})." if user else ".")
        c = result.changes
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
    """The ipywidgets view of a :class:`CompareModel` (display it in a notebook).

    Picking a dataset query runs it; so does pressing Enter in the query or user_id box, or Compare.
    Leaving a box (Tab, a click elsewhere) runs nothing: the next box may still be about to change.
    """

    def __init__(self, model: CompareModel):
        import ipywidgets as w

        from memlab.widgets.snapshot import Snapshot

        self.model = model
        self.snapshot = Snapshot("CompareWidget")
        options = [("(type a query)", TYPED)] + [(f"{q.query_id}: {q.text}", q.query_id) for q in model.dataset]
        self.picker = w.Dropdown(options=options, value=model.selected or TYPED, description="Dataset",
                                 layout=w.Layout(width="min(100%, 640px)"))
        # continuous_update: the value is always in the kernel before the Enter ("submit") message that runs it
        self.query_box = w.Text(value=model.query_text, placeholder="Ask something, then press Enter",
                                description="Query", layout=w.Layout(flex="1 1 auto", min_width="240px"))
        self.user_box = w.Text(value=model.scope.get("user_id", ""), placeholder="empty = all users",
                               description="user_id", layout=w.Layout(width="220px"))
        self.run_button = w.Button(description="Compare", button_style="primary")
        self.status = w.HTML()
        self.columns = w.HTML()
        self.answer_panel = w.HTML()
        self._syncing = False  # set while the view writes its own inputs, so observers do not re-run
        self.picker.observe(self._on_pick, names="value")
        for box in (self.query_box, self.user_box):
            box.on_msg(self._on_message)
        self.run_button.on_click(self._on_run)
        for widget, name in ((self.status, "status"), (self.columns, "columns"), (self.answer_panel, "answers")):
            widget.add_class(f"memlab-{name}")  # stable hooks for styling and browser tests
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

    def _on_message(self, _widget, content, _buffers) -> None:
        if content.get("event") == "submit":  # Enter in a text box
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

    def state_html(self) -> str:
        """The view's current state as static HTML (query, status, columns, answers): the snapshot."""
        import html

        user = self.model.scope.get("user_id")
        query = (f"<p>Query: <b>{html.escape(self.model.query_text)}</b>"
                 + (f" · user_id {html.escape(user)}" if user else "") + "</p>") if self.model.query_text else ""
        return query + self.status.value + self.columns.value + self.answer_panel.value

    def refresh(self) -> None:
        """Redraw every panel from the model."""
        import html

        error = bool(self.model.error)
        self.status.value = (f"{self.snapshot.hide_rule()}<b style='color:{'#b00' if error else 'inherit'}'>"
                             f"{html.escape(self.model.summary_text())}</b>")
        before_rows, after_rows = self.model.columns()
        has_rows = self.model.comparison is not None and (before_rows or after_rows)
        self.columns.value = (legend_html(self.model.labels[0], self.model.labels[1])
                              + two_columns_html(self.model.labels[0], before_rows, self.model.labels[1], after_rows)
                              if has_rows else "")
        answers = self.model.answer_panel()
        self.answer_panel.value = ("<p><b>Answers</b> <small>(" + html.escape(self.model.responder_name)
                                   + ")</small></p>" if answers else "") + "".join(
            f"<p><b>{html.escape(label)}:</b> {html.escape(text)}</p>" for label, text in answers.items())
        self.snapshot.update(self.state_html())

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
        self.snapshot.show(self.state_html())

    def _repr_mimebundle_(self, **kwargs: Any):
        """The live widget alone (frontends that do not call ``_ipython_display_``)."""
        return self.box._repr_mimebundle_(**kwargs)
