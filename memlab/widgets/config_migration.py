"""``ConfigMigrationWidget``: paste or upload an old config, see the migrated one, save it.

:class:`ConfigMigrationSession` holds the state and does the work (plain Python, testable
without a browser); :class:`ConfigMigrationWidget` is a thin ipywidgets view over it: a text
area and an upload button, then tabs with the migrated config, the change table, the
warnings and the unified diff, and a save row.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Optional

from memlab.config_migration import ConfigMigration, migrate_config
from memlab.errors import ConfigError

FORMATS = ("json", "yaml")
STALE_STYLE = "<style>.memlab-stale {opacity: 0.45;}</style>"


class ConfigMigrationSession:
    """State of one config migration: the text in the box, the migration shown, or the error.

    ``set_text`` records what is in the box; while it differs from the migrated text the session is
    ``stale`` and :meth:`save` migrates the box's text first, so a save never writes an older result.

    Example:
        >>> s = ConfigMigrationSession()
        >>> s.migrate_text('{"embedder": "huggingface"}')
        True
        >>> s.migration.config.embedder.provider
        'minilm'
    """

    def __init__(self) -> None:
        self.text: str = ""          # the text the shown migration (or error) came from
        self.draft: str = ""         # the text in the box now
        self.source_name: Optional[str] = None
        self.migration: Optional[ConfigMigration] = None
        self.error: Optional[str] = None

    # ------------------------------------------------------------------ inputs
    def set_text(self, text: str) -> None:
        """The box's text changed (nothing is migrated yet: see :attr:`stale`)."""
        self.draft = text if isinstance(text, str) else ""

    @property
    def stale(self) -> bool:
        """True when the box holds other text than the result on screen came from."""
        return self.draft != self.text and (self.migration is not None or self.error is not None)

    def migrate_text(self, text: str, source_name: Optional[str] = None) -> bool:
        """Migrate pasted JSON/YAML text. Returns True on success; the error is kept in ``error``."""
        self.text = self.draft = text if isinstance(text, str) else ""
        self.source_name = source_name
        self.migration, self.error = None, None
        if not self.text.strip():
            self.error = "Paste a config (JSON or YAML) or upload a file first."
            return False
        try:
            self.migration = migrate_config(self.text)
        except ConfigError as exc:
            self.error = str(exc)
            return False
        return True

    def migrate_upload(self, name: str, content: bytes) -> bool:
        """Migrate an uploaded file's bytes (UTF-8 JSON or YAML)."""
        try:
            text = bytes(content).decode("utf-8")
        except UnicodeDecodeError:
            self.migration, self.text, self.draft, self.source_name = None, "", "", name
            self.error = f"{name} is not UTF-8 text; upload a JSON or YAML config."
            return False
        return self.migrate_text(text, source_name=name)

    # ------------------------------------------------------------------ outputs
    @property
    def ok(self) -> bool:
        return self.migration is not None

    def status(self) -> str:
        """One line: what happened."""
        if self.stale:
            return "The text changed since the last migration: press Migrate to see the result (Save migrates it first)."
        if self.error:
            return f"Error: {self.error}"
        if self.migration is None:
            return "Paste or upload a legacy config, then press Migrate."
        m = self.migration
        what = "already a current memlab config" if not m.changed else f"{len(m.changes)} change(s)"
        return f"Migrated{' ' + self.source_name if self.source_name else ''}: {what}, {len(m.warnings)} warning(s)."

    def config_text(self, format: str = "json") -> str:
        """The migrated config rendered as JSON or YAML ('' before a successful migration)."""
        if self.migration is None:
            return ""
        if format not in FORMATS:
            raise ConfigError(f"Unknown format {format!r}; use 'json' or 'yaml'.")
        if format == "yaml":
            import yaml

            return yaml.safe_dump(self.migration.config.to_dict(), sort_keys=False)
        return self.migration.config.to_json() + "\n"

    def changes_frame(self):
        """Change table as a DataFrame (path, old, new, reason); empty before a migration."""
        import pandas as pd

        if self.migration is None:
            return pd.DataFrame(columns=["path", "old", "new", "reason"])
        return self.migration.changes_frame()

    @property
    def warnings(self) -> list[str]:
        return list(self.migration.warnings) if self.migration else []

    def diff(self) -> str:
        return self.migration.diff() if self.migration else ""

    def save(self, path: str | Path, format: Optional[str] = None, overwrite: bool = False) -> Path:
        """Write the migration of the box's current text; returns the absolute path written.

        The format follows ``format``, else the file name (``.yaml``/``.yml`` = YAML). A name whose
        suffix contradicts ``format`` is refused rather than written with the wrong content.
        Nothing is written without a successful migration.
        """
        if self.stale:  # the box changed since the last Migrate: save what it holds now, not the old result
            self.migrate_text(self.draft, source_name=self.source_name)
        if self.migration is None:
            raise ConfigError("Nothing saved: " + (f"the config does not migrate ({self.error})" if self.error
                                                   else "migrate a config first."))
        if format is not None and format not in FORMATS:
            raise ConfigError(f"Unknown format {format!r}; use 'json' or 'yaml'.")
        path = Path(str(path).strip()).expanduser()
        if not str(path) or str(path) == "." or not path.name:
            raise ConfigError("Give a file name to save to, e.g. memlab_config.json.")
        suffix = path.suffix.lower()
        if format is not None and suffix in SUFFIXES and SUFFIXES[suffix] != format:
            raise ConfigError(f"{path.name} is a {SUFFIXES[suffix].upper()} file name but the format is "
                              f"{format.upper()}; name it {path.with_suffix(default_suffix(format)).name} "
                              "or change the format.")
        path = path.resolve()
        if path.exists() and not overwrite:
            raise ConfigError(f"{str(path)!r} already exists; tick 'overwrite' to replace it.")
        if not path.parent.is_dir():
            raise ConfigError(f"Folder {str(path.parent)!r} does not exist.")
        return self.migration.save(path, format=format or SUFFIXES.get(suffix, "json")).resolve()


