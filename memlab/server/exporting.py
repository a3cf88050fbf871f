"""Memory exports with a schema (``client.create_memory_export(schema, ...)``), computed offline.

Two schema forms are understood:

* the migration guide's *section* form::

      {"memories": {"fields": ["id", "content", "metadata", ...], "filters": {"user_id": "u1"}},
       "users": {"fields": ["id", "user_id", "name", "email"]}}

  -> ``{"memories": [{...}, ...], "users": [{...}, ...]}``, each record holding exactly the
  listed fields (``content`` is the memory text; fields memlab does not have, such as a
  user's ``email``, are null);

* a JSON Schema (``{"type": "object", "properties": {...}}``, e.g. a pydantic model's
  ``model_json_schema()``): every array-of-objects property is filled with the memories,
  each item holding the item schema's properties; integer properties named like a count
  (``count``, ``total``, ``total_memories``) get the number of memories. The result is then
  validated against the schema, and a schema memlab cannot fill is refused with a 400.

The platform fills a JSON Schema with an LLM; memlab fills it deterministically, field by field.
"""

from __future__ import annotations

import json
from typing import Any

from memlab.errors import ValidationError

MEMORY_FIELDS = {
    "id": "id", "memory_id": "id", "content": "memory", "memory": "memory", "text": "memory", "data": "memory",
    "metadata": "metadata", "created_at": "created_at", "updated_at": "updated_at", "hash": "hash",
    "user_id": "user_id", "agent_id": "agent_id", "run_id": "run_id", "actor_id": "actor_id", "role": "role",
    "categories": "categories", "state": "state",
}
ENTITY_FIELDS = {"id", "name", "type", "total_memories", "created_at", "updated_at", "metadata", "email",
                 "user_id", "agent_id", "run_id"}
SECTIONS = {"memories": None, "users": "user", "agents": "agent", "runs": "run"}
COUNT_NAMES = {"count", "total", "total_memories", "memory_count"}


def parse_schema(schema: Any) -> dict:
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"schema is a string but not valid JSON: {exc}.") from None
    if not isinstance(schema, dict) or not schema:
        raise ValidationError("schema must be a non-empty JSON object (section form or JSON Schema).")
    return schema


def is_json_schema(schema: dict) -> bool:
    return "properties" in schema or schema.get("type") == "object"


def memory_record(item: dict, fields: list[str]) -> dict:
    return {f: item.get(MEMORY_FIELDS[f]) for f in fields}


def build_sections(schema: dict, memories_for, entities: list[dict]) -> dict:
    """The section form. ``memories_for(extra_filters)`` returns the memory items of the export's scope."""
    unknown = sorted(set(schema) - set(SECTIONS))
    if unknown:
        raise ValidationError(f"Unknown export section(s) {unknown}; use {sorted(SECTIONS)} (or a JSON Schema).")
    out: dict[str, list] = {}
    for section, spec in schema.items():
        spec = spec or {}
        if not isinstance(spec, dict) or set(spec) - {"fields", "filters"}:
            raise ValidationError(f"schema[{section!r}] must be an object with 'fields' and optional 'filters'.")
        fields = spec.get("fields")
        known = MEMORY_FIELDS if section == "memories" else ENTITY_FIELDS
        if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
            raise ValidationError(f"schema[{section!r}]['fields'] must be a non-empty list of field names.")
        bad = sorted(set(fields) - set(known))
        if bad:
            raise ValidationError(f"schema[{section!r}] has unknown field(s) {bad}; known: {sorted(known)}.")
        filters = spec.get("filters") or {}
        if not isinstance(filters, dict):
            raise ValidationError(f"schema[{section!r}]['filters'] must be an object.")
        if section == "memories":
            out[section] = [memory_record(i, fields) for i in memories_for(filters)]
        else:
            kind = SECTIONS[section]
            rows = [e for e in entities if e["type"] == kind and all(e.get(k) == v for k, v in filters.items()
                                                                     if k in ENTITY_FIELDS)]
            out[section] = [{f: _entity_field(e, f) for f in fields} for e in rows]
    return out


def _entity_field(entity: dict, field: str) -> Any:
    if field == f"{entity['type']}_id":
        return entity["name"]
    return entity.get(field)


def fill_json_schema(schema: dict, items: list[dict]) -> dict:
    """Fill a JSON Schema's top-level properties from the memories, then validate the result."""
    props = schema.get("properties")
    if not isinstance(props, dict) or not props:
        raise ValidationError("A JSON Schema export needs top-level 'properties'.")
    defs = schema.get("$defs") or schema.get("definitions") or {}
    out: dict[str, Any] = {}
    for name, prop in props.items():
        prop = _resolve(prop, defs)
        kind = prop.get("type")
        if kind == "array":
            item_schema = _resolve(prop.get("items") or {}, defs)
            names = list((item_schema.get("properties") or {}).keys())
            if not names:  # an array of strings: the memory texts
                out[name] = [i["memory"] for i in items]
                continue
            out[name] = [{n: i.get(MEMORY_FIELDS.get(n, n)) for n in names} for i in items]
        elif kind == "integer" and name in COUNT_NAMES:
            out[name] = len(items)
    required = set(schema.get("required") or []) - set(out)
    if required:
        raise ValidationError(f"memlab cannot fill the required export field(s) {sorted(required)}: only arrays of "
                              f"memory records and counts ({sorted(COUNT_NAMES)}) can be filled.")
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema comes with memlab[serve]
        return out
    out = _nullable(out)
    try:
        jsonschema.validate(out, schema)
    except jsonschema.ValidationError as exc:
        raise ValidationError(f"The export does not fit the schema: {exc.message}.") from None
    except jsonschema.SchemaError as exc:
        raise ValidationError(f"schema is not a valid JSON Schema: {exc.message}.") from None
    return out


def _resolve(prop: Any, defs: dict) -> dict:
    if isinstance(prop, dict) and isinstance(prop.get("$ref"), str):
        return defs.get(prop["$ref"].rsplit("/", 1)[-1], {})
    return prop if isinstance(prop, dict) else {}


def _nullable(out: dict) -> dict:
    """Drop None fields before validating: memlab leaves out what a memory lacks (optional in the schema)."""
    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items() if v is not None}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x
    return clean(out)
