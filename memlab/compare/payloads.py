"""Structural diffs of responses, and adapters between the v1.0 and v1.1 response shapes.

``diff_payloads(before, after)`` compares the *shape* of two responses of the same call —
v1.0 bare lists vs v1.1 ``{"results": [...]}``, memlab vs mem0-shaped items — and says what
client code must change. ``diff_versions(memory, "search", ...)`` runs one read-only call
under both formats. ``to_v10`` / ``to_v11`` / ``adapt_memory`` let code written for one
shape run against the other while it is being migrated.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Any, Optional

from memlab.errors import ValidationError

LIST_CALLS = ("add", "get_all", "search")
READ_ONLY_CALLS = ("get_all", "search")


# ---------------------------------------------------------------------------- adapters
def results_of(response: Any) -> list:
    """The list of items of a response in either format (v1.0 list or v1.1 ``{"results": [...]}``)."""
    if isinstance(response, list):
        return response
    if isinstance(response, dict) and isinstance(response.get("results"), list):
        return response["results"]
    raise ValidationError(
        "Expected a v1.0 list or a v1.1 dict with a 'results' list, got "
        f"{type(response).__name__}{' with keys ' + ', '.join(map(str, response)) if isinstance(response, dict) else ''}."
    )


def to_v10(response: Any) -> list:
    """What v1.0 client code expects: the bare list of items (``relations`` are dropped)."""
    return results_of(response)


def to_v11(response: Any, *, relations: Optional[list] = None) -> dict:
    """What v1.1 client code expects: ``{"results": [...]}`` (plus ``relations`` if given or present)."""
    if isinstance(response, dict) and isinstance(response.get("results"), list):
        out = dict(response)
        if relations is not None:
            out["relations"] = relations
        return out
    out = {"results": results_of(response)}
    if relations is not None:
        out["relations"] = relations
    return out


class AdaptedMemory:
    """A memory whose ``add`` / ``get_all`` / ``search`` return the shape ``expects`` names.

    Every other attribute is the wrapped memory's own. Use it to keep old client code
    running against a memory in the other format while the code is migrated.
    """

    def __init__(self, memory: Any, expects: str):
        if expects not in ("v1.0", "v1.1"):
            raise ValidationError(f"expects must be 'v1.0' or 'v1.1', got {expects!r}.")
        self._memory = memory
        self.expects = expects

    def _adapt(self, response: Any) -> Any:
        if isinstance(response, dict) and "results" not in response:
            return response  # e.g. a trace-only or message dict: not a list response
        return to_v10(response) if self.expects == "v1.0" else to_v11(response)

    def add(self, *args, **kwargs):
        return self._adapt(self._memory.add(*args, **kwargs))

    def get_all(self, *args, **kwargs):
        return self._adapt(self._memory.get_all(*args, **kwargs))

    def search(self, *args, **kwargs):
        return self._adapt(self._memory.search(*args, **kwargs))

    def __getattr__(self, name: str):
        return getattr(self._memory, name)

    def __repr__(self) -> str:
        return f"AdaptedMemory({self._memory!r}, expects={self.expects!r})"


def adapt_memory(memory: Any, expects: str = "v1.0") -> AdaptedMemory:
    """Wrap ``memory`` so list calls return v1.0 bare lists (default) or v1.1 dicts."""
    return AdaptedMemory(memory, expects)


# ---------------------------------------------------------------------------- shapes
def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _diff(before: Any, after: Any, path: str, out: list[dict]) -> None:
    """Append the structural differences of ``before`` and ``after`` at ``path`` to ``out``."""
    if isinstance(before, list) and isinstance(after, dict) and isinstance(after.get("results"), list):
        out.append({"path": path, "change": "wrapped", "before": "list",
                    "after": "dict{" + ", ".join(map(str, after)) + "}"})
        for key in after:
            if key != "results":
                out.append({"path": f'{path}["{key}"]', "change": "added", "before": None,
                            "after": _type_name(after[key])})
        _diff(before, after["results"], f'{path}["results"]', out)
        return
    if isinstance(before, dict) and isinstance(before.get("results"), list) and isinstance(after, list):
        out.append({"path": path, "change": "unwrapped", "before": "dict{" + ", ".join(map(str, before)) + "}",
                    "after": "list"})
        for key in before:
            if key != "results":
                out.append({"path": f'{path}["{key}"]', "change": "removed", "before": _type_name(before[key]),
                            "after": None})
        _diff(before["results"], after, path, out)
        return
    if type(before) is not type(after) and not (isinstance(before, (int, float)) and isinstance(after, (int, float))
                                                and not isinstance(before, bool) and not isinstance(after, bool)):
        out.append({"path": path, "change": "type_changed", "before": _type_name(before), "after": _type_name(after)})
        return
    if isinstance(before, dict):
        for key in before:
            sub = f'{path}["{key}"]'
            if key not in after:
                out.append({"path": sub, "change": "removed", "before": _type_name(before[key]), "after": None})
            else:
                _diff(before[key], after[key], sub, out)
        for key in after:
            if key not in before:
                out.append({"path": f'{path}["{key}"]', "change": "added", "before": None,
                            "after": _type_name(after[key])})
    elif isinstance(before, list):
        # Items are compared field by field over the union of their shapes, so one optional
        # field in one item is reported once, not per item.
        merged_b, merged_a = _merge_items(before), _merge_items(after)
        if merged_b is not None and merged_a is not None:
            _diff(merged_b, merged_a, f"{path}[i]", out)


def _merge_items(items: list) -> Any:
    """A representative of a list's items: dicts merged key-wise (first non-null value wins)."""
    if not items:
        return None
    if all(isinstance(x, dict) for x in items):
        merged: dict = {}
        for item in items:
            for key, value in item.items():
                if merged.get(key) is None:
                    merged[key] = value
        return merged
    return items[0]


