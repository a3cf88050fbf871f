"""Enumerations shared with mem0 (``mem0.configs.enums``)."""

from enum import Enum

# The three ids that scope a memory (mem0's entity ids); every read and write names at least one.
SCOPE_FIELDS = ("user_id", "agent_id", "run_id")


class MemoryType(Enum):
    SEMANTIC = "semantic_memory"
    EPISODIC = "episodic_memory"
    PROCEDURAL = "procedural_memory"


MEMORY_TYPES = tuple(t.value for t in MemoryType)


class MemoryState(str, Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"
    DELETED = "deleted"