SUFFIXES = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}


def default_suffix(format: str) -> str:
    return ".yaml" if format == "yaml" else ".json"


def with_format(name: str, format: str) -> str:
    """``name`` with the suffix of ``format`` when it has a config suffix (or none); other names unchanged."""
    p = Path(name.strip() or "memlab_config")
    if p.suffix.lower() in SUFFIXES or not p.suffix:
        return str(p.with_suffix(default_suffix(format)))
    return name


def _pre(text: str, color: str = "inherit") -> str:
    return f"<pre style='white-space: pre-wrap; margin: 0; color: {color}'>{html.escape(text)}</pre>"


def diff_html(diff: str) -> str:
    """A unified diff coloured like a code review: removed lines red, added lines green, hunks grey."""
    if not diff:
        return "<i>No differences.</i>"
    rows = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            style = "font-weight:bold"
        elif line.startswith("+"):
            style = "background:#e6ffec;color:#116329"
        elif line.startswith("-"):
            style = "background:#ffebe9;color:#82071e"
        elif line.startswith("@@"):
            style = "color:#6e7781"
        else:
            style = ""
        rows.append(f"<div style='{style}'>{html.escape(line) or '&nbsp;'}</div>")
    return "<div style='font-family:monospace;white-space:pre-wrap;line-height:1.35'>" + "".join(rows) + "</div>"


def state_html(session: ConfigMigrationSession, format: str = "json") -> str:
    """The session as static HTML: status, changes, warnings and the coloured diff (the snapshot)."""
    parts = [f"<p><b>{html.escape(session.status())}</b></p>"]
    if session.ok:
        frame = session.changes_frame()
        if len(frame):
            parts.append(frame.to_html(index=False, escape=True))
        if session.warnings:
            parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in session.warnings) + "</ul>")
        parts.append(diff_html(session.diff()))
    return "".join(parts)