def _advice(change: dict, call: str) -> str:
    path, kind = change["path"], change["change"]
    if kind == "wrapped":
        return (f'{call}() now returns a dict: iterate `response["results"]` instead of `response` '
                "(or wrap old code with memlab.compare.adapt_memory(memory, 'v1.0')).")
    if kind == "unwrapped":
        return f'{call}() returns a bare list here: iterate `response` instead of `response["results"]`.'
    field_path = path.replace("$", "response", 1)
    if kind == "removed":
        return f"`{field_path}` is gone: read it with .get() or stop relying on it."
    if kind == "added":
        if path.endswith('["relations"]'):
            return 'A "relations" list is present (graph store): handle `response["relations"]` if you need it.'
        return f"`{field_path}` is new ({change['after']}): optional to use."
    return f"`{field_path}` changed type from {change['before']} to {change['after']}: update code that reads it."


@dataclass
class PayloadDiff:
    """Structural differences of two responses of one call, with the client-code changes they imply."""

    call: str
    changes: list[dict]
    same_items: Optional[bool]
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.changes

    def client_changes(self) -> list[str]:
        """What client code reading the *before* response must change to read the *after* one."""
        return [_advice(c, self.call) for c in self.changes]

    def to_pandas(self):
        import pandas as pd

        rows = [{**c, "client_change": _advice(c, self.call)} for c in self.changes]
        return pd.DataFrame(rows, columns=["path", "change", "before", "after", "client_change"])

    def to_markdown(self) -> str:
        lines = [f"### {self.call}(): {len(self.changes)} structural change(s)"]
        if self.same_items is not None:
            lines.append(f"Items are {'the same' if self.same_items else 'different'} on both sides.")
        lines += [f"- `{c['path']}` {c['change']}: {_advice(c, self.call)}" for c in self.changes]
        lines += [f"> {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td><code>{html.escape(c['path'])}</code></td><td>{c['change']}</td>"
            f"<td>{html.escape(str(c['before']))}</td><td>{html.escape(str(c['after']))}</td>"
            f"<td>{html.escape(_advice(c, self.call))}</td></tr>" for c in self.changes)
        body = (f"<table><tr><th>path</th><th>change</th><th>before</th><th>after</th><th>client code</th></tr>"
                f"{rows}</table>") if rows else "<p>No structural change.</p>"
        notes = "".join(f"<p><small>{html.escape(n)}</small></p>" for n in self.notes)
        return f"<h4>{html.escape(self.call)}(): payload diff</h4>{body}{notes}"


def diff_payloads(before: Any, after: Any, *, call: str = "search") -> PayloadDiff:
    """Structural diff of two responses of the same call (``$`` is the response).

    Reports a wrapper change (v1.0 list ↔ v1.1 ``{"results": ...}``), keys added/removed and
    type changes, with item fields compared over the union of all items. ``same_items`` says
    whether both responses carry the same items (when both are list responses).
    """
    out: list[dict] = []
    _diff(before, after, "$", out)
    try:
        same: Optional[bool] = results_of(before) == results_of(after)
    except ValidationError:
        same = None
    return PayloadDiff(call, out, same)


def _with_version(memory: Any, version: str) -> Any:
    """A shallow copy of ``memory`` answering in ``version`` (same store; the caller's object is untouched)."""
    view = copy.copy(memory)
    view.config = memory.config.model_copy(update={"version": version})
    return view


def diff_versions(memory: Any, call: str, *args, **kwargs) -> PayloadDiff:
    """Run one read-only call (``search`` or ``get_all``) under v1.0 and v1.1 and diff the responses.

    ``add`` writes, so it cannot be run twice for a comparison: record its two responses and
    use :func:`diff_payloads` instead.
    """
    if call not in READ_ONLY_CALLS:
        raise ValidationError(
            f"diff_versions runs read-only calls ({', '.join(READ_ONLY_CALLS)}); {call!r} is not one. "
            "For add(), pass two recorded responses to diff_payloads()."
        )
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = getattr(_with_version(memory, "v1.0"), call)(*args, **kwargs)
    for w in caught:
        if issubclass(w.category, DeprecationWarning):
            notes.append(f"v1.0 emits DeprecationWarning: {w.message}")
    new = getattr(_with_version(memory, "v1.1"), call)(*args, **kwargs)
    diff = diff_payloads(old, new, call=call)
    diff.notes.extend(dict.fromkeys(notes))
    return diff
