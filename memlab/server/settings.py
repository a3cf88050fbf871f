"""Per-project settings of ``memlab serve`` (what ``client.project.get/update`` read and write).

Each setting changes what the served project does:

* ``custom_instructions`` and ``custom_categories`` are handed to the LLM step of
  ``add(infer=True)`` (memlab's ``MemoryConfig.custom_instructions``; the categories are listed
  in the instructions so the model can label facts with them);
* ``version`` picks the response format: ``v1.1`` (``{"results": [...]}``) or legacy ``v1.0``
  (bare lists from add / search / get_all);
* ``enable_graph`` switches the project's graph store on (a ``kuzu`` block under the project
  directory), so responses carry ``relations`` as mem0's graph memory does;
* ``retrieval_criteria``: a ``threshold`` becomes the default search threshold and a ``type``
  of ``vector`` / ``keyword`` / ``hybrid`` the default search mode.

Settings are kept in ``project.json`` in the project directory (written atomically) and
re-read when that file changes, so every worker process sees an update at its next request.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from memlab.config import VECTOR_STORE_SETTINGS, MemoryConfig
from memlab.errors import ConfigError, ValidationError

SETTINGS_FILE = "project.json"
SEARCH_TYPES = {"vector": "dense", "dense": "dense", "semantic": "dense", "keyword": "keyword", "bm25": "keyword",
                "hybrid": "hybrid"}


class RetrievalCriterion(BaseModel):
    """One retrieval criterion: the platform's ``{name, description, weight}`` and the guide's
    ``{type, threshold, provider}`` forms are both accepted."""

    model_config = ConfigDict(extra="forbid")
    name: Optional[str] = Field(None, max_length=200)
    description: Optional[str] = Field(None, max_length=2000)
    weight: Optional[float] = Field(None, ge=0, le=100)
    type: Optional[str] = Field(None, max_length=40, description="vector | keyword | hybrid")
    threshold: Optional[float] = Field(None, ge=-1, le=1)
    provider: Optional[str] = Field(None, max_length=200, description="Informational (the source store's provider).")

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and v.lower() not in SEARCH_TYPES:
            raise ValueError(f"type must be one of {', '.join(sorted(SEARCH_TYPES))}")
        return None if v is None else v.lower()


Category = Union[str, dict[str, str]]


class ProjectSettings(BaseModel):
    """The settings of one served project."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    name: Optional[str] = Field(None, max_length=200)
    description: Optional[str] = Field(None, max_length=2000)
    custom_instructions: Optional[str] = Field(None, max_length=20_000)
    agent_custom_instructions: Optional[str] = Field(
        None, max_length=20_000, description="Stored and returned; memlab applies custom_instructions to every scope."
    )
    custom_categories: Optional[list[Category]] = Field(None, max_length=200)
    enable_graph: Optional[bool] = Field(None, description="None: as the served base config says.")
    version: Literal["v1.0", "v1.1"] = "v1.1"
    retrieval_criteria: Optional[list[RetrievalCriterion]] = Field(None, max_length=50)
    multilingual: Optional[bool] = None
    decay: Optional[bool] = Field(None, description="Stored and returned; memlab does not decay rankings.")
    memory_depth: Optional[str] = Field(None, max_length=100)
    usecase_setting: Optional[Any] = None

    @field_validator("custom_categories")
    @classmethod
    def _categories(cls, v: Optional[list]) -> Optional[list]:
        for c in v or []:
            if isinstance(c, str):
                if not c.strip() or len(c) > 200:
                    raise ValueError("a category name must be 1-200 characters")
            elif len(c) != 1:
                raise ValueError("a category must be a name or a one-entry {name: description} object")
        return v

    # ---------------------------------------------------------------- behaviour
    def category_names(self) -> list[str]:
        return [c if isinstance(c, str) else next(iter(c)) for c in self.custom_categories or []]

    def llm_instructions(self) -> Optional[str]:
        """The extra instructions the LLM step sees: the project's instructions plus its categories."""
        parts = []
        if self.custom_instructions:
            parts.append(self.custom_instructions)
        if self.custom_categories:
            lines = [c if isinstance(c, str) else f"{next(iter(c))}: {next(iter(c.values()))}"
                     for c in self.custom_categories]
            parts.append("Label each fact with one of these categories:\n" + "\n".join(f"- {x}" for x in lines))
        return "\n\n".join(parts) or None

    def default_threshold(self) -> Optional[float]:
        values = [c.threshold for c in self.retrieval_criteria or [] if c.threshold is not None]
        return max(values) if values else None

    def default_mode(self) -> Optional[str]:
        modes = {SEARCH_TYPES[c.type] for c in self.retrieval_criteria or [] if c.type}
        if len(modes) > 1:  # checked on update too; a hand-edited file falls back to the store's default
            return None
        return next(iter(modes), None)

    def apply(self, base: MemoryConfig, project_dir: Path) -> MemoryConfig:
        """The project's MemoryConfig: the served base config with these settings applied.

        What the project does not set is inherited from the base config (``memlab serve --config``):
        its instructions, and its graph store unless ``enable_graph`` is set. The response format
        is always v1.1 inside; the server shapes v1.0 itself."""
        data = base.to_dict()
        data["version"] = "v1.1"
        instructions = self.llm_instructions()
        if instructions is not None:
            data["custom_instructions"] = instructions
        if self.enable_graph is True and "graph_store" not in data:
            data["graph_store"] = {"provider": "kuzu", "config": {"db": str(project_dir / "graph.kuzu")}}
        elif self.enable_graph is False:
            data.pop("graph_store", None)
        graph = data.get("graph_store")
        if graph and graph.get("provider") == "kuzu":  # an embedded graph: one per project, like the store
            graph["config"] = {**graph.get("config", {}), "db": str(project_dir / "graph.kuzu")}
        vs = data.setdefault("vector_store", {"provider": "faiss"})
        fields = VECTOR_STORE_SETTINGS[vs.get("provider", "faiss")].model_fields
        if "path" in fields:  # file-based engine: the project's own directory
            vs["config"] = {**vs.get("config", {}), "path": str(project_dir / "store")}
        elif "collection_name" in fields:  # database engine: the project's own collection
            vs["config"] = {**vs.get("config", {}), "collection_name": project_collection(project_dir)}
        else:  # an engine with neither could not keep projects apart: refuse rather than mix them
            raise ConfigError(f"vector store {vs.get('provider')!r} has no per-project path or collection_name.")
        return MemoryConfig.from_dict(data)

    def public(self, fields: Optional[list[str]] = None) -> dict:
        out = self.model_dump(mode="json")
        if fields:
            unknown = sorted(set(fields) - set(out))
            if unknown:
                raise ValidationError(f"Unknown project field(s) {unknown}; known: {sorted(out)}.")
            out = {k: out[k] for k in fields}
        return out


def project_collection(project_dir: Path) -> str:
    """A database engine's collection for a project: ``memlab_<org>_<project>`` (names are [A-Za-z0-9_.-])."""
    org, project = project_dir.parent.name, project_dir.name
    # a stable digest keeps e.g. "a-b"/"c" and "a"/"b_c" apart after the character mapping
    digest = hashlib.sha256(f"{org}/{project}".encode()).hexdigest()[:8]
    return "memlab_" + "_".join(x.replace("-", "_").replace(".", "_") for x in (org, project)) + f"_{digest}"


def load_settings(project_dir: Path) -> ProjectSettings:
    path = project_dir / SETTINGS_FILE
    if not path.exists():
        return ProjectSettings()
    return ProjectSettings(**json.loads(path.read_text(encoding="utf-8")))


def save_settings(project_dir: Path, settings: ProjectSettings) -> None:
    """Write atomically: a reader in another worker sees the old or the new file, never half of one."""
    project_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=project_dir, prefix=".project.", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(settings.model_dump(mode="json"), fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, project_dir / SETTINGS_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
