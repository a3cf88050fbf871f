"""Client processes for the PostgreSQL crash and concurrency tests: ``python -m tests.pg.clients ROLE ...``.

Each client opens a Memory on the pgvector engine (hash embedder) and appends one line per
*acknowledged* write to its ack file, only after the memlab call returned (so a line = a write the
caller was told succeeded). The file is line-buffered: a line written survives a SIGKILL of the client.

Roles:
  writer  URL COLLECTION ACKFILE PREFIX [N [BUSY_MS]]  adds (single and batched), updates its own memories;
                                              runs N steps (0: until ACKFILE.stop exists). Typed memlab errors
                                              are recorded (``ERR``) and the loop goes on (a server crash);
                                              anything else is recorded (``UNTYPED``) and exits 3.
  updater URL COLLECTION ACKFILE PREFIX ID N  N text updates of memory ID (``UPD id text``); ConflictError
                                              (a deadlock/serialisation report) is retried.
  hold    URL COLLECTION ACKFILE ID           opens a transaction that adds a row and updates memory ID,
                                              prints ``INTX new_id`` and sleeps (never commits).
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path


def _memory(url: str, collection: str, **extra):
    from memlab import Memory
    from tests.pg.support import pg_config

    return Memory(pg_config(url, collection, **extra))


def _ack(path: str):
    return open(path, "a", buffering=1, encoding="utf-8")  # line-buffered: each line is one write(2)


def writer(url: str, collection: str, ackfile: str, prefix: str, steps: str = "0", busy_ms: str = "2000") -> int:
    from memlab.errors import MemlabError

    n = int(steps)
    stop = Path(ackfile + ".stop")
    m = _memory(url, collection, busy_timeout_ms=int(busy_ms))  # short by default: a server outage fails fast
    mine: list[str] = []
    with _ack(ackfile) as out:
        i = 0
        while (n == 0 or i < n) and not stop.exists():
            i += 1
            text = f"{prefix} note {i}"
            try:
                if i % 5 == 0:  # a batch: all three rows and their history in one transaction
                    recs = [{"id": str(uuid.uuid4()), "memory": f"{text}.{j}", "user_id": prefix} for j in range(3)]
                    ids = m.add_records(recs)
                    for rec in recs:
                        assert rec["id"] in ids
                        out.write(f"ADD {rec['id']} {rec['memory']}\n")
                    mine.extend(ids)
                elif i % 7 == 0 and mine:
                    target = mine[i % len(mine)]
                    new = f"{prefix} edited {i}"
                    m.update(target, new)
                    out.write(f"UPD {target} {new}\n")
                else:
                    mid = m.add(text, user_id=prefix, infer=False)["results"][0]["id"]
                    out.write(f"ADD {mid} {text}\n")
                    mine.append(mid)
            except MemlabError as exc:  # the server went away: typed, and nothing acknowledged
                out.write(f"ERR {type(exc).__name__} {str(exc)[:200]!r}\n")
                time.sleep(0.2)
            except Exception as exc:  # noqa: BLE001 - the test fails on this line
                out.write(f"UNTYPED {type(exc).__module__}.{type(exc).__name__} {str(exc)[:200]!r}\n")
                return 3
    m.close()
    return 0


def updater(url: str, collection: str, ackfile: str, prefix: str, memory_id: str, steps: str) -> int:
    from memlab.errors import ConflictError, MemlabError

    m = _memory(url, collection)
    with _ack(ackfile) as out:
        for i in range(int(steps)):
            text = f"{prefix} version {i}"
            for _attempt in range(20):
                try:
                    m.update(memory_id, text)
                    break
                except ConflictError:
                    continue
                except MemlabError as exc:
                    out.write(f"ERR {type(exc).__name__} {str(exc)[:200]!r}\n")
                    return 2
                except Exception as exc:  # noqa: BLE001
                    out.write(f"UNTYPED {type(exc).__module__}.{type(exc).__name__} {str(exc)[:200]!r}\n")
                    return 3
            out.write(f"UPD {memory_id} {text}\n")
    m.close()
    return 0


def hold(url: str, collection: str, ackfile: str, memory_id: str) -> int:
    from memlab.store.rows import apply_add, apply_update, new_row

    m = _memory(url, collection)
    row = new_row("never committed", {"user_id": "holder"}, {}, now="2026-01-01T00:00:00+00:00")
    with _ack(ackfile) as out, m.store.transaction() as tx:
        apply_add(tx, row, m.embed([row["memory"]])[0])
        current = tx.get_row(memory_id)  # locks the row until the transaction ends
        apply_update(tx, current, "changed but never committed", None, m.embed(["x"])[0], "2026-01-01T00:00:01+00:00")
        out.write(f"INTX {row['id']}\n")
        time.sleep(3600)  # killed here, mid-transaction
    return 1


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    sys.exit({"writer": writer, "updater": updater, "hold": hold}[role](*args))
