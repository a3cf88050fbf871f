"""Per-item checkpoints: append-only JSON Lines, one finished item per line.

A stage appends a line (flushed and fsynced) as soon as one item is finished, so a run killed at
any moment loses at most the item in flight. Reading skips a torn last line (the write the kill
interrupted) and truncates it away before new lines are appended, so the file stays valid JSONL.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

from memlab.errors import ValidationError


class Checkpoint:
    """One stage's JSONL file. ``key`` names the field that identifies an item."""

    def __init__(self, path: Path, key: str = "key"):
        self.path = Path(path)
        self.key = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._records: dict[Any, dict] = {}
        self._load()
        self._fh = None

    def _load(self) -> None:
        if not self.path.exists():
            return
        good = 0
        with self.path.open("rb") as fh:
            data = fh.read()
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # torn write of a killed run
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                break
            self._records[self._id(rec)] = rec
            good += len(line)
        if good != len(data):
            with self.path.open("r+b") as fh:
                fh.truncate(good)

    def _id(self, rec: dict) -> Any:
        value = rec.get(self.key)
        return tuple(value) if isinstance(value, list) else value

    def __contains__(self, item_id: Any) -> bool:
        return item_id in self._records

    def __len__(self) -> int:
        return len(self._records)

    def get(self, item_id: Any, default: Any = None) -> Any:
        return self._records.get(item_id, default)

    def records(self) -> list[dict]:
        return list(self._records.values())

    def __iter__(self) -> Iterator[dict]:
        return iter(self.records())

    def write(self, record: dict) -> None:
        if self.key not in record:
            raise ValidationError(f"checkpoint record lacks {self.key!r}: {record!r}")
        if self._fh is None:
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._records[self._id(record)] = record

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
