"""benchmarks/results/pg.md: the figures of bench_pg.py's pg.json as readable tables."""

from __future__ import annotations

from pathlib import Path


def _n(x) -> str:
    return f"{x:,}" if isinstance(x, (int, float)) else "-"


def _lat(d: dict) -> str:
    return f"{d['p50_ms']} / {d['p99_ms']}" if d else "-"


def write_report(r: dict, path: Path) -> None:
    f, p = r.get("faiss", {}), r.get("pgvector", {})
    lines = [f"# PostgreSQL + pgvector vs FAISS engine ({r['n']:,} memories, {r['users']:,} users, {r['embedder']})",
             "", f"Machine: {r.get('machine')}. One run of `benchmarks/bench_pg.py` (wall {r.get('wall_s')} s); "
             "both engines measured in the same run.", ""]
    if f.get("dense_scoped") and p.get("dense_scoped"):
        lines += ["## Writes and scoped search", "", "| | FAISS engine | PostgreSQL |", "|---|---|---|",
                  f"| bulk add (`add_records`), memories/s | {f['bulk_add_per_s']:,} | {p['bulk_add_per_s']:,} (COPY) |",
                  f"| single `add(infer=False)`, calls/s | {f['single_add_per_s']:,} | {p['single_add_per_s']:,} |"]
        for mode in ("dense", "keyword", "hybrid"):
            key = f"{mode}_scoped"
            if key in f and key in p:
                lines.append(f"| scoped {mode} search p50 / p99, ms | {_lat(f[key])} | {_lat(p[key])} |")
        lines.append("")
    fu = r.get("fusion")
    if fu:
        loads = fu.get("load_average_1min") or [0]
        lines += [f"## Default (fusion) scoped search, a scope's first search and again ({fu['n']:,} memories as "
                  f"conversations, {fu['users']:,} users)", "",
                  f"`m.search(query, user_id=..., limit=10)`, {fu['rounds']} bursts of {fu['queries_per_round']} queries "
                  f"per checkout, each in a new process, checkouts alternating; load average (1 min) "
                  f"{min(loads)}-{max(loads)} on 2 shared cores. *database*: time inside the driver's calls (the "
                  "server's work and the wait for it); *client*: the rest (embedding, SQL, decoding, ranking).", "",
                  "| | first: p50 end to end (database + client) / p99, ms | again: p50 (database + client) / p99, ms |",
                  "|---|---|---|"]
        for key, label in (("pgvector", "PostgreSQL"), ("pgvector_baseline", "PostgreSQL, baseline checkout")):
            row = fu.get(key)
            if row:
                a, b = row["first"], row["warm"]
                lines.append(f"| {label} | {a['p50_ms']} ({a['db_p50_ms']} + {a['client_p50_ms']}) / {a['p99_ms']} | "
                             f"{b['p50_ms']} ({b['db_p50_ms']} + {b['client_p50_ms']}) / {b['p99_ms']} |")
        if fu.get("faiss_first"):
            lines.append(f"| FAISS engine | {_lat(fu['faiss_first'])} | {_lat(fu['faiss_warm'])} |")
        lines.append("")
    c = r.get("copy_vs_row_by_row")
    if c:
        lines += [f"Bulk add on PostgreSQL, {c['records']:,} records: COPY {c['copy_per_s']:,}/s vs row by row "
                  f"{c['row_by_row_per_s']:,}/s ({c['speedup']}x).", ""]
    cc = r.get("concurrent_pgvector")
    if cc:
        lines += [f"## Concurrent client processes on PostgreSQL ({cc['mix']}, {cc['seconds']} s each)", "",
                  "| processes | ops/s | searches/s | adds/s |", "|---|---|---|---|"]
        lines += [f"| {n} | {v['ops_per_s']:,} | {v['searches_per_s']:,} | {v['adds_per_s']:,} |"
                  for n, v in cc["processes"].items()]
        lines.append("")
    a = r.get("ann")
    if a:
        lines += [f"## HNSW at {a['n']:,} memories ({a['users']:,} users, one agent)", "",
                  f"Bulk add (COPY, no history): {_n(a.get('pg_bulk_add_per_s'))}/s; HNSW build (m={a.get('hnsw_m', 16)}, "
                  f"ef_construction={a.get('hnsw_ef_construction', 64)}, one maintenance worker): {a.get('hnsw_build_s', '-')} s.", "",
                  "| whole-collection dense search (top 10) | recall@10 vs exact | p50 / p99, ms |", "|---|---|---|"]
        if "exact_whole" in a:
            lines.append(f"| PostgreSQL exact | 1 | {_lat(a['exact_whole'])} |")
        for k, v in a.items():
            if k.startswith("hnsw_ef") and isinstance(v, dict):
                lines.append(f"| PostgreSQL HNSW, ef_search={k[7:]} | {v['recall_at_10']} (min {v['min_recall']}) | "
                             f"{_lat(v)} |")
        if "faiss_exact_whole" in a:
            lines.append(f"| FAISS engine (exact) | 1 | {_lat(a['faiss_exact_whole'])} |")
        lines += ["", "| scoped search at this size, p50 / p99 ms | FAISS engine | PostgreSQL |", "|---|---|---|"]
        for mode in ("dense", "keyword"):
            lines.append(f"| {mode} | {_lat(a.get(f'faiss_{mode}_scoped', {}))} | {_lat(a.get(f'pg_{mode}_scoped', {}))} |")
        lines.append("")
    path.write_text("\n".join(lines) + "\n")
