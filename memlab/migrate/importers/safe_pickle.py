"""Loading mem0's pickled docstore without executing anything.

``pickle.load`` runs arbitrary code named by the file; a store directory is untrusted input.
:func:`load_builtin_pickle` only lets plain containers and scalars through (dict, list, tuple,
str, bytes, int, float, bool, None - which pickle builds without looking up any class - plus
set/frozenset); any other class or function reference stops the load with a MigrationError.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from memlab.errors import MigrationError

ALLOWED_GLOBALS = frozenset({("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex")})
MAX_PICKLE_BYTES = 2_000_000_000


class _BuiltinsOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise MigrationError(
            f"The pickle references {module}.{name}; memlab only loads pickles made of plain builtins "
            "(dict, list, str, numbers) and never runs code from a file. If this is a genuine mem0 "
            "docstore, convert it with the mem0 version that wrote it (mem0 >= 2.0 writes JSON)."
        )

    def persistent_load(self, pid: Any) -> Any:
        raise MigrationError("The pickle uses persistent ids; memlab only loads plain builtin pickles.")


def load_builtin_pickle(data: bytes, where: str) -> Any:
    """Unpickle ``data`` allowing builtins only; damaged data raises MigrationError naming ``where``."""
    if len(data) > MAX_PICKLE_BYTES:
        raise MigrationError(f"{where} is larger than {MAX_PICKLE_BYTES} bytes; refusing to load it.")
    try:
        return _BuiltinsOnlyUnpickler(io.BytesIO(data)).load()
    except MigrationError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            UnicodeDecodeError, OverflowError, MemoryError, RecursionError) as exc:
        raise MigrationError(
            f"{where} is not a readable pickle (truncated or corrupted: {type(exc).__name__}: {exc}). "
            "Restore it from a backup; nothing was imported."
        ) from None
