"""Fit the relevance calibration (memlab.ranking.calibration) and measure it, cross-validated by scope.

    .venv/bin/python benchmarks/fit_calibration.py [--path LOCOMO_JSON] [--embedders minilm,hash]
        [--write] [--cache /tmp/calib/embeddings.sqlite] [--out /tmp/calib]

Data (benchmarks/calibration_data.py): the LoCoMo dev split as raw turns and as extracted facts, and
the bundled assistant set; every memory of each question's scope, scored by the engine's channels.

For every search mode a logistic model over that mode's features is fitted on the top candidates of
the mode's current ranking (``--train-depth`` per question), then its Platt step on the model's own
top 10. Reported, leave-one-scope-out (every conversation / user is scored by a model that never saw
it): ECE (10 bins) of the score over the top-10 results, before (the old ``score``: cosine) and
after, and recall@10 / nDCG@10 of ranking by the model vs. today's ranking, plus reliability
diagrams (PNG). ``--write`` fits on everything and writes the parameters as package data:
``memlab/ranking/data/calibration-<embedder>.json`` and ``calibration-generic.json`` (both embedders
pooled, over features without raw cosines).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from calibration_data import CHANNELS, load_or_extract  # noqa: E402

from memlab.config import DEFAULT_FUSION_WEIGHTS  # noqa: E402
from memlab.ranking.calibration import (  # noqa: E402
    DATA_DIR, MODE_FEATURES, Calibration, LogisticModel, ece, features, plot_reliability)

SHAPES = ("turns", "facts", "assistant")
K = 10


class Shape:
    """One dataset shape's extracted arrays, split per question."""

    def __init__(self, name: str, data: dict):
        self.name = name
        self.d = data
        qi = data["qi"]
        self.bounds = np.flatnonzero(np.r_[True, qi[1:] != qi[:-1], True])
        self.nq = len(data["q_qid"])
        self.scopes = data["q_scope"]
        self.n_rel = data["q_n_rel"]
        self._feats: dict = {}
        self._base: dict = {}

    def rows(self, i: int) -> slice:
        return slice(self.bounds[i], self.bounds[i + 1])

    def raw(self, i: int) -> dict:
        s = self.rows(i)
        return {c: self.d[c][s] for c in CHANNELS}

    def cand(self, i: int, mode: str) -> np.ndarray:
        """The rows a search in ``mode`` scores: keyword: rows holding a query term; hybrid: the RRF
        union of the dense and BM25 top 100; reranked: the reranker's head; else the whole scope."""
        key = (i, "cand", mode)
        if key not in self._feats:
            raw = self.raw(i)
            n = len(raw["dense"])
            if mode == "keyword":
                got = np.flatnonzero(raw["keyword"] > 0)
            elif mode == "hybrid":
                kw = np.flatnonzero(raw["keyword"] > 0)
                got = np.union1d(top(raw["dense"], 100), kw[top(raw["keyword"][kw], 100)])
            elif mode == "reranked":
                got = np.flatnonzero(~np.isnan(self.d["rerank"][self.rows(i)]))
            else:
                got = np.arange(n)
            self._feats[key] = got
        return self._feats[key]

    base_model = None  # the fusion model a stacked (reranked) model refines

    def feats(self, i: int, names, mode: str) -> np.ndarray:
        key = (i, tuple(names), mode, id(self.base_model) if "base" in names else None)
        if key not in self._feats and "base" in names:
            c = self.cand(i, mode)
            bm = self.base_model
            base = bm.logit(self.feats(i, bm.features, "fusion"))[c]
            extra = {"base": base, "rerank": self.d["rerank"][self.rows(i)][c]}
            self._feats[key] = features({}, names, extra=extra)
        if key not in self._feats:
            c = self.cand(i, mode)
            sub = mode in ("keyword", "hybrid")  # these modes see their candidates only (z over them)
            raw = {k: v[c] for k, v in self.raw(i).items()} if sub else self.raw(i)
            extra = {"rerank": self.d["rerank"][self.rows(i)][c]} if "rerank" in self.d else {}
            base = [f for f in names if not f.startswith("rerank")]
            if "rrf" in names:
                extra["rrf"] = baseline_value(self, i, "hybrid")
            if any(f.startswith("fused") for f in names):
                extra["fused"] = combsum_z(raw, DEFAULT_FUSION_WEIGHTS)
            X = features(raw, base, extra=extra, n=int(self.d["q_n"][i]),
                         ceilings={"keyword": float(self.d["q_kw_max"][i]),
                                   "keyword_context": float(self.d["q_kwc_max"][i])})
            X = X if sub else X[c]
            if len(base) < len(names):
                X = np.column_stack([X, features({}, [f for f in names if f.startswith("rerank")], extra=extra)])
            self._feats[key] = X
        return self._feats[key]

    def label(self, i: int, mode: str) -> np.ndarray:
        return self.d["label"][self.rows(i)][self.cand(i, mode)]


