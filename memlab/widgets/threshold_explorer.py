"""ThresholdExplorer: pick a score threshold interactively, seeing what it costs.

:class:`~memlab.widgets.threshold_model.ThresholdExplorerModel` holds all logic (plain Python,
tested without a browser); :class:`ThresholdExplorer` is a thin ipywidgets view over it: a
threshold slider on the embedder's fixed score domain (0-1, step 0.01, for scores in [0, 1]), k,
embedder and category, the expected precision at the chosen threshold, an "apply recommended"
button, a PNG export of the chart, and the table of queries that gained or lost results.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from memlab.errors import ValidationError
from memlab.widgets.threshold_model import ALL, STEP, ThresholdExplorerModel

DPI = 96  # CSS pixels per inch: the plot is drawn at 2 * DPI and shown at DPI, so it stays sharp on HiDPI
TABLE_CSS = ("<style>.memlab-changes {border-collapse: collapse; width: 100%;}"
             ".memlab-changes th, .memlab-changes td {text-align: left; vertical-align: top; padding: 3px 6px;"
             " border-bottom: 1px solid #ddd; word-break: normal; overflow-wrap: normal;}"
             ".memlab-changes td.text {min-width: 16em;} .memlab-changes td.num {white-space: nowrap;}"
             ".memlab-changes ul {margin: 0; padding-left: 1.1em;} .memlab-changes li.gained::marker {content: '+ ';"
             " color: #116329;} .memlab-changes li.lost::marker {content: '− '; color: #b00;}</style>")

__all__ = ["ALL", "ThresholdExplorer", "ThresholdExplorerModel", "changes_html"]


def _items(gained: list, lost: list) -> str:
    items = ([f"<li class='gained'>{html.escape(str(t))}</li>" for t in gained]
             + [f"<li class='lost'>{html.escape(str(t))}</li>" for t in lost])
    return "<ul>" + "".join(items) + "</ul>" if items else "–"


def changes_html(model: ThresholdExplorerModel, max_rows: int = 20) -> str:
    """The queries that gained or lost results between the previous and the current threshold."""
    prev, now = model.previous_threshold, model.threshold
    if prev == now:
        return "<p><i>Move the threshold to see which queries gain or lose results.</i></p>"
    ch = model.changes()
    head = (f"<p><b>{len(ch)} queries changed between threshold {prev:.2f} and {now:.2f}</b> "
            f"({html.escape(str(model.embedder))}, category {html.escape(str(model.category))}, "
            f"k={model.k})</p>")
    if ch.empty:
        return head
    rows = []
    for r in ch.head(max_rows).itertuples(index=False):
        rows.append(
            f"<tr><td>{html.escape(str(r.scope))}</td><td class='text'>{html.escape(str(r.text))}</td>"
            f"<td class='num'>{'yes' if r.answerable else 'no'}</td>"
            f"<td class='num'>{r.n_before} → {r.n_after}</td><td class='text'>{_items(r.gained, r.lost)}</td>"
            f"<td class='num'>+{r.relevant_gained} / −{r.relevant_lost}</td></tr>")
    more = f"<p>… and {len(ch) - max_rows} more (model.changes() has them all).</p>" if len(ch) > max_rows else ""
    # a narrow notebook scrolls the table sideways rather than squeezing the text one word per line
    return (head + TABLE_CSS + "<div style='overflow-x:auto'><table class='memlab-changes'><thead><tr>"
            "<th>scope</th><th>question</th><th>answerable</th><th>results</th>"
            "<th>memories gained (+) / lost (−)</th><th>relevant +/−</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>" + more)


def advice_text(model: ThresholdExplorerModel) -> str:
    """Expected precision at the threshold and the recommendation (or why there is none)."""
    rec = model.recommendation()
    if rec is None:
        return ("no recommendation here: every threshold is equally right for answerable queries "
                "(there are none); pick it on a category that has some")
    n = int(model.metrics()["n_answerable"])
    return (f"expected precision at {model.threshold:.2f}: {model.expected_precision():.3f} "
            f"(measured on {n} labelled answerable queries) · recommended: {rec.summary()}")


class ThresholdExplorer:
    """ipywidgets view: threshold/k sliders, embedder/category dropdowns, buttons, metrics, plot, changes."""

    def __init__(self, model: ThresholdExplorerModel):
        import ipywidgets as W

        from memlab.widgets.snapshot import Snapshot

        self.model = model
        self.snapshot = Snapshot("ThresholdExplorer")
        lo, hi = model.domain()
        self.threshold = W.FloatSlider(value=model.threshold, min=min(lo, model.threshold),
                                       max=max(hi, model.threshold), step=STEP, description="threshold",
                                       continuous_update=False, readout_format=".2f",
                                       layout=W.Layout(width="420px"))
        depth = max((int(r["rank"].max()) for r in model.runs.values() if len(r)), default=1)
        self.k = W.IntSlider(value=min(model.k, depth), min=1, max=depth, description="k",
                             continuous_update=False)
        self.embedder = W.Dropdown(options=model.embedders, value=model.embedder, description="embedder")
        self.category = W.Dropdown(options=model.categories, value=model.category, description="category")
        self.apply_button = W.Button(description="Apply recommended", layout=W.Layout(width="220px", flex="0 0 auto"),
                                     tooltip="Move the threshold to the recommended one (max F1) for this "
                                     "embedder, category and k")
        self.export_button = W.Button(description="Export PNG", icon="download", layout=W.Layout(width="130px", flex="0 0 auto"),
                                      tooltip="Save the chart as a PNG file in the notebook's folder")
        self.metrics_html = W.HTML()
        self.export_status = W.HTML()
        # PNG bytes: shows in any frontend, whatever the matplotlib backend; drawn at 2x and shown at 1x (crisp)
        self.plot = W.Image(format="png", layout=W.Layout(max_width="100%", height="auto"))
        self.table = W.HTML()  # plain HTML (not an Output): testable without a kernel, never holds stale rows
        self._syncing = False  # set while the view writes its own controls from the model
        for w in (self.threshold, self.k, self.embedder, self.category):
            w.observe(self._on_change, names="value")
        self.apply_button.on_click(self._on_apply)
        self.export_button.on_click(self._on_export)
        model.observe(self._on_model_change)
        for widget, name in ((self.metrics_html, "metrics"), (self.table, "changes-panel"), (self.plot, "plot"),
                             (self.export_status, "export-status"), (self.threshold, "threshold")):
            widget.add_class(f"memlab-{name}")  # stable hooks for styling and browser tests
        self.widget = W.VBox([W.HBox([self.threshold, self.k]), W.HBox([self.embedder, self.category]),
                              W.HBox([self.apply_button, self.export_button, self.export_status]),
                              self.metrics_html, self.plot, self.table])
        self.refresh()

    # ------------------------------------------------------------------ events
    def _on_change(self, change) -> None:
        if self._syncing:
            return
        self._syncing = True  # the model notifies us back; the controls already show these values
        try:
            self.model.embedder = self.embedder.value
            self.model.category = self.category.value
            self.model.k = int(self.k.value)
            if change["owner"] is self.threshold:
                self.model.threshold = self.threshold.value
        finally:
            self._syncing = False
        if change["owner"] is self.embedder:
            self._sync_threshold()  # the new embedder's own threshold and score domain
        self.refresh()

    def _on_apply(self, *_args: Any) -> None:
        try:
            self.model.apply_recommended()  # the model notifies: the slider moves and the view redraws
        except ValidationError as exc:
            self.export_status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"

    def _on_export(self, *_args: Any) -> None:
        try:
            path = self.model.export_png()
        except (ValidationError, OSError) as exc:
            self.export_status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        self.export_status.value = (f"Saved <code>{html.escape(str(path))}</code> · <a download="
                                    f"'{html.escape(path.name)}' href='data:image/png;base64,{data}'>download</a>")

    def _sync_threshold(self) -> None:
        self._syncing = True
        try:
            t = self.model.threshold
            lo, hi = self.model.domain()
            # widen before narrowing, so min never exceeds max on the way
            self.threshold.max = max(hi, t, self.threshold.max)
            self.threshold.min = min(lo, t)
            self.threshold.max = max(hi, t)
            self.threshold.value = t
        finally:
            self._syncing = False

    def _on_model_change(self, name: str) -> None:
        """A setting was changed in code (e.g. ``model.threshold = 0.5``): move the control, redraw."""
        if self._syncing:
            return
        self._syncing = True
        try:
            if name == "k":
                self.k.max = max(self.k.max, self.model.k)
                self.k.value = self.model.k
            elif name != "threshold":
                getattr(self, name).value = getattr(self.model, name)
        finally:
            self._syncing = False
        if name in ("threshold", "embedder"):
            self._sync_threshold()
        self.refresh()

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Redraw metrics, plot, table and the static snapshot from the model."""
        rec = self.model.recommendation()
        self.apply_button.disabled = rec is None or round(rec.threshold, 2) == round(self.model.threshold, 2)
        self.apply_button.description = ("Apply recommended" if rec is None
                                         else f"Apply recommended ({rec.threshold:.2f})")
        self.metrics_html.value = (f"{self.snapshot.hide_rule()}<b>{html.escape(self.model.metrics_text())}</b>"
                                   f"<br>{html.escape(advice_text(self.model))}")
        fig = self.model.figure()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=2 * DPI)
        self.plot.value = buf.getvalue()
        self.plot.layout.width = f"{round(fig.get_figwidth() * DPI)}px"
        # every setting redraws the table for the current embedder/category/k (never stale rows)
        self.table.value = changes_html(self.model)
        self.snapshot.update(self.state_html())

    def changes_html(self, max_rows: int = 20) -> str:
        return changes_html(self.model, max_rows)

    def state_html(self) -> str:
        """The explorer's current state as static HTML (settings, metrics, chart, changes): the snapshot."""
        m = self.model
        png = base64.b64encode(self.plot.value).decode("ascii")
        return (f"<p>threshold <b>{m.threshold:.2f}</b> · k={m.k} · embedder {html.escape(str(m.embedder))} · "
                f"category {html.escape(str(m.category))}</p>{self.metrics_html.value}"
                f"<br><img style='max-width:100%;width:{self.plot.layout.width}' "
                f"src='data:image/png;base64,{png}'>{self.table.value}")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        self.snapshot.show(self.state_html())
