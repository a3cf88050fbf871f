"""ipywidgets UIs: thin views over plain, testable model classes.

ipywidgets itself loads only when a widget is built, so the models can be used (and tested) without it.
"""

from __future__ import annotations

from memlab.widgets.compare_widget import CompareModel, CompareWidget
from memlab.widgets.config_migration import (
    ConfigMigrationSession,
    ConfigMigrationWidget,
)
from memlab.widgets.threshold_explorer import ThresholdExplorer, ThresholdExplorerModel

__all__ = [
    "CompareModel", "CompareWidget", "ConfigMigrationSession", "ConfigMigrationWidget", "ThresholdExplorer",
    "ThresholdExplorerModel",
]