def combsum_z(raw: dict, weights: dict) -> np.ndarray:
    out = np.zeros(len(raw["dense"]))
    for c, w in weights.items():
        x = raw[c]
        sd = x.std()
        if w and sd > 1e-6 * max(1.0, abs(x.mean())):
            out += w * (x - x.mean()) / sd
    return out


def baseline_value(shape: Shape, i: int, mode: str) -> np.ndarray:
    """Today's ranking value of ``mode`` over its candidates (dense: cosine, keyword: BM25, hybrid: RRF,
    fusion: CombSUM, reranked: the reranker's score)."""
    if (i, mode) not in shape._base:
        if mode == "reranked":
            v = shape.d["rerank"][shape.rows(i)][shape.cand(i, mode)]
        else:
            v = _baseline_value(shape, i, mode)[shape.cand(i, mode)]
        shape._base[(i, mode)] = v
    return shape._base[(i, mode)]


def _baseline_value(shape: Shape, i: int, mode: str) -> np.ndarray:
    raw = shape.raw(i)
    if mode == "dense":
        return raw["dense"]
    if mode == "keyword":
        return raw["keyword"]
    if mode == "hybrid":  # RRF of the dense and BM25 rankings (k = 60)
        out = np.zeros(len(raw["dense"]))
        for c in ("dense", "keyword"):
            order = np.lexsort((np.arange(len(out)), -raw[c]))
            r = np.empty(len(out))
            r[order] = np.arange(1, len(out) + 1)
            contrib = 1.0 / (60 + r)
            contrib[r > 100] = 0.0  # each ranking is cut at HYBRID_DEPTH
            if c == "keyword":
                contrib[raw[c] <= 0] = 0.0
            out += contrib
        return out
    return combsum_z(raw, DEFAULT_FUSION_WEIGHTS)


def top(value: np.ndarray, k: int) -> np.ndarray:
    return np.lexsort((np.arange(len(value)), -value))[:k]


def ranking_metrics(shape: Shape, order_of, mode: str) -> tuple[float, float]:
    rec, ndcg = [], []
    for i in range(shape.nq):
        nrel = int(shape.n_rel[i])
        if nrel == 0:
            continue
        y = shape.label(i, mode)
        t = order_of(i)[:K]
        hit = y[t].astype(float)
        rec.append(hit.sum() / nrel)
        disc = 1.0 / np.log2(np.arange(2, K + 2))
        ndcg.append((hit * disc[: len(t)]).sum() / disc[: min(nrel, K)].sum())
    return float(np.mean(rec)), float(np.mean(ndcg))


LISTWISE = False
SHAPE_WEIGHT: dict = {}  # extra weight of a shape in the fit (default 1: every shape weighs the same)
BASE_NAMES = MODE_FEATURES["fusion"]


def listwise_weights(groups: list, l2: float) -> np.ndarray:
    """Linear ranker: softmax cross-entropy per question (ListNet with the relevant memories as the
    target distribution) over standardised features; L2-penalised; fitted by L-BFGS."""
    from scipy.optimize import minimize

    X = np.vstack([g[0] for g in groups])
    mean, sd = X.mean(0), X.std(0)
    sd[sd < 1e-9] = 1.0
    G = [((x - mean) / sd, y / y.sum()) for x, y in groups if y.sum() > 0]

    def loss(w):
        f, g = l2 * 0.5 * w @ w, l2 * w
        for x, t in G:
            s = x @ w
            s = s - s.max()
            e = np.exp(s)
            p = e / e.sum()
            f -= t @ (s - np.log(e.sum()))
            g -= x.T @ (t - p)
        return f, g

    w = minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B").x
    return w / sd  # weights on raw features


