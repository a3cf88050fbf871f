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


class ConfigMigrationSession:
    """State of one config migration: the input text, the result or the error.

    Example:
        >>> s = ConfigMigrationSession()
        >>> s.migrate_text('{"embedder": "huggingface"}')
        True
        >>> s.migration.config.embedder.provider
        'minilm'
    """

    def __init__(self) -> None:
        self.text: str = ""
        self.source_name: Optional[str] = None
        self.migration: Optional[ConfigMigration] = None
        self.error: Optional[str] = None

    # ------------------------------------------------------------------ inputs
    def migrate_text(self, text: str, source_name: Optional[str] = None) -> bool:
        """Migrate pasted JSON/YAML text. Returns True on success; the error is kept in ``error``."""
        self.text = text if isinstance(text, str) else ""
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
            self.migration, self.text, self.source_name = None, "", name
            self.error = f"{name} is not UTF-8 text; upload a JSON or YAML config."
            return False
        return self.migrate_text(text, source_name=name)

    # ------------------------------------------------------------------ outputs
    @property
    def ok(self) -> bool:
        return self.migration is not None

    def status(self) -> str:
        """One line: what happened."""
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
        """Write the migrated config. Nothing is written without a successful migration."""
        if self.migration is None:
            raise ConfigError("Nothing to save: migrate a config first" + (f" ({self.error})" if self.error else "."))
        path = Path(str(path).strip())
        if not str(path) or str(path) == ".":
            raise ConfigError("Give a file name to save to, e.g. memlab_config.json.")
        if path.exists() and not overwrite:
            raise ConfigError(f"{str(path)!r} already exists; tick 'overwrite' to replace it.")
        if not path.parent.is_dir():
            raise ConfigError(f"Folder {str(path.parent)!r} does not exist.")
        if format is not None and format not in FORMATS:
            raise ConfigError(f"Unknown format {format!r}; use 'json' or 'yaml'.")
        return self.migration.save(path, format=format)


def _pre(text: str) -> str:
    return f"<pre style='white-space: pre-wrap; margin: 0'>{html.escape(text)}</pre>"


class ConfigMigrationWidget:
    """The ipywidgets view of a :class:`ConfigMigrationSession` (display it, or its ``.box``)."""

    def __init__(self, session: Optional[ConfigMigrationSession] = None, text: str = ""):
        import ipywidgets as w

        self.session = session or ConfigMigrationSession()
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
        self.save_path = w.Text(value="memlab_config.json", description="Save as")
        # A Checkbox is 300 px wide by default, which pushed the Save button far right: size it to its label.
        self.overwrite = w.Checkbox(value=False, description="overwrite", indent=False,
                                    layout=w.Layout(width="auto", margin="0 12px"))
        self.save_button = w.Button(description="Save")
        self.save_status = w.HTML()
        self.migrate_button.on_click(self._on_migrate)
        self.upload.observe(self._on_upload, names="value")
        self.format.observe(lambda _change: self.refresh(), names="value")
        self.save_button.on_click(self._on_save)
        self.box = w.VBox([
            self.input, w.HBox([self.migrate_button, self.upload, self.format]), self.status, self.tabs,
            w.HBox([self.save_path, self.overwrite, self.save_button]), self.save_status,
        ])
        if text:
            self._on_migrate()
        else:
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

    def _on_save(self, *_args: Any) -> None:
        try:
            path = self.session.save(self.save_path.value, format=self.format.value, overwrite=self.overwrite.value)
        except (ConfigError, OSError) as exc:
            self.save_status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return
        self.save_status.value = f"Saved to <code>{html.escape(str(path))}</code>."

    def refresh(self) -> None:
        s = self.session
        color = "#b00" if s.error else "inherit"
        self.status.value = f"<span style='color:{color}'>{html.escape(s.status())}</span>"
        self.config_view.value = _pre(s.config_text(self.format.value))
        frame = s.changes_frame()
        self.changes_view.value = frame.to_html(index=False, escape=True) if len(frame) else "<i>No changes.</i>"
        self.warnings_view.value = ("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in s.warnings) + "</ul>"
                                    if s.warnings else "<i>No warnings.</i>")
        self.diff_view.value = _pre(s.diff()) if s.diff() else "<i>No differences.</i>"
        self.save_button.disabled = not s.ok
        # Without a migration the tabs would be an empty bordered box: hide them (the status says why).
        self.tabs.layout.display = None if s.ok else "none"

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.box._repr_mimebundle_(**kwargs)
