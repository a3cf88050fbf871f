"""Store directories: reopen one from the embedder it recorded (the one helper every tool uses).

A memlab store directory records the name of the embedder that built it (``hash:128:1-2:c3``,
``minilm:all-MiniLM-L6-v2``, ``openai:text-embedding-3-small``) and its size. :func:`embedder_config`
turns such a name back into an embedder block, :func:`store_config` into the config that reopens
the store, and :func:`open_store` into a ``Memory``. ``memlab import/export/verify``, ``memlab compare``
and :func:`memlab.compare.compare` all open store directories through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

from memlab.errors import ConfigError, NotFoundError, ValidationError

PathLike = Union[str, Path]
DEFAULT_MODEL = "all-MiniLM-L6-v2"


def embedder_config(name: str) -> dict:
    """The embedder block that rebuilds the embedder whose ``.name`` is ``name`` (as a store records it).

    Raises:
        ConfigError: an embedder memlab cannot rebuild from its name alone (an API model needs its
            endpoint and key; a MiniLM from another model folder needs that folder).
    """
    parts = str(name).split(":")  # hash:{dims}:{lo}-{hi}:c{char_ngrams} (memlab.embedders.hashing)
    if parts[0] == "hash" and len(parts) == 4:
        lo, _, hi = parts[2].partition("-")
        numbers = (parts[1], lo, hi, parts[3][1:])
        if parts[3].startswith("c") and all(n.isdigit() for n in numbers):
            return {"provider": "hash", "config": {"embedding_dims": int(parts[1]), "ngram_range": [int(lo), int(hi)],
                                                   "char_ngrams": int(parts[3][1:])}}
    if name == f"minilm:{DEFAULT_MODEL}":
        return {"provider": "minilm", "config": {}}
    raise ConfigError(f"Embedder {name!r} needs settings memlab cannot guess from its name (e.g. an API endpoint "
                      "or a model folder).")


def read_identity(path: PathLike) -> Optional[dict]:
    """``{"embedder": name, "dims": n}`` recorded in a store directory, or None (no store, or none recorded)."""
    from memlab.store import Store

    return Store.read_identity(str(path))


def has_store(path: PathLike) -> bool:
    """Does ``path`` hold a memlab store database?"""
    from memlab.store import DB_NAME

    return (Path(path) / DB_NAME).is_file()


def store_config(path: PathLike) -> dict:
    """The config dict that reopens the store directory ``path`` with the embedder it was built with.

    Raises:
        NotFoundError: no memlab store (or no recorded embedder) at ``path``.
        ConfigError: its embedder cannot be rebuilt from its name (see :func:`embedder_config`).
    """
    identity = read_identity(path) if has_store(path) else None
    if identity is None:
        what = "missing memlab.db" if not has_store(path) else "its memlab.db records no embedder"
        raise NotFoundError(f"No memlab store at {str(path)!r} ({what}); pass an existing store directory.")
    try:
        embedder = embedder_config(identity["embedder"])
    except ConfigError:
        raise ConfigError(f"The store at {str(path)!r} was built with embedder {identity['embedder']!r}, which needs "
                          "settings memlab cannot guess (e.g. an API endpoint or a model folder): pass a config file "
                          "whose vector_store.config.path is this store.") from None
    return {"embedder": embedder, "vector_store": {"config": {"path": str(path)}}}


def open_store(path: PathLike, *, embedder: Union[None, str, dict] = None, create: bool = False) -> Any:
    """A ``Memory`` on the store directory ``path``, with the embedder the store was built with.

    Args:
        embedder: a provider name (``"hash"``) or an embedder block. For an existing store it is only
            checked: naming another provider than the recorded one is a ``ConfigError``. For a new store
            (``create=True``) it is the embedder to build it with (default: minilm).
        create: create the store when ``path`` holds none (default: raise ``NotFoundError``, so a typo
            never silently becomes a new, empty store).
    """
    from memlab import Memory

    block = _block(embedder)
    if has_store(path):
        identity = read_identity(path)
        if identity is not None:
            config = store_config(path)
            if block is not None and block["provider"] != config["embedder"]["provider"]:
                raise ConfigError(f"Store {str(path)} was built with {identity['embedder']!r}; embedder "
                                  f"{block['provider']!r} does not match (leave it out to use the store's own).")
            return Memory(config)
        # a database that records no embedder (being created, or downgraded to base): opening it says what is wrong
    elif not create:
        raise NotFoundError(f"No memlab store at {str(path)!r} (missing memlab.db); pass an existing store directory.")
    return Memory({"embedder": block or {"provider": "minilm", "config": {}},
                   "vector_store": {"config": {"path": str(path)}}})


def _block(embedder: Union[None, str, dict]) -> Optional[dict]:
    if embedder is None:
        return None
    if isinstance(embedder, str):
        return {"provider": embedder, "config": {}}
    if isinstance(embedder, dict) and isinstance(embedder.get("provider"), str):
        return {"provider": embedder["provider"], "config": dict(embedder.get("config") or {})}
    raise ValidationError(f"embedder must be a provider name or a block {{'provider': ..., 'config': {{...}}}}, "
                          f"got {embedder!r}.")
