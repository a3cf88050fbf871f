"""The Importer protocol: read a source into portable records, then write them the one way.

An import is three steps, and only the first differs between sources:

1. ``Importer.read(source, into, **options)`` turns the source into an :class:`ImportBatch` (portable
   records, the :class:`ImportReport` of what was skipped or repaired, and the categories / configs
   that travel with them). It never writes; it may ask the target ``into`` which embedder it uses
   (to decide whether stored vectors can be reused) and embed samples with ``into.embed``.
2. :func:`~memlab.migrate.importers.write.write_records` writes the batch in ONE transaction through
   ``Memory.add_records`` and takes the import's one snapshot when one is wanted.
3. ``Importer.finish(batch, into)`` does what needs the memories in place (graph relations).

:func:`run_import` runs the three; the registry (:mod:`memlab.migrate.importers.registry`) names the
importers for ``memlab import KIND`` and :func:`memlab.migrate.import_data`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Optional

from memlab.errors import ValidationError
from memlab.migrate.importers.report import ImportReport
from memlab.migrate.importers.write import check_on_conflict, write_records


@dataclass(frozen=True)
class ImportOption:
    """A keyword option of one importer's ``read`` (offered as ``--name-with-dashes`` by ``memlab import``)."""

    name: str
    help: str
    cli: bool = True  # False: Python API only
    type: Callable[[str], Any] = str  # how ``memlab import`` converts the flag's text

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass
class ImportBatch:
    """What ``Importer.read`` found: records ready to write and the tables that travel with them."""

    report: ImportReport
    records: list[dict] = field(default_factory=list)
    categories: Optional[list[dict]] = None    # catalogue rows (name, id, description, timestamps)
    configs: Optional[list[dict]] = None       # configs-table rows (key, value, timestamps)
    extras: dict = field(default_factory=dict)  # what ``finish`` needs (e.g. graph relations)


class Importer(ABC):
    """One source format. Subclass it, set the class attributes, implement :meth:`read`, and register an
    instance with :func:`memlab.migrate.register_importer`."""

    name: ClassVar[str]              # registry key: ``memlab import NAME`` / ``import_data(NAME, ...)``
    kind: ClassVar[str]              # label of its reports ("mem0 FAISS")
    source_help: ClassVar[str]       # what SOURCE is, for ``memlab import --help``
    options: ClassVar[tuple[ImportOption, ...]] = ()

    @abstractmethod
    def read(self, source: Any, into: Any, **options: Any) -> ImportBatch:
        """Read ``source`` (never write). Raise ``MigrationError`` for a source that cannot be imported at all;
        record per-memory problems in the batch's report (``skip`` / ``repair``)."""

    def finish(self, batch: ImportBatch, into: Any) -> None:
        """Work after the memories are written (default: none)."""

    def new_store_embedder(self, source: Any) -> Optional[dict]:
        """The embedder block a NEW store should get for this source (None: memlab's default)."""
        return None

    def option_names(self) -> set[str]:
        return {o.name for o in self.options}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {self.kind}>"


def run_import(importer: Importer, source: Any, into: Any, *, on_conflict: str = "error",
               snapshot: Optional[bool] = None, **options: Any) -> ImportReport:
    """Read ``source`` with ``importer``, write it into the ``Memory`` ``into`` atomically, finish; the report.

    Args:
        on_conflict: "error" (nothing is written if an id exists), "skip" or "replace".
        snapshot: True = snapshot the store before writing, False = never, None = only for
            ``on_conflict="replace"`` (see :func:`~memlab.migrate.importers.write.import_snapshot`).
        options: the importer's own options (``importer.options``); any other name is an error.
    """
    check_on_conflict(on_conflict)
    unknown = sorted(set(options) - importer.option_names())
    if unknown:
        takes = ", ".join(sorted(importer.option_names())) or "none"
        raise ValidationError(f"The {importer.name!r} importer has no option(s) {', '.join(unknown)} "
                              f"(its options: {takes}).")
    batch = importer.read(source, into, **options)
    write_records(into, batch.records, batch.report, on_conflict=on_conflict, categories=batch.categories,
                  configs=batch.configs, snapshot=snapshot)
    importer.finish(batch, into)
    return batch.report
