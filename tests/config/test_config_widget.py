"""ConfigMigrationSession (plain logic) and the thin ConfigMigrationWidget view over it."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys

import pytest

from memlab.errors import ConfigError
from memlab.widgets.config_migration import ConfigMigrationSession, ConfigMigrationWidget
from tests.config.cfg_cases import GUIDE_FLAT


def test_session_migrates_text_and_saves(tmp_path):
    s = ConfigMigrationSession()
    assert not s.ok and "Paste or upload" in s.status()
    assert s.migrate_text(json.dumps(GUIDE_FLAT))
    assert s.status().startswith("Migrated: 6 change(s), 1 warning(s)")
    frame = s.changes_frame()
    assert list(frame.columns) == ["path", "old", "new", "reason"]
    assert "vector_store.provider" in set(frame["path"])
    assert any("qdrant" in w for w in s.warnings)
    assert "+++ migrated config" in s.diff()
    assert json.loads(s.config_text("json"))["vector_store"]["provider"] == "faiss"
    assert "provider: faiss" in s.config_text("yaml")
    saved = s.save(tmp_path / "new.yaml")
    assert "provider: faiss" in saved.read_text()
    with pytest.raises(ConfigError, match="already exists"):
        s.save(tmp_path / "new.yaml")
    s.save(tmp_path / "new.yaml", format="json", overwrite=True)
    assert json.loads((tmp_path / "new.yaml").read_text())["llm"]["provider"] == "openai"


def test_session_errors_keep_nothing_and_write_nothing(tmp_path):
    s = ConfigMigrationSession()
    assert not s.migrate_text('{"embedder": {"provider": "opnai"}}')
    assert s.error and "opnai" in s.status() and s.changes_frame().empty and s.diff() == ""
    with pytest.raises(ConfigError, match="Nothing to save"):
        s.save(tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()
    assert not s.migrate_text("   ") and "Paste a config" in s.error
    assert not s.migrate_upload("bin.json", b"\xff\xfe\x00") and "not UTF-8" in s.error
    assert s.migrate_text("{}") and s.status().endswith("already a current memlab config, 0 warning(s).")
    with pytest.raises(ConfigError, match="does not exist"):
        s.save(tmp_path / "missing-dir" / "x.json")
    with pytest.raises(ConfigError, match="Unknown format"):
        s.config_text("toml")


def test_widget_paste_migrate_save(tmp_path):
    w = ConfigMigrationWidget()
    assert w.save_button.disabled
    w.input.value = json.dumps(GUIDE_FLAT)
    w.migrate_button.click()
    assert "6 change(s)" in w.status.value and not w.save_button.disabled
    assert "<table" in w.changes_view.value and "qdrant" in w.warnings_view.value
    assert "&quot;faiss&quot;" in w.config_view.value and "+++ migrated config" in w.diff_view.value
    w.format.value = "yaml"
    assert "provider: faiss" in w.config_view.value
    w.save_path.value = str(tmp_path / "cfg.yaml")
    w.save_button.click()
    assert "Saved to" in w.save_status.value and (tmp_path / "cfg.yaml").exists()
    w.save_button.click()
    assert "already exists" in w.save_status.value
    w.input.value = "{oops"
    w.migrate_button.click()
    assert "Error:" in w.status.value and w.save_button.disabled and "No changes" in w.changes_view.value
    # a failed migration hides the (empty) tabs, and the old save error does not linger
    assert w.tabs.layout.display == "none" and w.save_status.value == ""
    w.input.value = json.dumps(GUIDE_FLAT)
    w.migrate_button.click()
    assert w.tabs.layout.display is None and "6 change(s)" in w.status.value


def test_widget_save_error_cleared_by_next_migration(tmp_path):
    w = ConfigMigrationWidget(text=json.dumps(GUIDE_FLAT))
    w.save_path.value = str(tmp_path / "no-such-dir" / "cfg.json")
    w.save_button.click()
    assert "does not exist" in w.save_status.value
    w.input.value = '{"embedder": "huggingface"}'
    w.migrate_button.click()
    assert w.save_status.value == "" and "Migrated" in w.status.value


def test_widget_upload():
    w = ConfigMigrationWidget()
    w.upload.value = ({"name": "old.yaml", "type": "application/x-yaml", "size": 30,
                       "content": memoryview(b"embedder: huggingface\nfoo: 1\n"),
                       "last_modified": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)},)
    assert "Migrated old.yaml" in w.status.value
    assert w.input.value.startswith("embedder: huggingface")
    assert "foo" in w.warnings_view.value  # the unknown key is reported


def test_widget_initial_text_and_display():
    w = ConfigMigrationWidget(text='{"llm": "groq"}')
    assert "GROQ_API_KEY" in w.warnings_view.value
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_importing_memlab_widgets_does_not_import_ipywidgets():
    code = "import sys, memlab.widgets, memlab.migrate; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
