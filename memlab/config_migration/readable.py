"""What a person reads about a migration: parse errors that point at the line, and a diff of what changed.

* :func:`parse_text` reads JSON or YAML text. When neither parses, the error names the line and
  column and shows that line with a caret under the spot, instead of the YAML parser's internals
  (``<unicode string>``, "flow node"); text that starts with ``{`` or ``[`` is reported as JSON.
* :func:`diff_view` trims the migrated config to what a reader compares with the input: the keys
  the input had, the keys a change touched, each block's provider, and values that differ from the
  provider's defaults.
  A diff of the full config would list every default (30+ ``+`` lines for a three-key input).
"""

from __future__ import annotations

import json
from typing import Any, Optional

from memlab.errors import ConfigError


def _pointer(text: str, line: int, column: int) -> str:
    """The offending line and a caret under the column (both 1-based), indented."""
    lines = text.splitlines() or [""]
    line = min(max(line, 1), len(lines))
    shown = lines[line - 1]
    if len(shown) > 100:  # keep the caret's neighbourhood of a long line
        start = max(0, column - 50)
        shown, column = ("…" if start else "") + shown[start:start + 100], column - start + (1 if start else 0)
    return f"    {shown}\n    {' ' * max(column - 1, 0)}^"


def _json_error(text: str, exc: json.JSONDecodeError) -> str:
    return (f"The config is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}:\n"
            f"{_pointer(text, exc.lineno, exc.colno)}\n"
            "JSON needs double-quoted keys and strings, commas between items and no trailing comma.")


def _yaml_error(text: str, exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return f"The config is neither valid JSON nor valid YAML: {problem}."
    line, column = mark.line + 1, mark.column + 1
    return (f"The config is neither valid JSON nor valid YAML: {problem} at line {line}, column {column}:\n"
            f"{_pointer(text, line, column)}")


def parse_text(text: str, hint: str = "") -> Any:
    """Parse JSON, else YAML (safe loader); a :class:`ConfigError` that points at the faulty spot."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as json_exc:
        if hint == ".json" or text.lstrip()[:1] in ("{", "["):
            json_first = json_exc
        else:
            json_first = None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        if json_first is not None:  # it looks like JSON: the JSON error is the one that helps
            raise ConfigError(_json_error(text, json_first)) from None
        raise ConfigError(_yaml_error(text, exc)) from None


def _defaults(config: dict) -> dict:
    """The config each block's provider would have with an empty ``config`` (``{}`` where it cannot be built)."""
    from memlab.config import MemoryConfig

    out: dict = {}
    try:
        out.update({k: v for k, v in MemoryConfig().to_dict().items() if not isinstance(v, dict)})
    except ConfigError:
        pass
    for block, value in config.items():
        if not isinstance(value, dict) or "provider" not in value:
            continue
        try:
            out[block] = MemoryConfig.from_dict({block: {"provider": value["provider"]}}).to_dict().get(block, {})
        except ConfigError:
            out[block] = {"provider": value["provider"]}
    return out


def _trim(new: Any, source: Any, default: Any, path: str, touched: set) -> Any:
    if not isinstance(new, dict):
        return new
    kept = {}
    for key, value in new.items():
        sub = f"{path}.{key}" if path else key
        src = source.get(key) if isinstance(source, dict) else None
        dflt = default.get(key) if isinstance(default, dict) else None
        in_source = isinstance(source, dict) and key in source
        if in_source or sub in touched or key == "provider" or value != dflt:
            kept[key] = _trim(value, src, dflt, sub, touched)
    return kept


def diff_view(config: dict, source: Optional[dict], change_paths: list[str]) -> dict:
    """``config`` without the untouched defaults (see the module docstring)."""
    touched: set = set()
    for raw in change_paths:
        for part in raw.split(" -> "):
            bits = part.strip().split(".")
            touched.update(".".join(bits[:i]) for i in range(1, len(bits) + 1))
    return _trim(config, source or {}, _defaults(config), "", touched)
