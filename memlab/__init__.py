"""memlab: a notebook-first workbench for studying and migrating long-term memory of AI agents.

Importing memlab is cheap and offline: no model is loaded and nothing touches the network
until a call needs it.
"""

from memlab import errors
from memlab.config import MemoryConfig
from memlab.enums import MemoryState, MemoryType
from memlab.memory import Memory
from memlab.async_memory import AsyncMemory

__version__ = "0.1.0"

__all__ = ["Memory", "AsyncMemory", "MemoryConfig", "MemoryType", "MemoryState", "errors", "__version__"]