def fit_mode(shapes: list, train_q: list, mode: str, names, depth: int, l2: float) -> LogisticModel:
    """Fit on the questions ``train_q`` = [(shape, [question indices])]."""
    if "base" in names:  # a stacked model: first the fusion model it refines, on the same questions
        base = fit_mode(shapes, train_q, "fusion", BASE_NAMES, depth, l2)
        for shape in shapes:
            shape.base_model = base
    Xs, ys, groups, ws = [], [], [], []
    # every shape weighs the same in the fit, however many questions it has
    per_shape = {id(shape): len(qs) for shape, qs in train_q}
    for shape, qs in train_q:
        for i in qs:
            sel = top(baseline_value(shape, i, mode), depth)
            Xs.append(shape.feats(i, names, mode)[sel])
            ys.append(shape.label(i, mode)[sel])
            ws.append(np.full(len(sel), SHAPE_WEIGHT.get(shape.name, 1.0) * 1000.0 / per_shape[id(shape)]))
            groups.append((Xs[-1], ys[-1].astype(float)))
    if LISTWISE:
        w = listwise_weights(groups, l2)
        # then calibrate: logistic on (ranker score, the question-level features)
        X = np.vstack(Xs)
        r = (X @ w)[:, None]
        model = LogisticModel.fit(r, np.concatenate(ys).astype(float), ["r"], l2=l2)
        full = LogisticModel(tuple(names), np.zeros(len(names)), np.ones(len(names)),
                             w * model.weights[0] / model.scale[0], model.bias - model.weights[0] * model.mean[0] / model.scale[0])
        model = full
    else:
        model = LogisticModel.fit(np.vstack(Xs), np.concatenate(ys).astype(float), names, l2=l2,
                                  weight=np.concatenate(ws))
    # Platt step on the model's own top 10 of the same questions
    lg, yy, ww, ln = [], [], [], []
    for shape, qs in train_q:
        for i in qs:
            X = shape.feats(i, names, mode)
            v = model.linear(X)
            sel = top(v, K)
            lg.append(v[sel])
            yy.append(shape.label(i, mode)[sel])
            ww.append(np.full(len(sel), SHAPE_WEIGHT.get(shape.name, 1.0) * 1000.0 / per_shape[id(shape)]))
            if "log_n" in names:
                ln.append(model._clipped(X[sel])[:, list(names).index("log_n")])
    model.recalibrate(np.concatenate(lg), np.concatenate(yy).astype(float), weight=np.concatenate(ww),
                      log_n=np.concatenate(ln) if ln else None)
    return model


def cross_validate(shapes: list, mode: str, names, depth: int, l2: float, pooled: bool = True) -> dict:
    """Leave-one-scope-out over every shape at once: each held-out scope is predicted by a model fitted
    on every other scope of every shape (``pooled``) or of its own shape only."""
    held: dict[str, dict] = {s.name: {"p": [], "y": [], "order": {}} for s in shapes}
    for shape in shapes:
        for scope in np.unique(shape.scopes):
            train = []
            for other in shapes:
                if other is not shape and not pooled:
                    continue
                qs = [i for i in range(other.nq) if other is not shape or other.scopes[i] != scope]
                train.append((other, qs))
            model = fit_mode(shapes, train, mode, names, depth, l2)
            for i in np.flatnonzero(shape.scopes == scope):
                p = model.predict_proba(shape.feats(i, names, mode))
                order = top(model.logit(shape.feats(i, names, mode)), len(p))
                held[shape.name]["order"][i] = order
                held[shape.name]["p"].append(p[order[:K]])
                held[shape.name]["y"].append(shape.label(i, mode)[order[:K]])
    out = {}
    for shape in shapes:
        h = held[shape.name]
        p, y = np.concatenate(h["p"]), np.concatenate(h["y"]).astype(float)
        r, n = ranking_metrics(shape, lambda i: h["order"][i], mode)
        out[shape.name] = {"ece": ece(p, y), "recall": r, "ndcg": n, "p": p, "y": y}
    return out


def before(shape: Shape, mode: str) -> dict:
    """Today: ranked by the mode's value, ``score`` = cosine."""
    p, y = [], []
    for i in range(shape.nq):
        sel = top(baseline_value(shape, i, mode), K)
        p.append(np.clip(shape.raw(i)["dense"][shape.cand(i, mode)][sel], 0, 1))
        y.append(shape.label(i, mode)[sel])
    p, y = np.concatenate(p), np.concatenate(y).astype(float)
    r, n = ranking_metrics(shape, lambda i: top(baseline_value(shape, i, mode), K), mode)
    return {"ece": ece(p, y), "recall": r, "ndcg": n, "p": p, "y": y}


