"""ipywidgets UIs: thin views over plain, testable model classes.

Names are imported lazily so ``import memlab.widgets`` stays cheap (ipywidgets loads only
when a widget is built).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "CompareModel": "memlab.widgets.compare_widget",
    "CompareWidget": "memlab.widgets.compare_widget",
    "ConfigMigrationSession": "memlab.widgets.config_migration",
    "ConfigMigrationWidget": "memlab.widgets.config_migration",
    "ThresholdExplorerModel": "memlab.widgets.threshold_explorer",
    "ThresholdExplorer": "memlab.widgets.threshold_explorer",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'memlab.widgets' has no attribute {name!r}")


__all__ = sorted(_LAZY)
