"""Importers into a memlab store; each returns an :class:`ImportReport`."""

from memlab.migrate.importers.base import ImportReport
from memlab.migrate.importers.mem0_faiss import import_mem0, read_mem0_folder
from memlab.migrate.importers.mem0_json import import_mem0_json
from memlab.migrate.importers.memlab_export import import_export
from memlab.migrate.importers.openmemory import import_openmemory

__all__ = ["ImportReport", "import_mem0", "import_mem0_json", "import_export", "import_openmemory",
           "read_mem0_folder"]
