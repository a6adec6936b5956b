"""Offline evaluation of the CF stage (workers/recommend/cf.py) on MovieLens-100k.

Main protocol: ratings >= 4 are likes; per user, 20% of likes (rounded) are held out at random
as test. Hyperparameters of each method are chosen on a validation split carved the same way
from TRAIN only (best validation P@10, NDCG@10 on ties), then the method is refitted on all of
TRAIN and scored once on TEST. Metrics over users with >= 1 test item, train items removed from
the ranking: P@10, NDCG@10 (binary gains, ideal DCG over min(|test|, 10)) and AUC (per user,
test positives against every other item not in the user's train set, ties count half; mean over
users).

The public reference (LightFM WARP, P@10 0.106 / AUC 0.904) comes from a different protocol, so
a second table approximates that one: every rating a positive, 10 ratings held out per user,
train items left in the ranking, as in LightFM's examples/movielens notebook on ua.base/ua.test.

The data file ships inside the recbole wheel; recbole is never imported, only located:
    pip install --no-deps recbole==1.2.1

Run from the repository root: python -m bench.recommend_cf [--seeds 0 1 2] [--scale]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from workers.recommend import cf

K = 10
# LightFM's examples/movielens notebook, WARP, 10 epochs, on its ua.base/ua.test split.
REFERENCE: dict[str, Any] = {
    "name": "LightFM WARP (public, own split)",
    "p@10": 0.106,
    "auc": 0.904,
}

EASE_GRID = [
    cf.EASE(l2=v)
    for v in (100.0, 200.0, 300.0, 500.0, 750.0, 1000.0, 1500.0, 2500.0, 4000.0, 6000.0, 10000.0)
]
WEIGHTINGS: tuple[Literal["cosine", "bm25"], ...] = ("cosine", "bm25")
KNN_GRID = [
    cf.ItemKNN(neighbours=n, weighting=w)
    for w, n in itertools.product(WEIGHTINGS, (50, 100, 200, 400, 800, 1600))
]
ALS_GRID = [
    cf.ALS(factors=f, regularization=r, alpha=a, iterations=15)
    for f, r, a in itertools.product(
        (8, 16, 32, 64, 128), (1.0, 10.0, 30.0, 100.0, 300.0), (3.0, 10.0, 30.0)
    )
]
FAMILIES: dict[str, list[cf.Method]] = {
    "popularity": [cf.Popularity()],
    "itemknn": list(KNN_GRID),
    "als": list(ALS_GRID),
    "ease": list(EASE_GRID),
}


@dataclass(frozen=True, slots=True)
class Metrics:
    precision: float
    ndcg: float
    auc: float
    users: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Protocol:
    title: str
    min_rating: float
    test_fraction: float | None = None
    test_count: int | None = None
    # LightFM's notebook ranks every item, train positives included (they count as misses).
    rank_train_items: bool = False

    def n_test(self, n: int) -> int:
        if self.test_fraction is not None:
            return round(self.test_fraction * n)
        assert self.test_count is not None
        return self.test_count if n >= 2 * self.test_count else 0


MAIN = Protocol(
    title="Drape protocol: likes = rating >= 4, 20% of each user's likes held out, "
    "train items removed from the ranking",
    min_rating=4.0,
    test_fraction=0.2,
)
# Closest we can get to the reference without its files: ua.test holds 10 ratings per user.
LIGHTFM_LIKE = Protocol(
    title="LightFM-notebook-like protocol: every rating a positive, 10 held out per user, "
    "train items left in the ranking (approximates ua.base/ua.test)",
    min_rating=1.0,
    test_count=10,
    rank_train_items=True,
)


def locate_ml100k() -> Path:
    try:
        dist = importlib.metadata.distribution("recbole")
    except importlib.metadata.PackageNotFoundError:
        sys.exit(
            "MovieLens-100k not found: it ships in the recbole wheel. Install it (data only, "
            "no dependencies) with:\n    pip install --no-deps recbole==1.2.1"
        )
    path = Path(str(dist.locate_file("recbole/dataset_example/ml-100k/ml-100k.inter")))
    if not path.is_file():
        sys.exit(f"recbole is installed but {path} is missing; reinstall recbole==1.2.1")
    return path


def load_positives(path: Path, min_rating: float) -> sp.csr_matrix:
    raw = np.loadtxt(path, skiprows=1, usecols=(0, 1, 2), dtype=str)
    users = cf.IdIndex.from_ids(raw[:, 0])
    items = cf.IdIndex.from_ids(raw[:, 1])  # every rated item is in the catalogue
    kept = raw[raw[:, 2].astype(float) >= min_rating]
    pairs = zip(kept[:, 0], kept[:, 1], strict=True)
    m, _, _ = cf.build_interactions(pairs, users=users, items=items)
    m.data[:] = 1.0
    return m


def split_per_user(
    m: sp.csr_matrix, protocol: Protocol, rng: np.random.Generator
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    train_r, train_c, test_r, test_c = [], [], [], []
    for u in range(m.shape[0]):
        items = m.indices[m.indptr[u] : m.indptr[u + 1]]
        held = np.zeros(len(items), dtype=bool)
        held[rng.permutation(len(items))[: protocol.n_test(len(items))]] = True
        train_r.append(np.full((~held).sum(), u))
        train_c.append(items[~held])
        test_r.append(np.full(held.sum(), u))
        test_c.append(items[held])
    shape = m.shape
    train = cf.interaction_matrix(np.concatenate(train_r), np.concatenate(train_c), shape=shape)
    test = cf.interaction_matrix(np.concatenate(test_r), np.concatenate(test_c), shape=shape)
    return train, test


def evaluate(
    model: cf.CFModel, train: sp.csr_matrix, test: sp.csr_matrix, protocol: Protocol
) -> Metrics:
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    scores = model.score_users(users)
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    precisions, ndcgs, aucs = [], [], []
    for row, u in enumerate(users):
        s = scores[row]
        relevant = np.zeros(len(s), dtype=bool)
        relevant[test.indices[test.indptr[u] : test.indptr[u + 1]]] = True
        candidates = np.ones(len(s), dtype=bool)
        if not protocol.rank_train_items:
            candidates[train.indices[train.indptr[u] : train.indptr[u + 1]]] = False
        top = cf.top_k_indices(np.where(candidates, s, -np.inf), K)
        hits = relevant[top]
        precisions.append(hits.sum() / K)
        ideal = discounts[: min(int(relevant.sum()), K)].sum()
        ndcgs.append(float((hits * discounts[: len(top)]).sum() / ideal))
        ranks = rankdata(s[candidates])  # average ranks: ties count half
        pos = relevant[candidates]
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        aucs.append((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return Metrics(
        float(np.mean(precisions)), float(np.mean(ndcgs)), float(np.mean(aucs)), len(users)
    )


def tune(
    grid: Sequence[cf.Method],
    train: sp.csr_matrix,
    valid: sp.csr_matrix,
    protocol: Protocol,
    seed: int,
) -> tuple[cf.Method, Metrics]:
    best: tuple[cf.Method, Metrics] | None = None
    for method in grid:
        m = evaluate(cf.fit(train, method=method, seed=seed), train, valid, protocol)
        if best is None or (m.precision, m.ndcg) > (best[1].precision, best[1].ndcg):
            best = (method, m)
    assert best is not None
    return best


def run_protocol(positives: sp.csr_matrix, protocol: Protocol, seeds: Sequence[int]) -> None:
    print(f"\n== {protocol.title}")
    print(
        f"{positives.shape[0]} users x {positives.shape[1]} items, {positives.nnz} positives; "
        f"seeds {list(seeds)}; hyperparameters chosen on a validation split of TRAIN"
    )
    results: dict[str, list[tuple[Metrics, float]]] = {name: [] for name in FAMILIES}
    selected: list[str] = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        train, test = split_per_user(positives, protocol, rng)
        fit_part, valid = split_per_user(train, protocol, rng)
        best_valid = ("", -1.0)
        print(f"seed {seed}: train {train.nnz}, test {test.nnz}, validation {valid.nnz}")
        for name, grid in FAMILIES.items():
            t0 = time.perf_counter()
            method, vm = tune(grid, fit_part, valid, protocol, seed)
            tune_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            model = cf.fit(train, method=method, seed=seed)
            fit_s = time.perf_counter() - t0
            tm = evaluate(model, train, test, protocol)
            results[name].append((tm, fit_s))
            if name != "popularity" and vm.precision > best_valid[1]:
                best_valid = (name, vm.precision)
            print(
                f"  {name:10s} {method!r}\n"
                f"  {'':10s} valid P@10 {vm.precision:.4f} | test P@10 {tm.precision:.4f} "
                f"NDCG@10 {tm.ndcg:.4f} AUC {tm.auc:.4f} ({tm.users} users) | "
                f"fit {fit_s * 1000:.0f} ms, grid of {len(grid)} in {tune_s:.1f} s"
            )
        selected.append(best_valid[0])

    print(f"Test, mean ± std over {len(seeds)} seeds (users with >= 1 test item)")
    print(f"  {'method':34s} {'P@10':>15s} {'NDCG@10':>15s} {'AUC':>15s} {'fit ms':>7s}")
    for name, rows in results.items():
        cols = []
        for values in (
            [r[0].precision for r in rows],
            [r[0].ndcg for r in rows],
            [r[0].auc for r in rows],
        ):
            cols.append(f"{np.mean(values):.4f} ± {np.std(values):.4f}")
        fit_ms = np.mean([r[1] for r in rows]) * 1000
        print(f"  {name:34s} {cols[0]:>15s} {cols[1]:>15s} {cols[2]:>15s} {fit_ms:7.0f}")
    ref_p, ref_auc = REFERENCE["p@10"], REFERENCE["auc"]
    print(f"  {REFERENCE['name']:34s} {ref_p:>15.3f} {'-':>15s} {ref_auc:>15.3f}")
    print(f"  method with the best validation P@10, per seed: {selected}")


def run_movielens(seeds: Sequence[int]) -> None:
    path = locate_ml100k()
    for protocol in (MAIN, LIGHTFM_LIKE):
        run_protocol(load_positives(path, protocol.min_rating), protocol, seeds)


def synthetic_likes(
    n_users: int, n_items: int, per_user: int, rng: np.random.Generator
) -> sp.csr_matrix:
    # Power-law item popularity, like posts in a social feed.
    p = 1.0 / np.arange(1, n_items + 1) ** 0.8
    p /= p.sum()
    items = rng.choice(n_items, size=n_users * per_user, p=p)
    users = np.repeat(np.arange(n_users), per_user)
    m = cf.interaction_matrix(users, rng.permutation(n_items)[items], shape=(n_users, n_items))
    m.data[:] = 1.0
    return m


def run_scale() -> None:
    x = synthetic_likes(10_000, 50_000, 50, np.random.default_rng(0))
    print(f"\nScale: synthetic {x.shape[0]} users x {x.shape[1]} items, {x.nnz} likes")
    for method in (
        cf.ALS(factors=64, iterations=15),
        cf.ItemKNN(neighbours=100),
        cf.EASE(max_items=10_000),
        cf.EASE(max_items=20_000),
    ):
        t0 = time.perf_counter()
        model = cf.fit(x, method=method)
        fit_s = time.perf_counter() - t0
        users = range(0, x.shape[0], 50)
        t0 = time.perf_counter()
        for u in users:
            model.recommend(u, 50)
        rec_ms = (time.perf_counter() - t0) / len(users) * 1000
        print(f"  {method!r}: fit {fit_s:.1f} s, recommend(k=50) {rec_ms:.2f} ms/user")
        del model


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scale", action="store_true", help="also time fits at 10k x 50k")
    args = parser.parse_args(argv)
    run_movielens(args.seeds)
    if args.scale:
        run_scale()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
