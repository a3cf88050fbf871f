"""Migration into memlab: configs and data from mem0, OpenMemory or another memlab store.

"Migrate" means one thing in memlab: carrying something from another system (or another store)
into memlab, with every change explained and verifiable. This package is its public home:

* configs: ``migrate_config`` (implemented in :mod:`memlab.config_migration`, which sits below the
  ``Memory`` facade because ``Memory(config=...)`` resolves legacy configs through it);
* data: the importers (``import_data`` by name, or ``import_mem0`` / ``import_mem0_json`` /
  ``import_openmemory`` / ``import_export``), ``export``, ``DataMigrator`` (store to store) and
  ``verify_migration``; ``open_store`` reopens a store directory with the embedder it recorded;
* snapshots and rollback of a store directory (re-exported from the store).

A store changing its own schema is not a migration in this sense: those are the store's schema
revisions (Alembic, ``memlab db upgrade``), which live with the engine that owns the tables.
"""

from memlab.config_migration import Change, ConfigMigration, migrate_config
from memlab.migrate.data_migrator import DataMigrator, MigrationResult
from memlab.migrate.export import export, read_export
from memlab.migrate.importers import (
    ImportBatch,
    Importer,
    ImportOption,
    ImportReport,
    get_importer,
    import_data,
    import_export,
    import_mem0,
    import_mem0_json,
    import_openmemory,
    import_to_store,
    list_importers,
    register_importer,
)
from memlab.migrate.stores import open_store, store_config
from memlab.migrate.verify import VerificationReport, record_hash, verify_migration
from memlab.store.faiss.snapshots import (
    Snapshot,
    list_snapshots,
    restore_snapshot,
    take_snapshot,
)

__all__ = ["Change", "ConfigMigration", "migrate_config",
           "export", "read_export", "ImportReport", "import_export", "import_mem0", "import_mem0_json",
           "import_openmemory", "Importer", "ImportBatch", "ImportOption", "import_data", "import_to_store",
           "register_importer", "get_importer", "list_importers", "open_store", "store_config",
           "DataMigrator", "MigrationResult", "Snapshot", "list_snapshots",
           "restore_snapshot", "take_snapshot", "VerificationReport", "record_hash", "verify_migration"]
