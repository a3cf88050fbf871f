"""Config migration: legacy mem0 / OpenMemory / flat configs -> a current :class:`~memlab.config.MemoryConfig`.

Pure functions over dicts and text; depends only on :mod:`memlab.config`. It sits below the
``Memory`` facade (which migrates legacy configs on the fly through :func:`resolve_config`); the
public entry point stays ``memlab.migrate.migrate_config``.
"""

from __future__ import annotations

import warnings
from typing import Any

from memlab.config import MemoryConfig
from memlab.config_migration.migrate import Change, ConfigMigration, migrate_config
from memlab.errors import ConfigError

__all__ = ["Change", "ConfigMigration", "migrate_config", "resolve_config"]


def resolve_config(config: Any) -> MemoryConfig:
    """A MemoryConfig from a MemoryConfig, a current dict, or a legacy mem0 dict (migrated, with a warning)."""
    if config is None:
        return MemoryConfig()
    if isinstance(config, MemoryConfig):
        return config
    if not isinstance(config, dict):
        raise ConfigError(f"config must be a MemoryConfig or a dict, got {type(config).__name__}.")
    try:
        return MemoryConfig.from_dict(config)
    except ConfigError as current_error:
        try:
            # on the fly the response format must not change under running code: keep v1.0 if asked for
            migration = migrate_config(config, keep_version=True)
        except ConfigError as exc:
            raise ConfigError(f"{str(current_error).rstrip('.')}. "
                              f"It is not a legacy config memlab can migrate either: {exc}") from None
        warnings.warn(
            "This config uses a legacy (mem0) format and was migrated on the fly. Use the migrated form:\n"
            + migration.config.to_json()
            + "".join(f"\n! {w}" for w in migration.warnings),
            DeprecationWarning,
            stacklevel=3,
        )
        return migration.config
