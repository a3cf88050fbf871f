"""Importers into a memlab store: one :class:`Importer` per source format, found by name in the registry.

Each returns an :class:`ImportReport`; see :mod:`memlab.migrate.importers.base` for the protocol
(read -> records -> write) and :mod:`memlab.migrate.importers.registry` for the names.
"""

from memlab.migrate.importers.base import ImportBatch, Importer, ImportOption, run_import
from memlab.migrate.importers.mem0_faiss import import_mem0, read_mem0_folder
from memlab.migrate.importers.mem0_json import import_mem0_json
from memlab.migrate.importers.memlab_export import import_export
from memlab.migrate.importers.openmemory import import_openmemory
from memlab.migrate.importers.registry import (
    get_importer,
    import_data,
    import_to_store,
    list_importers,
    register_importer,
)
from memlab.migrate.importers.report import ImportReport

__all__ = ["ImportReport", "Importer", "ImportBatch", "ImportOption", "run_import", "import_data", "import_to_store",
           "register_importer", "get_importer", "list_importers", "import_mem0", "import_mem0_json", "import_export",
           "import_openmemory", "read_mem0_folder"]
