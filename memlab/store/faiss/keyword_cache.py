"""The keyword (BM25) indexes of an on-disk FAISS store, persisted beside ``memlab.db``.

Building the two BM25 indexes (memory text, context window) means analysing every row's text:
about half a second at 20,000 memories, which a re-opened store used to pay on its first search.
Instead, :func:`save` writes their term lists to ``keyword-index.npz`` when the store is closed
(and when an index is first built), and :func:`restore` loads them when the store is opened:
numpy arrays, no text analysis; a term's postings are rebuilt from them the first time a query
uses the term. The file is a cache, never the truth: it is used only if it was written for the
same store epoch (a ``reset()`` changes it), the same analyzer and BM25 parameters and the same
rows (their vids), and the rows written after it (a newer ``seq``, by this or another process)
are indexed again from their text. A missing, stale or unreadable file just means a rebuild.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import numpy as np

from memlab.ranking.keyword_index import KeywordIndex

FILE = "keyword-index.npz"
FORMAT = 1


def _signature(index: KeywordIndex) -> str:
    language, stop_words = index.analyzer.key()
    return json.dumps({"format": FORMAT, "language": language, "stop_words": list(stop_words),
                       "k1": index.k1, "b": index.b})


def _arrays(index: KeywordIndex, n: int, prefix: str) -> dict:
    """The term lists of positions 0..n-1 (each row's terms and tfs, concatenated in position order)."""
    terms = [index.doc_terms[p] if p < len(index.doc_terms) and index.doc_terms[p] is not None else None
             for p in range(n)]
    lens = np.fromiter((-1 if t is None else len(t) for t in terms), dtype=np.int64, count=n)
    live = [t for t in terms if t is not None and len(t)]
    tfs = [index.doc_tfs[p] for p in range(n) if terms[p] is not None and len(terms[p])]
    vocab = "\n".join(index.vocab)  # tokens are \w+ runs: never a newline; insertion order = term id
    return {f"{prefix}lens": lens, f"{prefix}terms": np.concatenate(live) if live else np.zeros(0, np.int64),
            f"{prefix}tfs": np.concatenate(tfs) if tfs else np.zeros(0), f"{prefix}doc_len": index.doc_len[:n],
            f"{prefix}vocab": np.frombuffer(vocab.encode("utf-8"), dtype=np.uint8)}


def save(directory: Path, table, epoch: Optional[str], last_seq: int) -> None:
    """Write the table's keyword indexes (if built) to ``directory / FILE``, atomically."""
    if table.keyword is None or table.context_keyword is None or epoch is None:
        return
    n = table.n
    meta = {"epoch": epoch, "seq": int(last_seq), "n": n, "signature": _signature(table.keyword)}
    data = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), "vids": table.vids[:n]}
    data.update(_arrays(table.keyword, n, "kw_"))
    data.update(_arrays(table.context_keyword, n, "ctx_"))
    target = Path(directory) / FILE
    tmp = target.with_name(f".{FILE}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **data)
        os.replace(tmp, target)
    except OSError:
        pass  # a cache: a read-only or full disk only costs a rebuild next time
    finally:
        tmp.unlink(missing_ok=True)


def restore(directory: Path, table, epoch: Optional[str], seqs: np.ndarray) -> bool:
    """Give a freshly bulk-loaded ``table`` its keyword indexes from the file; ``seqs`` is each row's
    ``seq``. Rows newer than the file (or beyond it) are indexed from their text. False if unusable."""
    target = Path(directory) / FILE
    if epoch is None or not target.is_file():
        return False
    probe = KeywordIndex(1, **table.keyword_args)
    try:
        with np.load(target, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            n = int(meta["n"])
            if (meta.get("epoch") != epoch or meta.get("signature") != _signature(probe) or n > table.n
                    or not np.array_equal(data["vids"], table.vids[:n])):
                return False
            kw = _index(data, "kw_", n, table)
            ctx = _index(data, "ctx_", n, table)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    table.keyword, table.context_keyword = kw, ctx
    stale = np.flatnonzero(np.asarray(seqs[:n]) > int(meta["seq"])).tolist() + list(range(n, table.n))
    for pos in stale:
        doc, ctx_doc = table._docs(pos)
        kw.set(pos, doc)
        ctx.set(pos, ctx_doc)
    return True


class _LazyPostings(list):
    """``KeywordIndex.postings`` restored from term lists: a term's {position: tf} dict is built the
    first time it is read (a query or a write touching the term); new terms are appended as usual."""

    def __init__(self, n_terms: int, terms: np.ndarray, rows: np.ndarray, tfs: np.ndarray):
        super().__init__([None] * n_terms)
        order = np.argsort(terms, kind="stable")  # by term, positions ascending within a term
        self._rows, self._tfs = rows[order], tfs[order]
        self._bounds = np.searchsorted(terms[order], np.arange(n_terms + 1))

    def __getitem__(self, tid):
        got = super().__getitem__(tid)
        if got is None:
            lo, hi = int(self._bounds[tid]), int(self._bounds[tid + 1])
            got = dict(zip(self._rows[lo:hi].tolist(), self._tfs[lo:hi].tolist()))
            super().__setitem__(tid, got)
        return got


_UNSET = object()


class _LazyRows(list):
    """``KeywordIndex.doc_terms`` / ``doc_tfs`` restored from term lists: a row's array is a slice of
    the concatenation, taken when read (None for a row that was never indexed); writes replace it."""

    def __init__(self, n: int, lens: np.ndarray, bounds: np.ndarray, values: np.ndarray):
        super().__init__([_UNSET] * n)
        self._lens, self._bounds, self._values = lens, bounds, values

    def __getitem__(self, pos):
        got = super().__getitem__(pos)
        if got is _UNSET:
            return None if self._lens[pos] < 0 else self._values[self._bounds[pos]:self._bounds[pos + 1]]
        return got

    def __iter__(self):
        return (self[p] for p in range(len(self)))


def _index(data, prefix: str, n: int, table) -> KeywordIndex:
    lens, terms, tfs = data[f"{prefix}lens"], data[f"{prefix}terms"].astype(np.int64), data[f"{prefix}tfs"]
    vocab = bytes(data[f"{prefix}vocab"]).decode("utf-8")
    tokens = vocab.split("\n") if vocab else []
    index = KeywordIndex(max(1024, table._cap), **table.keyword_args)
    index.vocab = {t: i for i, t in enumerate(tokens)}
    sizes = np.maximum(lens, 0)
    rows = np.repeat(np.arange(n, dtype=np.int64), sizes)
    index.postings = _LazyPostings(len(tokens), terms, rows, tfs)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    index.doc_terms = _LazyRows(n, lens, bounds, terms)
    index.doc_tfs = _LazyRows(n, lens, bounds, tfs)
    index.doc_len[:n] = data[f"{prefix}doc_len"]
    # the flat term lists the forward BM25 path gathers scopes from (see KeywordIndex._append_segment)
    index._flat_terms = np.concatenate([terms, np.empty(max(len(terms), 1024), np.int64)])
    index._flat_tfs = np.concatenate([tfs, np.empty(max(len(tfs), 1024))])
    index._flat_used = len(terms)
    index._seg_start[:n] = bounds[:-1]
    index._seg_len[:n] = sizes
    return index