class ConfigMigrationWidget:
    """The ipywidgets view of a :class:`ConfigMigrationSession` (display it in a notebook).

    Editing the text marks the result on screen as out of date; Save (or Enter in the file-name box)
    migrates the current text first, so the file always holds the config in the box. Switching the
    format renames a ``.json``/``.yaml`` file name to match.
    """

    def __init__(self, session: Optional[ConfigMigrationSession] = None, text: str = ""):
        import ipywidgets as w

        from memlab.widgets.snapshot import Snapshot

        self.session = session or ConfigMigrationSession()
        self.snapshot = Snapshot("ConfigMigrationWidget")
        self.input = w.Textarea(value=text, placeholder='{"embedder": "openai", "vector_store": "qdrant", ...}',
                                layout=w.Layout(width="100%", height="140px"))
        self.upload = w.FileUpload(accept=".json,.yaml,.yml", multiple=False, description="Upload")
        self.migrate_button = w.Button(description="Migrate", button_style="primary")
        self.format = w.Dropdown(options=list(FORMATS), value="json", description="Format")
        self.status = w.HTML()
        self.config_view = w.HTML()
        self.changes_view = w.HTML()
        self.warnings_view = w.HTML()
        self.diff_view = w.HTML()
        self.tabs = w.Tab(children=[self.config_view, self.changes_view, self.warnings_view, self.diff_view])
        for i, title in enumerate(("Migrated config", "Changes", "Warnings", "Diff")):
            self.tabs.set_title(i, title)
        self.save_path = w.Text(value="memlab_config.json", description="Save as",
                                layout=w.Layout(width="min(100%, 420px)"))
        # A Checkbox is 300 px wide by default, which pushed the Save button far right: size it to its label.
        self.overwrite = w.Checkbox(value=False, description="overwrite", indent=False,
                                    layout=w.Layout(width="auto", margin="0 12px"))
        self.save_button = w.Button(description="Save")
        self.save_status = w.HTML()
        self.input.observe(self._on_edit, names="value")
        self.migrate_button.on_click(self._on_migrate)
        self.upload.observe(self._on_upload, names="value")
        self.format.observe(self._on_format, names="value")
        self.save_button.on_click(self._on_save)
        for widget, name in ((self.status, "status"), (self.save_status, "save-status"), (self.input, "input"),
                             (self.save_path, "save-path")):
            widget.add_class(f"memlab-{name}")  # stable hooks for styling and browser tests
        # Enter in the file-name box saves: the front end sends a "submit" message (no value round trip)
        self.save_path.on_msg(lambda _w, content, _buffers: self._on_save() if content.get("event") == "submit"
                              else None)
        self.box = w.VBox([
            self.input, w.HBox([self.migrate_button, self.upload, self.format]), self.status, self.tabs,
            w.HBox([self.save_path, self.overwrite, self.save_button]), self.save_status,
        ])
        if text:
            self._on_migrate()
        else:
            self.refresh()

    def _on_edit(self, change: dict) -> None:
        self.session.set_text(change["new"])
        self.save_status.value = ""  # a save message belongs to the result it saved
        self.refresh()

    def _on_migrate(self, *_args: Any) -> None:
        self.session.migrate_text(self.input.value)
        self.save_status.value = ""  # a save message belongs to the previous migration
        self.refresh()

    def _on_upload(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]  # ipywidgets 8: a tuple of {"name", "content", ...}
        self.session.migrate_upload(item["name"], item["content"])
        self.input.value = self.session.text
        self.save_status.value = ""
        self.refresh()

    def _on_format(self, change: dict) -> None:
        self.save_path.value = with_format(self.save_path.value, change["new"])
        self.refresh()

    def _on_save(self, *_args: Any) -> None:
        try:
            path = self.session.save(self.save_path.value, format=self.format.value, overwrite=self.overwrite.value)
        except (ConfigError, OSError) as exc:
            self.refresh()  # a save may have migrated the box's new text (and failed on it): show that
            self.save_status.value = _pre(str(exc), "#b00")
            return
        self.refresh()
        lines = path.read_text(encoding="utf-8").count("\n")
        self.save_status.value = (f"<span style='color:#116329'>Saved {self.format.value.upper()} ({lines} lines) to "
                                  f"<code>{html.escape(str(path))}</code></span>")

    def refresh(self) -> None:
        s = self.session
        color = "#b00" if s.error and not s.stale else "#8a6d00" if s.stale else "inherit"
        # the status also carries the style that hides this widget's snapshot while it is live
        self.status.value = self.snapshot.hide_rule() + STALE_STYLE + _pre(s.status(), color)
        self.config_view.value = _pre(s.config_text(self.format.value))
        frame = s.changes_frame()
        self.changes_view.value = frame.to_html(index=False, escape=True) if len(frame) else "<i>No changes.</i>"
        self.warnings_view.value = ("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in s.warnings) + "</ul>"
                                    if s.warnings else "<i>No warnings.</i>")
        self.diff_view.value = diff_html(s.diff())
        self.save_button.disabled = not (s.ok or s.stale)
        # Without a migration the tabs would be an empty bordered box: hide them (the status says why);
        # a result older than the text is dimmed, so nobody reads it as the current one.
        self.tabs.layout.display = None if s.ok else "none"
        (self.tabs.add_class if s.stale else self.tabs.remove_class)("memlab-stale")
        self.snapshot.update(state_html(s, self.format.value))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
        self.snapshot.show(state_html(self.session, self.format.value))

    def _repr_mimebundle_(self, **kwargs: Any):
        """The live widget alone (frontends that do not call ``_ipython_display_``)."""
        return self.box._repr_mimebundle_(**kwargs)
