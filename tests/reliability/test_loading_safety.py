"""Safety of loading: importing memlab opens no socket and loads no model; no unpickling of
untrusted data outside the guarded mem0 importer; no telemetry client."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.reliability._rel_support import REPO

PACKAGE = REPO / "memlab"
PICKLE_ALLOWED = PACKAGE / "migrate" / "importers"  # the guarded mem0 (<=1.0.9 .pkl) importer only


def test_import_and_basic_use_open_no_socket_and_load_no_model():
    code = r"""
import json, socket, sys
attempts = []
def deny(*args, **kwargs):
    attempts.append(repr(args)[:100])
    raise OSError("network access is disabled in this test")
socket.socket.connect = deny
socket.socket.connect_ex = deny
socket.create_connection = deny
socket.getaddrinfo = deny
import memlab, memlab.cli, memlab.errors, memlab.config
heavy_after_import = [n for n in ("torch", "sentence_transformers", "transformers", "openai", "httpx",
                                  "requests", "huggingface_hub", "posthog", "sentry_sdk") if n in sys.modules]
from memlab import Memory
m = Memory({"embedder": {"provider": "hash"}})
m.add("I like tea", user_id="u", infer=False)
m.search("tea", user_id="u")
heavy_after_use = [n for n in ("torch", "sentence_transformers", "transformers", "posthog", "sentry_sdk")
                   if n in sys.modules]
print(json.dumps({"attempts": attempts, "heavy_after_import": heavy_after_import, "heavy_after_use": heavy_after_use}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res == {"attempts": [], "heavy_after_import": [], "heavy_after_use": []}


UNSAFE = [
    (re.compile(r"\b(c?pickle|cPickle|_pickle|dill|joblib|torch)\.(load|loads|Unpickler)\b"), "unpickling"),
    (re.compile(r"\bpd\.read_pickle\b|\bread_pickle\("), "unpickling"),
    (re.compile(r"allow_pickle\s*=\s*True"), "unpickling"),
    (re.compile(r"\b(shelve\.open|marshal\.loads?)\b"), "unpickling"),
    (re.compile(r"\byaml\.(load|unsafe_load|full_load)\s*\("), "unsafe YAML"),
    (re.compile(r"^\s*(import|from)\s+(posthog|sentry_sdk|segment|mixpanel)\b", re.M), "telemetry"),
]


def test_no_unpickling_or_telemetry_outside_the_guarded_importer():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern, what in UNSAFE:
            for match in pattern.finditer(text):
                if what == "unpickling" and PICKLE_ALLOWED in path.parents:
                    continue
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(REPO)}:{line}: {what}: {match.group(0)!r}")
    assert not found, "\n".join(found)


def test_grep_patterns_do_catch_what_they_look_for():
    """The scanner above is only worth something if its patterns match the real thing."""
    samples = {"pickle.load(f)": "unpickling", "cPickle.loads(b)": "unpickling", "np.load(p, allow_pickle=True)":
               "unpickling", "yaml.load(text)": "unsafe YAML", "import posthog": "telemetry"}
    for src, what in samples.items():
        assert any(p.search(src) and w == what for p, w in UNSAFE), src
    assert not any(p.search("yaml.safe_load(text)") for p, _ in UNSAFE)


class _Exploit:
    """A pickle payload that would run code on a plain ``pickle.load``."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_the_guarded_mem0_unpickler_runs_no_code(tmp_path):
    import pickle

    import pytest

    from memlab.errors import MigrationError

    safe = pytest.importorskip("memlab.migrate.importers.safe_pickle")
    marker = tmp_path / "pwned"
    for payload in (pickle.dumps(_Exploit(str(marker))), pickle.dumps({"docstore": [_Exploit(str(marker))]}),
                    pickle.dumps(({"ok": 1}, _Exploit(str(marker))), protocol=2)):
        with pytest.raises(MigrationError):
            safe.load_builtin_pickle(payload, "index.pkl")
    assert not marker.exists()
    assert safe.load_builtin_pickle(pickle.dumps({"a": [1, "x", (2.5, None)]}), "ok.pkl") == {"a": [1, "x", (2.5, None)]}
