"""Routes of ``memlab serve``, one module per area of mem0's platform API."""

from fastapi import Path

MEMORY_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,256}$"
MemoryIdPath = Path(..., pattern=MEMORY_ID_PATTERN, description="A memory id (UUID for memories memlab created).")
