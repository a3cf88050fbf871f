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
    # a YAML name with format json is refused, not written with the wrong content
    with pytest.raises(ConfigError, match="new.yaml is a YAML file name but the format is JSON; name it new.json"):
        s.save(tmp_path / "new.yaml", format="json", overwrite=True)
    assert "provider: faiss" in (tmp_path / "new.yaml").read_text()
    written = s.save(tmp_path / "new.json", format="json")
    assert written.is_absolute() and json.loads(written.read_text())["llm"]["provider"] == "openai"


def test_session_errors_keep_nothing_and_write_nothing(tmp_path):
    s = ConfigMigrationSession()
    assert not s.migrate_text('{"embedder": {"provider": "opnai"}}')
    assert s.error and "opnai" in s.status() and s.changes_frame().empty and s.diff() == ""
    with pytest.raises(ConfigError, match="Nothing saved: the config does not migrate"):
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
    assert f"Saved YAML" in w.save_status.value and str(tmp_path / "cfg.yaml") in w.save_status.value
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


def test_paste_then_save_writes_the_pasted_config(tmp_path):
    """The teacher's bug: paste new text, press Save (not Migrate): the file holds the pasted config."""
    w = ConfigMigrationWidget(text=json.dumps(GUIDE_FLAT))
    w.input.value = '{"embedder": {"provider": "huggingface", "config": {"model": "all-MiniLM-L6-v2"}}}'
    # the old result is marked out of date (status, dimmed tabs); Save stays usable
    assert "text changed since the last migration" in w.status.value and "memlab-stale" in w.tabs._dom_classes
    assert not w.save_button.disabled
    w.save_path.value = str(tmp_path / "cfg.json")
    w.save_button.click()
    saved = json.loads((tmp_path / "cfg.json").read_text())
    assert saved["embedder"]["provider"] == "minilm" and "qdrant" not in json.dumps(saved)
    assert "Migrated: " in w.status.value and "memlab-stale" not in w.tabs._dom_classes  # screen shows it now
    # pasted text that does not migrate: nothing is written, the error says why
    w.input.value = "{oops"
    w.save_path.value = str(tmp_path / "broken.json")
    w.save_button.click()
    assert not (tmp_path / "broken.json").exists() and "Nothing saved" in w.save_status.value
    assert "line 1, column 2" in w.status.value and "&lt;unicode string&gt;" not in w.status.value


def test_format_renames_the_file_and_enter_saves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = ConfigMigrationWidget(text=json.dumps(GUIDE_FLAT))
    assert w.save_path.value == "memlab_config.json"
    w.format.value = "yaml"
    assert w.save_path.value == "memlab_config.yaml"
    w.save_path._handle_custom_msg({"event": "submit"}, [])  # Enter in the "Save as" box
    path = tmp_path / "memlab_config.yaml"
    assert "provider: faiss" in path.read_text()
    assert str(path) in w.save_status.value  # the full path, not just the name
    w.format.value = "json"
    assert w.save_path.value == "memlab_config.json"
    w.save_path.value = "notes.txt"
    w.format.value = "yaml"
    assert w.save_path.value == "notes.txt"  # a name of the user's own choosing is left alone


def test_diff_shows_what_changed_coloured():
    w = ConfigMigrationWidget(text=json.dumps(GUIDE_FLAT))
    diff = w.session.diff()
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert len(added) <= 15, diff  # not every default of the config (30+ lines)
    assert '"embedding_model_dims": 1536' in diff and '"provider": "faiss"' in diff and "bm25_k1" not in diff
    assert "background:#e6ffec" in w.diff_view.value and "background:#ffebe9" in w.diff_view.value


def test_importing_memlab_widgets_does_not_import_ipywidgets():
    code = "import sys, memlab.widgets, memlab.migrate; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
