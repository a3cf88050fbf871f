"""The importers by name: ``memlab import KIND`` and :func:`import_data` look them up here.

The built-in importers are registered explicitly below (no dotted-string loading): a new source format
is one module with an :class:`~memlab.migrate.importers.base.Importer` subclass and one line in
``BUILTIN``; an importer of your own is one :func:`register_importer` call.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Optional, Union

from memlab.errors import ValidationError
from memlab.migrate.importers.base import Importer, run_import
from memlab.migrate.importers.mem0_faiss import Mem0FaissImporter
from memlab.migrate.importers.mem0_json import Mem0JsonImporter
from memlab.migrate.importers.memlab_export import MemlabExportImporter
from memlab.migrate.importers.openmemory import OpenMemoryImporter
from memlab.migrate.importers.report import ImportReport

# keywords of import_data / import_to_store and flags of `memlab import`: no importer option may take them
RESERVED_OPTIONS = frozenset({"kind", "source", "into", "store", "path", "embedder", "on_conflict", "snapshot", "json",
                              "func", "command"})
BUILTIN: tuple[Importer, ...] = (Mem0FaissImporter(), Mem0JsonImporter(), OpenMemoryImporter(), MemlabExportImporter())
_REGISTRY: dict[str, Importer] = {}


def register_importer(importer: Importer, *, replace: bool = False) -> Importer:
    """Make ``importer`` available as ``import_data(importer.name, ...)`` (and to ``memlab import`` when
    registered before the command line is parsed). Returns it, so it can decorate an instance.

    Raises:
        ValidationError: not an :class:`Importer`, a malformed name, or a name already taken (pass
            ``replace=True`` to replace that importer on purpose).
    """
    if not isinstance(importer, Importer):
        raise ValidationError(f"register_importer needs an Importer instance, got {type(importer).__name__} "
                              "(subclass memlab.migrate.Importer and register an instance).")
    name = getattr(importer, "name", None)
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValidationError(f"Importer name must be a non-empty word of letters, digits, '-' or '_'; got {name!r}.")
    for attr in ("kind", "source_help"):
        if not isinstance(getattr(importer, attr, None), str):
            raise ValidationError(f"Importer {name!r} must set the class attribute {attr!r} (a string).")
    taken = sorted(importer.option_names() & RESERVED_OPTIONS)
    if taken:
        raise ValidationError(f"Importer {name!r} declares option(s) {', '.join(taken)}, which import_data and "
                              "`memlab import` use themselves; rename them.")
    if name in _REGISTRY and not replace:
        raise ValidationError(f"An importer named {name!r} is already registered ({_REGISTRY[name]!r}); "
                              "pass replace=True to replace it.")
    _REGISTRY[name] = importer
    return importer


def get_importer(name: Union[str, Importer]) -> Importer:
    """The registered importer called ``name`` (an :class:`Importer` passes through)."""
    if isinstance(name, Importer):
        return name
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValidationError(f"No importer named {name!r}; registered: {', '.join(_REGISTRY)}.") from None


def list_importers() -> list[Importer]:
    """Every registered importer, built-ins first, in registration order."""
    return list(_REGISTRY.values())


def import_data(kind: Union[str, Importer], source: Any, into: Any, *, on_conflict: str = "error",
                snapshot: Optional[bool] = None, **options: Any) -> ImportReport:
    """Import ``source`` into the ``Memory`` ``into`` with the importer named ``kind``, atomically.

    ``import_data("mem0", folder, into=m)`` is ``import_mem0(folder, into=m)``; ``kind`` names any
    registered importer (:func:`importers`). ``options`` are the importer's own (``collection=``,
    ``user_id=``, ...); ``snapshot``: see :func:`memlab.migrate.importers.write.import_snapshot`.
    """
    return run_import(get_importer(kind), source, into, on_conflict=on_conflict, snapshot=snapshot, **options)


def import_to_store(kind: Union[str, Importer], source: Any, store: Union[str, Path], *,
                    embedder: Union[None, str, dict] = None, on_conflict: str = "error",
                    **options: Any) -> ImportReport:
    """Import into a store directory (created if missing), as ``memlab import`` does.

    An existing store keeps the embedder it recorded (``embedder``, if given, must name the same
    provider) and is snapshotted right before the write, so ``memlab db rollback`` undoes the import
    (the id is in ``report.details["snapshot"]``). A new store takes ``embedder`` (a provider name
    or an embedder block), else the one the importer suggests for the source (a memlab export's own),
    else memlab's default; if the import fails, the new store is removed again.
    """
    from memlab.migrate.stores import has_store, open_store

    importer = get_importer(kind)
    path = Path(store)
    if path.exists() and not path.is_dir():
        raise ValidationError(f"Store {str(store)!r} is a file; pass a store directory (created if missing).")
    existed = has_store(path)
    if embedder is None and not existed:
        embedder = importer.new_store_embedder(source)
    created_dir = not path.exists()
    try:
        with open_store(path, embedder=embedder, create=True) as memory:
            return run_import(importer, source, memory, on_conflict=on_conflict, snapshot=existed, **options)
    except BaseException:
        if not existed:  # a failed import leaves no empty store behind (never touches a pre-existing one)
            _remove_new_store(path, created_dir)
        raise


def _remove_new_store(path: Path, created_dir: bool) -> None:
    from memlab.store import DB_NAME

    if created_dir:
        shutil.rmtree(path, ignore_errors=True)
        return
    for suffix in ("", "-wal", "-shm"):
        try:
            (path / f"{DB_NAME}{suffix}").unlink(missing_ok=True)
        except OSError:  # cleanup must never hide the import's own error
            pass


for _importer in BUILTIN:
    register_importer(_importer)