def generic_features(names) -> tuple:
    """The features of the generic fallback: no raw cosine (other embedders' cosines live on other scales)."""
    return tuple(f for f in names if f not in ("cos", "ctx_cos", "cos_best", "ctx_cos_best", "cos_best_xn"))


def write_models(shapes: list, embedder: str, modes, depth: int, l2: float, generic: bool, results: dict) -> Path:
    global BASE_NAMES
    BASE_NAMES = generic_features(MODE_FEATURES["fusion"]) if generic else MODE_FEATURES["fusion"]
    models = {}
    for mode in modes:
        names = MODE_FEATURES[mode if mode in MODE_FEATURES else "fusion"]
        names = generic_features(names) if generic else names
        models[mode] = fit_mode(shapes, [(s, list(range(s.nq))) for s in shapes], mode, names, depth, l2)
    # graph=True: no labelled graph data here; a documented prior (the search's log-odds + 2 per unit of
    # link weight), so an unlinked memory keeps its score and a relation of a query entity multiplies the
    # odds by e^2 (~7.4), one of a one-hop neighbour (weight 0.5) by e (~2.7)
    models["graph"] = LogisticModel(("base", "graph"), np.zeros(2), np.ones(2), np.array([1.0, 2.0]), 0.0)
    info = {"fitted_on": [f"{s.name} ({s.nq} questions)" for s in shapes], "train_depth": depth, "l2": l2,
            "cross_validated": results, "script": "benchmarks/fit_calibration.py"}
    return Calibration(embedder, models, info).save(DATA_DIR / f"calibration-{embedder}.json")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", default="/work/shared/datasets/locomo/locomo-dev.json")
    ap.add_argument("--embedders", default="minilm,hash")
    ap.add_argument("--modes", default="fusion,dense,keyword,hybrid,reranked")
    ap.add_argument("--cache", default="/tmp/calib/embeddings.sqlite")
    ap.add_argument("--out", default="/tmp/calib")
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--listwise", action="store_true")
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validation (with --write: just fit)")
    ap.add_argument("--plots", default=str(HERE / "results"))
    a = ap.parse_args(argv)
    global LISTWISE
    LISTWISE = a.listwise
    pooled = []
    for emb in a.embedders.split(","):
        results: dict = {}
        shapes = [Shape(s, load_or_extract(s, "assistant" if s == "assistant" else a.path, emb, a.cache, a.out))
                  for s in SHAPES]
        for mode in a.modes.split(",") if not a.no_cv else ():
            t0 = time.perf_counter()
            names = MODE_FEATURES[mode]
            cv = cross_validate(shapes, mode, names, a.depth, a.l2)
            print(f"\n## {emb} / {mode} ({time.perf_counter() - t0:.0f} s)")
            print("| shape | ECE before | ECE after | R@10 before | R@10 after | nDCG@10 before | nDCG@10 after |")
            print("|---|---|---|---|---|---|---|")
            for s in shapes:
                b, c = before(s, mode), cv[s.name]
                results.setdefault(mode, {})[s.name] = {
                    "ece_before": round(b["ece"], 4), "ece": round(c["ece"], 4), "recall@10_before": round(b["recall"], 4),
                    "recall@10": round(c["recall"], 4), "ndcg@10_before": round(b["ndcg"], 4), "ndcg@10": round(c["ndcg"], 4)}
                print(f"| {s.name} | {b['ece']:.3f} | {c['ece']:.3f} | {b['recall']:.3f} | {c['recall']:.3f} "
                      f"| {b['ndcg']:.3f} | {c['ndcg']:.3f} |")
            if a.plots:
                import matplotlib.pyplot as plt

                fig, ax = plt.subplots(figsize=(4.5, 4.5))
                plot_reliability({s.name: (cv[s.name]["p"], cv[s.name]["y"]) for s in shapes}, ax=ax,
                                 title=f"{emb} / {mode}: held-out scopes, top-10")
                Path(a.plots).mkdir(exist_ok=True)
                fig.savefig(Path(a.plots) / f"calibration-{emb}-{mode}.png", dpi=80, bbox_inches="tight")
                plt.close(fig)
        pooled += shapes
        if a.write:
            print("wrote", write_models(shapes, emb, a.modes.split(","), a.depth, a.l2, False, results))
    if a.write and pooled:
        print("wrote", write_models(pooled, "generic", a.modes.split(","), a.depth, a.l2, True, {}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
