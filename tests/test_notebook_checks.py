"""The notebooks' checked outputs really are checked by nbval.

nbval (``--nbval-lax``) compares a cell's stored output only when the cell carries a marker it
honours (``# NBVAL_CHECK_OUTPUT`` as a comment line of its own, or the ``nbval-check-output``
tag) and the stored cell was executed. A trailing ``x  # NBVAL_CHECK_OUTPUT`` looks the same to a
reader and is silently ignored. These tests use nbval's own functions, so they follow nbval's rule.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import find_comment_markers

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _tool():
    spec = importlib.util.spec_from_file_location("refresh_notebooks", REPO / "tools" / "refresh_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


refresh = _tool()


def _code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_nbval_marker_is_one_nbval_honours(path):
    bad = [line for cell in _code_cells(path) for line in refresh.ignored_markers(cell)]
    assert not bad, f"{path.name}: nbval ignores these markers; put each on its own comment line: {bad}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_checked_cells_hold_executed_outputs_and_others_none(path):
    cells = _code_cells(path)
    checked = [c for c in cells if refresh.is_checked(c)]
    assert checked, f"{path.name} checks no output at all"
    for cell in checked:  # nbval skips the comparison of an unexecuted or output-less cell
        assert cell.execution_count is not None and cell.outputs, cell.source[:80]
    for cell in cells:
        if not refresh.is_checked(cell):
            assert not cell.outputs, f"{path.name}: unchecked cell keeps outputs: {cell.source[:80]!r}"


def _checked_sources(name: str) -> str:
    return "\n".join(c.source for c in _code_cells(REPO / "notebooks" / name) if refresh.is_checked(c))


def test_tutorials_check_their_key_results():
    nb01 = _checked_sources("01_quickstart.ipynb")
    assert "m.search(" in nb01 and "threshold=" in nb01 and "m.update(" in nb01 and "history(" in nb01
    nb03 = _checked_sources("03_threshold_evaluation.ipynb")
    assert "aggregate(" in nb03 and "bootstrap_ci(" in nb03 and "recommend_threshold(" in nb03
    outputs = json.dumps([c.outputs for c in _code_cells(REPO / "notebooks" / "03_threshold_evaluation.ipynb")
                          if refresh.is_checked(c)])
    assert "(max F1)" in outputs and "ndcg" in outputs


@pytest.mark.parametrize("source, checked", [
    ("# NBVAL_CHECK_OUTPUT\nprint(1)", True),
    ("print(1)\n   #NBVAL_CHECK_OUTPUT", True),
    ("## NBVAL_CHECK_OUTPUT\nx", True),
    ("print(1)  # NBVAL_CHECK_OUTPUT", False),          # trailing: nbval ignores it
    ("# NBVAL_CHECK_OUTPUT: the metrics\nx", False),   # extra words: not the marker
    ('s = "# NBVAL_CHECK_OUTPUT"', False),
    ("# NBVAL_IGNORE_OUTPUT\nx", False),
    ("x = 1", False),
])
def test_refresh_tool_uses_nbvals_rule(source, checked):
    cell = nbformat.v4.new_code_cell(source)
    assert refresh.is_checked(cell) is checked
    assert (dict(find_comment_markers(source)).get("check") is True) is checked  # nbval agrees
    mentions = "NBVAL_" in source
    assert bool(refresh.ignored_markers(cell)) is (mentions and not list(find_comment_markers(source)))


def test_refresh_tool_honours_the_metadata_tag_and_refuses_ignored_markers(tmp_path):
    tagged = nbformat.v4.new_code_cell("print(1)", metadata={"tags": ["nbval-check-output"]})
    assert refresh.is_checked(tagged)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)  # NBVAL_CHECK_OUTPUT")])
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(SystemExit, match="nbval ignores these markers"):
        refresh.refresh(path)


def _run_nbval(path: Path) -> dict[int, str]:
    """Run nbval on one notebook in a subprocess; returns {code cell number: outcome}."""
    (path.parent / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", str(path.parent / "pytest.ini"),
         "--rootdir", str(path.parent), "--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with",
         str(REPO / "tests" / "nbval_sanitize.cfg"), "-rA", "-q", str(path)],
        cwd=path.parent, env=env, capture_output=True, text=True, timeout=900)
    outcomes = {}
    for status, cell in re.findall(r"^(PASSED|FAILED|ERROR|SKIPPED)\S* .*?::Cell (\d+)", proc.stdout, re.M):
        outcomes[int(cell)] = status
    assert outcomes, proc.stdout[-3000:] + proc.stderr[-3000:]
    return outcomes


def _corrupt(nb, cell) -> None:
    for out in cell.outputs:
        if out.output_type == "stream":
            out.text = "garbage that the code never prints\n"
        else:
            out.data = {"text/plain": "'garbage'"}


def _corruption_case(path: Path, tmp_path: Path, *, trailing_one: bool):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    checked = [i for i, c in enumerate(code) if refresh.is_checked(c)]
    for i in checked:
        _corrupt(nb, code[i])
    hidden = None
    if trailing_one:  # one checked cell gets the marker nbval ignores: its garbage goes unnoticed
        hidden = checked[-1]
        src = code[hidden].source.replace("# NBVAL_CHECK_OUTPUT\n", "")
        lines = src.splitlines()
        code[hidden].source = "\n".join(lines[:-1] + [lines[-1] + "  # NBVAL_CHECK_OUTPUT"])
    copy_path = tmp_path / path.name
    nbformat.write(nb, copy_path)
    return checked, hidden, _run_nbval(copy_path)


def test_a_corrupted_stored_output_makes_nbval_fail(tmp_path):
    """Notebook 02 (fast): every checked cell with a corrupted output fails; a corrupted output
    under a trailing marker passes, which is why the marker rule above is enforced."""
    checked, hidden, outcomes = _corruption_case(REPO / "notebooks" / "02_config_migration.ipynb", tmp_path,
                                                 trailing_one=True)
    assert len(checked) >= 2
    assert {i for i, s in outcomes.items() if s == "FAILED"} == set(checked) - {hidden}
    assert outcomes[hidden] == "PASSED"
    assert all(s == "PASSED" for i, s in outcomes.items() if i not in checked)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_checked_cell_of_every_notebook_is_compared(path, tmp_path):
    checked, _, outcomes = _corruption_case(path, tmp_path, trailing_one=False)
    assert {i for i, s in outcomes.items() if s == "FAILED"} == set(checked)



# --------------------------------------------------------------------------- claims against numbers
# A markdown sentence that states a result is a claim about the numbers a checked cell prints. Each entry:
# (notebook, a phrase of the claim, the first line of the checked cell that shows the numbers, a check of
# that cell's stored output). A claim reworded without its check, or numbers that stop agreeing, fail here.
def _floats(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+", text)]


def _table_row(text: str, name: str) -> list[float]:
    line = next(line for line in text.splitlines() if line.strip().startswith(name))
    return _floats(line)


def _allergy_cut(out: str) -> bool:
    at_01, at_03 = out.splitlines()[:2]
    kept_01, kept_03 = _floats(at_01)[1:], _floats(at_03)[1:]
    return (len(kept_01) == 2 and "sister" in at_01 and 0.1 <= kept_01[1] < 0.3 and len(kept_03) == 1
            and "allergic" in at_03 and kept_03[0] >= 0.3)


CLAIMS = [
    ("01_quickstart.ipynb", "finds the sister's home first", 'for hit in m.search("Where does she live?"',
     lambda out: "sister" in out.splitlines()[0]),
    ("01_quickstart.ipynb", "the sister's home (about 0.2) still comes back for an allergy question",
     "for t in (0.1, 0.3):", _allergy_cut),
    ("03_threshold_evaluation.ipynb", "still gets 5 results from a dense model",
     "import pandas as pd", lambda out: _table_row(out, "empty_rate_unanswerable")[:2] == [0.0, 0.0]),
    ("03_threshold_evaluation.ipynb", "so it abstains on most unanswerable questions",
     "import pandas as pd", lambda out: _table_row(out, "empty_rate_unanswerable")[2] > 0.5),
    ("04_before_after.ipynb", "A store compared with itself shows no change", "hash_config = ",
     lambda out: out.strip() == "True [1.0, 1.0, 0.0]"),
    ("06_inference_pipeline.ipynb", "so every fact is an `ADD`", 'for item in first["results"]:',
     lambda out: all(line.startswith("ADD ") for line in out.strip().splitlines())),
]


def _output_text(cell) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif "text/plain" in out.get("data", {}):
            parts.append(out.data["text/plain"])
    return "".join(parts)


@pytest.mark.parametrize("name, phrase, cell_start, check", CLAIMS, ids=[f"{c[0][:2]}:{c[1][:30]}" for c in CLAIMS])
def test_markdown_claims_agree_with_the_checked_numbers(name, phrase, cell_start, check):
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    prose = " ".join(" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown")
    assert phrase in prose, f"{name}: the claim {phrase!r} changed; update its check here"
    cell = next(c for c in nb.cells if c.cell_type == "code" and cell_start in c.source)
    assert refresh.is_checked(cell), f"{name}: the cell behind {phrase!r} must be NBVAL-checked"
    assert check(_output_text(cell)), f"{name}: {phrase!r} disagrees with:\n{_output_text(cell)}"


def test_retracted_claims_stay_retracted():
    """Claims that contradicted their own tables once (issue 24) must not come back."""
    text = (REPO / "notebooks" / "03_threshold_evaluation.ipynb").read_text()
    assert "at least as well as dense" not in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_title_numbers_match_and_links_resolve_in_jupyter(path):
    """A notebook titled with another's number, or a link JupyterLab cannot open (outside the notebooks
    folder it serves), is what a reader notices first."""
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith(f"# {path.name[:2]} ·"), cells[0].source[:60]
    for cell in cells:
        if cell.cell_type != "markdown":
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", cell.source):
            if re.match(r"https?://", target):
                continue
            local = (path.parent / target.split("#")[0]).resolve()
            assert local.is_relative_to(path.parent.resolve()) and local.exists(), f"{path.name}: dead link {target}"
