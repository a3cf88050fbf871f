"""A static HTML snapshot of a widget's last state, so a saved notebook is never blank.

A live ipywidget needs its kernel: a notebook saved and reopened without one shows "Error displaying
widget: model not found" in JupyterLab, and GitHub or nbviewer show nothing. Each memlab widget
therefore displays, right under itself, an ordinary HTML output holding a rendering of its current
state, and rewrites that output (``update_display``) whenever its state changes. While the widget is
live, a ``<style>`` inside the widget hides the snapshot (no duplicate on screen); without the widget
the snapshot shows, and in a trusted notebook its own style also hides the "model not found" line
(CSS ``:has()``, which cannot nest: the live widget's rule, ``!important``, wins over the snapshot's).
"""

from __future__ import annotations

import html
import uuid
from typing import Any, Optional


class Snapshot:
    """The snapshot output of one widget view (see the module docstring)."""

    def __init__(self, title: str):
        self.title = title
        self.css_class = f"memlab-snapshot-{uuid.uuid4().hex[:12]}"
        self.html = ""
        self._handle: Optional[Any] = None

    def _widget_output(self) -> str:
        """The selector of the widget's own output: the output right before this snapshot's."""
        return f".jp-OutputArea-child:has(+ .jp-OutputArea-child .{self.css_class}) > .jp-OutputArea-output.jupyter-widgets"

    def hide_rule(self) -> str:
        """The ``<style>`` the live widget carries: it hides this snapshot while the widget is shown (and
        keeps the widget's output shown, against the snapshot's own rule below)."""
        return (f"<style>.{self.css_class} {{display: none !important;}} "
                f"{self._widget_output()} {{display: block !important;}}</style>")

    def document(self) -> str:
        """The snapshot output's HTML: a caption, the last state, and the rule hiding a dead widget's error."""
        # without a live widget its output only says "model not found": hide it (the live one re-shows it)
        return (f"<style>{self._widget_output()} {{display: none;}}</style><div class='{self.css_class} memlab-snapshot' "
                "style='border:1px dashed #bbb;padding:6px 10px;margin:4px 0'>"
                f"<div style='color:#666;font-size:90%;margin-bottom:4px'>{html.escape(self.title)}: a static "
                "snapshot of its last state (run the cell to use the widget).</div>"
                f"{self.html}</div>")

    def show(self, body: str) -> None:
        """Display the snapshot output (once, under the widget)."""
        from IPython.display import HTML, display

        self.html = body.replace(self.hide_rule(), "")  # a copy of the live view's HTML must not hide itself
        self._handle = display(HTML(self.document()), display_id=True)

    def update(self, body: str) -> None:
        """Rewrite the snapshot with the widget's new state (a no-op before :meth:`show`)."""
        self.html = body.replace(self.hide_rule(), "")
        if self._handle is not None:
            from IPython.display import HTML

            self._handle.update(HTML(self.document()))
