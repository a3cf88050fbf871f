"""Migration tooling: configs (``migrate_config``) and, alongside, data/store migrations."""

from memlab.config_migration import Change, ConfigMigration, migrate_config
from memlab.migrate.export import export, read_export
from memlab.migrate.importers import (
    ImportReport,
    import_export,
    import_mem0,
    import_mem0_json,
    import_openmemory,
)
from memlab.migrate.migrator import DataMigrator, MigrationResult
from memlab.migrate.verify import VerificationReport, record_hash, verify_migration
from memlab.store.faiss.snapshots import (
    Snapshot,
    list_snapshots,
    restore_snapshot,
    take_snapshot,
)

__all__ = ["Change", "ConfigMigration", "migrate_config",
           "export", "read_export", "ImportReport", "import_export", "import_mem0", "import_mem0_json",
           "import_openmemory", "DataMigrator", "MigrationResult", "Snapshot", "list_snapshots",
           "restore_snapshot", "take_snapshot", "VerificationReport", "record_hash", "verify_migration"]
