"""Exports write only where the user asked: a planted symlink next to the target is never followed."""

from __future__ import annotations

import os

from memlab import Memory
from memlab.migrate import export


def test_export_does_not_follow_a_planted_partial_symlink(tmp_path, hash_config):
    m = Memory(hash_config)
    m.add("private memory", user_id="u", infer=False)
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("untouched")
    out = tmp_path / "out" / "export.jsonl"
    out.parent.mkdir()
    os.symlink(victim, out.parent / "export.jsonl.partial")  # the old fixed temp name
    export(m, out)
    assert victim.read_text() == "untouched"
    assert "private memory" in out.read_text()
    assert not out.is_symlink()
    leftovers = [p.name for p in out.parent.iterdir() if p.name.endswith(".partial") and not p.is_symlink()]
    assert leftovers == []
