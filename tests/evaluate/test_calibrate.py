"""memlab calibrate: refit the calibrated score on labelled data, report ECE before/after, write parameters a
config picks up; migrate_config flags a threshold tuned on the old score."""

from __future__ import annotations

import json

import numpy as np
import pytest

from memlab import Memory
from memlab.cli import main
from memlab.errors import ValidationError
from memlab.evaluate import load_bundled
from memlab.evaluate.calibrate import calibrate
from memlab.migrate import migrate_config
from memlab.ranking.calibration import Calibration, ece


def test_refit_reports_held_out_ece_and_the_config_uses_the_parameters(tmp_path):
    ds = load_bundled("assistant")
    report = calibrate(ds, config={"embedder": {"provider": "hash"}}, modes=("fusion", "dense"))
    assert report.held_out and set(report.after) == {"fusion", "dense"}
    for mode, (before, after) in report.ece().items():
        p, y = report.after[mode]
        assert after == pytest.approx(ece(p, y)) and 0 <= after < 0.1 and len(p) == 10 * len(ds.queries)
    assert "fusion" in report.summary() and "did not see" in report.summary()
    path = report.save(tmp_path / "cal.json")
    assert json.loads(path.read_text())["format"] == "memlab-calibration/1"
    report.plot("dense").savefig(tmp_path / "rel.png")
    assert (tmp_path / "rel.png").stat().st_size > 1000
    # a config pointing at the file scores with it
    refit = Calibration.load(path).model("dense")
    with Memory({"embedder": {"provider": "hash"},
                 "vector_store": {"provider": "faiss", "config": {"calibration": str(path)}}}) as m:
        m.add("I have a dog named Rex", user_id="u", infer=False)
        m.add("The report is due on Friday", user_id="u", infer=False)
        res = m.search("dog", user_id="u", mode="dense", explain=True)["results"]
        cos = np.array([r["score_details"]["semantic_score"] for r in res])
        from memlab.ranking.calibration import features

        X = features({"dense": cos}, refit.features, best={"dense": float(cos.max())})
        assert [r["score"] for r in res] == pytest.approx(refit.predict_proba(X).tolist(), rel=1e-12)


def test_cli_writes_parameters_and_diagram(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["calibrate", "assistant", "--embedder", "hash", "--out", str(out)]) == 0
    assert out.is_file() and out.with_suffix(".png").is_file()
    assert "vector_store.config.calibration" in capsys.readouterr().out


def test_bad_input_is_a_validation_error():
    ds = load_bundled("assistant")
    with pytest.raises(ValidationError, match="modes"):
        calibrate(ds, config={"embedder": {"provider": "hash"}}, modes=("bogus",))
    with pytest.raises(ValidationError, match="k must"):
        calibrate(ds, config={"embedder": {"provider": "hash"}}, k=0)


def test_migrate_config_flags_a_cosine_threshold():
    r = migrate_config({"embedder": {"provider": "hash"}, "threshold": 0.35})
    assert any(c.path == "threshold" and c.old == 0.35 for c in r.changes)
    assert any("threshold=0.35" in w and "calibrated" in w for w in r.warnings)
