"""Collaborative filtering on implicit feedback: explore-feed posts from likes, people to follow.

Pure numerics, no I/O. Input is a sparse users x items matrix of interactions (built from id
pairs with `build_interactions`); output is top-k item indices with scores. Pick a method by
passing its config to `fit`:

- `ALS` (default): implicit-feedback matrix factorisation from the `implicit` package, imported
  only when used. On MovieLens-100k (bench/recommend_cf.py, 3 seeds, hyperparameters chosen on
  a validation split of train) it won the validation split every time and tied EASE on test
  P@10 (0.2245 vs 0.2252) with the best AUC (0.9375 vs 0.9288). Cost is linear in interactions,
  so the post universe can grow; deterministic for a given `seed`.
- `EASE`: closed-form item-item model (Steck 2019); no randomness, one hyperparameter, no extra
  package. It inverts a dense items x items matrix: O(items^2) memory, O(items^3) time, so it
  keeps the `max_items` most-liked items (at most 20k: 1.6 GB of float32 weights, ~5 GB peak
  while fitting). Good for a restricted candidate universe (recent/popular posts, passed as
  `build_interactions(items=...)`).
- `ItemKNN`: sparse item-item cosine or BM25 neighbours; cheaper, less accurate (P@10 0.184).
- `Popularity`: the baseline (P@10 0.112), and the fallback for users without history.

Fit time on this 2-core machine (shared, so approximate) for 10k users x 50k items, 485k likes
with power-law item popularity (`python -m bench.recommend_cf --scale`): ALS 64 factors x 15
iterations 5 s; ItemKNN 100 neighbours 16 s; EASE on the 10k most-liked items 16-28 s, on 20k
126 s. recommend(k=50) takes 0.5-1.5 ms per user for all of them.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

# Column/row block for dense intermediates: bounds temporaries for 20k+ items.
_BLOCK = 2048

# Excluded items: a boolean mask over all items, or item indices (array, set, list ...).
Exclusion = np.ndarray | Collection[int] | None


# OpenBLAS's Cholesky (scipy 1.17 and numpy 2.4 wheels) segfaulted on this machine at 30k items
# even on one thread, and on two threads from ~16k; 20k and 24k ran on one thread. Past this
# cap use ALS, or restrict the candidate items.
EASE_MAX_ITEMS = 20_000


@dataclass(frozen=True, slots=True, kw_only=True)
class EASE:
    l2: float = 500.0
    max_items: int = EASE_MAX_ITEMS

    def __post_init__(self) -> None:
        if not 1 <= self.max_items <= EASE_MAX_ITEMS:
            raise ValueError(f"EASE max_items must be in 1..{EASE_MAX_ITEMS}")
        if self.l2 <= 0:
            raise ValueError("EASE l2 must be > 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class ALS:
    # Defaults chosen on MovieLens-100k validation splits (bench/recommend_cf.py). The strong
    # regularization suits users with tens of likes; re-tune on Drape's own data once it exists.
    factors: int = 64
    regularization: float = 30.0
    # implicit's convention: confidence = alpha * weight on observed entries, 1 elsewhere.
    alpha: float = 3.0
    iterations: int = 15


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemKNN:
    neighbours: int = 100
    weighting: Literal["cosine", "bm25"] = "cosine"
    bm25_k1: float = 100.0
    bm25_b: float = 0.8


@dataclass(frozen=True, slots=True, kw_only=True)
class Popularity:
    pass


Method = EASE | ALS | ItemKNN | Popularity


@dataclass(frozen=True, slots=True)
class IdIndex:
    """Two-way mapping between external ids (uuid strings) and dense matrix indices."""

    ids: tuple[str, ...]
    positions: dict[str, int] = field(repr=False)

    @classmethod
    def from_ids(cls, ids: Iterable[str]) -> IdIndex:
        # Sorted so that the same set of ids gives the same indices whatever order SQL returns.
        unique = tuple(sorted(set(ids)))
        return cls(unique, {id_: i for i, id_ in enumerate(unique)})

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, id_: object) -> bool:
        return id_ in self.positions

    def index(self, id_: str) -> int:
        return self.positions[id_]

    def get(self, id_: str) -> int | None:
        return self.positions.get(id_)

    def indices(self, ids: Iterable[str]) -> np.ndarray:
        return np.fromiter((self.positions[i] for i in ids), dtype=np.int64)

    def id(self, index: int) -> str:
        return self.ids[index]

    def ids_of(self, indices: Iterable[int]) -> list[str]:
        return [self.ids[int(i)] for i in indices]


def interaction_matrix(
    rows: Sequence[int] | np.ndarray,
    cols: Sequence[int] | np.ndarray,
    weights: Sequence[float] | np.ndarray | None = None,
    *,
    shape: tuple[int, int],
) -> sp.csr_matrix:
    """users x items CSR matrix; repeated (row, col) pairs add up."""
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    w = np.ones(len(r), np.float32) if weights is None else np.asarray(weights, np.float32)
    if not (len(r) == len(c) == len(w)):
        raise ValueError("rows, cols and weights must have the same length")
    if len(r) and (r.min() < 0 or c.min() < 0 or r.max() >= shape[0] or c.max() >= shape[1]):
        raise ValueError(f"index out of range for shape {shape}")
    m = sp.csr_matrix((w, (r, c)), shape=shape, dtype=np.float32)
    m.sum_duplicates()
    return m


def build_interactions(
    pairs: Iterable[tuple[str, str] | tuple[str, str, float]],
    *,
    users: IdIndex | None = None,
    items: IdIndex | None = None,
) -> tuple[sp.csr_matrix, IdIndex, IdIndex]:
    """Matrix from (user_id, item_id[, weight]) pairs, with the two id indices.

    An index passed in is kept as is and pairs outside it are dropped: that is how a caller
    restricts items to a candidate universe (recent posts) or keeps one user index for both
    sides of the follow graph (`users=idx, items=idx`). Missing indices are built from the pairs.
    """
    rows_ids: list[str] = []
    cols_ids: list[str] = []
    weights: list[float] = []
    for pair in pairs:
        rows_ids.append(pair[0])
        cols_ids.append(pair[1])
        weights.append(float(pair[2]) if len(pair) == 3 else 1.0)
    users = users if users is not None else IdIndex.from_ids(rows_ids)
    items = items if items is not None else IdIndex.from_ids(cols_ids)
    r, c, w = [], [], []
    for u, i, x in zip(rows_ids, cols_ids, weights, strict=True):
        ui, ii = users.get(u), items.get(i)
        if ui is not None and ii is not None:
            r.append(ui)
            c.append(ii)
            w.append(x)
    return interaction_matrix(r, c, w, shape=(len(users), len(items))), users, items


@dataclass(frozen=True, slots=True, eq=False)
class CFModel:
    method: Method
    # What `recommend` leaves out by default (already liked / already followed).
    seen: sp.csr_matrix
    # Input rows for item-item methods and ALS fold-in: the matrix the model was fitted on.
    history: sp.csr_matrix
    # Fallback ranking for users without history, and tie-breaker for equal CF scores.
    popularity: np.ndarray
    # People model: item j is user j, so a user is never recommended to themselves.
    exclude_self: bool = False
    # EASE: kept item indices and their dense weights (len(kept) x len(kept)).
    kept: np.ndarray | None = None
    weights: np.ndarray | None = None
    # ItemKNN: items x items sparse similarity.
    similarity: sp.csr_matrix | None = None
    # ALS factors.
    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return int(self.seen.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.seen.shape[1])

    def score_users(self, users: Sequence[int] | np.ndarray) -> np.ndarray:
        """Dense (len(users), n_items) float32 scores; higher is better.

        Users unknown to the model or without history get the popularity scores. Items EASE
        dropped (outside `max_items`) get -inf. Nothing is excluded here.
        """
        u = np.asarray(users, dtype=np.int64)
        known = (u >= 0) & (u < self.n_users)
        out = np.empty((len(u), self.n_items), dtype=np.float32)
        out[:] = self.popularity
        if known.any():
            rows = u[known]
            warm = np.diff(self.history.indptr)[rows] > 0
            if warm.any():
                idx = np.flatnonzero(known)[warm]
                out[idx] = self._score_known(rows[warm])
        return out

    def recommend(
        self, user: int, k: int, exclude: Exclusion = None, *, exclude_seen: bool = True
    ) -> list[tuple[int, float]]:
        """Top-k (item index, score), best first, never an excluded or already seen item."""
        scores = self.score_users([user])[0]
        mask = self._exclusion_mask(exclude)
        if exclude_seen and 0 <= user < self.n_users:
            mask[self.seen.indices[self.seen.indptr[user] : self.seen.indptr[user + 1]]] = True
        if self.exclude_self and 0 <= user < self.n_items:
            mask[user] = True
        return self._top_k(scores, k, mask)

    def recommend_from_history(
        self,
        items: Sequence[int] | np.ndarray,
        k: int,
        exclude: Exclusion = None,
        *,
        weights: Sequence[float] | np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Top-k for an interaction history given directly (likes since the last fit, a new user).

        The history items themselves are excluded. An empty history gives the popularity ranking.
        """
        cols = np.asarray(items, dtype=np.int64)
        row = interaction_matrix(
            np.zeros(len(cols), np.int64), cols, weights, shape=(1, self.n_items)
        )
        scores = self.popularity.copy() if row.nnz == 0 else self._score_rows(row)[0]
        mask = self._exclusion_mask(exclude)
        mask[cols] = True
        return self._top_k(scores, k, mask)

    def _score_known(self, users: np.ndarray) -> np.ndarray:
        if self.user_factors is not None and self.item_factors is not None:
            return (self.user_factors[users] @ self.item_factors.T).astype(np.float32)
        return self._score_rows(self.history[users])

    def _score_rows(self, rows: sp.csr_matrix) -> np.ndarray:
        m = self.method
        if isinstance(m, Popularity):
            return np.tile(self.popularity, (rows.shape[0], 1))
        if isinstance(m, EASE):
            assert self.kept is not None and self.weights is not None
            out = np.full((rows.shape[0], self.n_items), -np.inf, dtype=np.float32)
            out[:, self.kept] = np.asarray(rows[:, self.kept] @ self.weights, dtype=np.float32)
            return out
        if isinstance(m, ItemKNN):
            assert self.similarity is not None
            return np.asarray((rows @ self.similarity).toarray(), dtype=np.float32)
        assert self.item_factors is not None
        return _als_fold_in(rows, self.item_factors, m) @ self.item_factors.T

    def _exclusion_mask(self, exclude: Exclusion) -> np.ndarray:
        mask = np.zeros(self.n_items, dtype=bool)
        if exclude is None:
            return mask
        if isinstance(exclude, np.ndarray) and exclude.dtype == bool:
            if exclude.shape != (self.n_items,):
                raise ValueError(f"boolean exclusion mask must have shape ({self.n_items},)")
            mask |= exclude
            return mask
        idx = np.fromiter((int(i) for i in exclude), dtype=np.int64)
        idx = idx[(idx >= 0) & (idx < self.n_items)]
        mask[idx] = True
        return mask

    def _top_k(self, scores: np.ndarray, k: int, mask: np.ndarray) -> list[tuple[int, float]]:
        scores = np.where(mask, -np.inf, scores)
        idx = top_k_indices(scores, k, tiebreak=self.popularity)
        return [(int(i), float(scores[i])) for i in idx]


def top_k_indices(scores: np.ndarray, k: int, *, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """Indices of the k best finite scores, best first.

    Equal scores are ordered by higher `tiebreak`, then lower index, so the output is fully
    determined by the input (argpartition alone leaves ties in an arbitrary order).
    """
    n_ok = int(np.isfinite(scores).sum())
    k = min(k, n_ok)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
    cand = np.flatnonzero(scores >= threshold)
    keys: list[np.ndarray] = [cand]
    if tiebreak is not None:
        keys.append(-tiebreak[cand])
    keys.append(-scores[cand])
    return cand[np.lexsort(keys)[:k]]


def fit(
    interactions: sp.spmatrix | sp.sparray,
    *,
    method: Method | None = None,
    seed: int = 0,
    seen: sp.spmatrix | sp.sparray | None = None,
    exclude_self: bool = False,
) -> CFModel:
    """Fit a model on a users x items matrix of implicit feedback (weights >= 0).

    `seen` (default: the pattern of `interactions`) is what `recommend` leaves out by default.
    `seed` drives ALS initialisation; the other methods have no randomness.
    """
    method = method if method is not None else ALS()
    x = sp.csr_matrix(interactions, dtype=np.float32)
    x.sum_duplicates()
    x.eliminate_zeros()
    seen_m = x if seen is None else sp.csr_matrix(seen, dtype=np.float32)
    if seen_m.shape != x.shape:
        raise ValueError("seen must have the shape of interactions")
    if exclude_self and x.shape[0] != x.shape[1]:
        raise ValueError("exclude_self needs a square users x users matrix")
    # Distinct users per item: one very active user must not make an item "popular".
    popularity = np.bincount(x.indices, minlength=x.shape[1]).astype(np.float32)
    base = {"seen": seen_m, "history": x, "popularity": popularity, "exclude_self": exclude_self}
    if isinstance(method, Popularity):
        return CFModel(method, **base)
    if isinstance(method, EASE):
        kept, weights = _fit_ease(x, method, popularity)
        return CFModel(method, **base, kept=kept, weights=weights)
    if isinstance(method, ItemKNN):
        return CFModel(method, **base, similarity=_fit_item_knn(x, method))
    users, items = _fit_als(x, method, seed)
    return CFModel(method, **base, user_factors=users, item_factors=items)


def fit_people(
    follows: sp.spmatrix | sp.sparray,
    *,
    likes: sp.spmatrix | sp.sparray | None = None,
    post_authors: Sequence[int] | np.ndarray | None = None,
    like_weight: float = 0.5,
    method: Method | None = None,
    seed: int = 0,
) -> CFModel:
    """People-to-follow model on the follow graph (users x followed users).

    With `likes` (users x posts) and `post_authors` (author user index per post), liking an
    author's posts adds `like_weight * log2(1 + n_likes)` to the user -> author signal, so
    users who like but don't follow still get neighbours. Only follows count as seen: a liked but
    not followed author stays recommendable. The user is never recommended to themselves.
    """
    f = sp.csr_matrix(follows, dtype=np.float32)
    if f.shape[0] != f.shape[1]:
        raise ValueError("follows must be square (users x users)")
    f.data[:] = 1.0
    signal = f
    if likes is not None:
        if post_authors is None:
            raise ValueError("likes need post_authors")
        lk = sp.csr_matrix(likes, dtype=np.float32)
        authors = np.asarray(post_authors, dtype=np.int64)
        to_author = interaction_matrix(
            np.arange(len(authors)), authors, shape=(lk.shape[1], f.shape[0])
        )
        liked = sp.csr_matrix(lk @ to_author)
        liked.setdiag(0)  # liking one's own posts says nothing about whom to follow
        liked.eliminate_zeros()
        liked.data = like_weight * np.log2(1.0 + liked.data)
        signal = sp.csr_matrix(f + liked)
    return fit(signal, method=method, seed=seed, seen=f, exclude_self=True)


def _fit_ease(x: sp.csr_matrix, cfg: EASE, popularity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_items = x.shape[1]
    if n_items > cfg.max_items:
        # Most-liked items first, lower index on ties, so the kept set is deterministic.
        kept = np.sort(np.lexsort((np.arange(n_items), -popularity))[: cfg.max_items])
    else:
        kept = np.arange(n_items)
    n = len(kept)
    xk = sp.csc_matrix(x[:, kept], dtype=np.float64)
    # Fortran order so LAPACK works in place; the Gram matrix is symmetric, so layout is free.
    gram = np.empty((n, n), dtype=np.float64, order="F")
    # Column blocks: the sparse product of the full Gram can hold more than n^2 entries' worth.
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        gram[:, start:stop] = (xk.T @ xk[:, start:stop]).toarray()
    gram[np.diag_indices(n)] += cfg.l2
    # OpenBLAS's threaded dpotrf segfaults on 2 threads from n ~ 16k (OpenBLAS issues #2562,
    # #2821): factor on one thread. The inverse from the factor is still threaded.
    with threadpool_limits(1, "blas"):
        c, info = scipy.linalg.lapack.dpotrf(gram, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE Gram matrix not positive definite (info={info})")
    p, info = scipy.linalg.lapack.dpotri(c, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE inverse failed (info={info})")
    del gram, c
    # dpotri fills the upper triangle only; mirror it block by block to avoid n x n temporaries.
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        p[start:stop, :start] = p[:start, start:stop].T
        block = p[start:stop, start:stop]
        block[:] = np.triu(block) + np.triu(block, 1).T
    p /= -np.diag(p).copy()  # B_ij = -P_ij / P_jj
    np.fill_diagonal(p, 0.0)
    return kept, np.ascontiguousarray(p, dtype=np.float32)


def _fit_item_knn(x: sp.csr_matrix, cfg: ItemKNN) -> sp.csr_matrix:
    items_users = sp.csr_matrix(x.T)
    if cfg.weighting == "bm25":
        items_users = _bm25_rows(items_users, cfg.bm25_k1, cfg.bm25_b)
    else:
        norms = np.sqrt(np.asarray(items_users.multiply(items_users).sum(axis=1)).ravel())
        items_users = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ items_users)
    n = items_users.shape[0]
    k = min(cfg.neighbours, n - 1)
    users_items = sp.csr_matrix(items_users.T)
    rows, cols, vals = [], [], []
    # Dense blocks of ~32M floats keep memory bounded for 50k+ items.
    block = max(1, (1 << 25) // max(n, 1))
    for start in range(0, n, block):
        stop = min(n, start + block)
        sim = np.asarray((items_users[start:stop] @ users_items).toarray(), dtype=np.float32)
        sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
        if k <= 0:
            continue
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        v = np.take_along_axis(sim, top, axis=1)
        keep = v > 0
        rows.append(np.broadcast_to(np.arange(start, stop)[:, None], top.shape)[keep])
        cols.append(top[keep])
        vals.append(v[keep])
    if not rows:
        return sp.csr_matrix((n, n), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
        dtype=np.float32,
    )


def _bm25_rows(m: sp.csr_matrix, k1: float, b: float) -> sp.csr_matrix:
    # Items as documents, users as terms: damps heavy likers and very popular items.
    coo = m.tocoo()
    n_docs = float(m.shape[0])
    idf = math.log(n_docs) - np.log1p(np.bincount(coo.col, minlength=m.shape[1]))
    lengths = np.asarray(m.sum(axis=1)).ravel()
    norm = (1.0 - b) + b * lengths / max(lengths.mean(), 1e-12)
    data = coo.data * (k1 + 1.0) / (k1 * norm[coo.row] + coo.data) * idf[coo.col]
    return sp.csr_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=m.shape)


def _fit_als(x: sp.csr_matrix, cfg: ALS, seed: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        from implicit.cpu.als import AlternatingLeastSquares
    except ImportError as e:
        raise ImportError(
            "ALS needs the implicit package (implicit==0.7.3); EASE and ItemKNN need only scipy"
        ) from e

    # implicit runs its own threads per user/item; a threaded BLAS underneath oversubscribes.
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=cfg.factors,
            regularization=cfg.regularization,
            alpha=cfg.alpha,
            iterations=cfg.iterations,
            random_state=seed,
            dtype=np.float32,
        )
        model.fit(x, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


def _als_fold_in(rows: sp.csr_matrix, item_factors: np.ndarray, cfg: ALS) -> np.ndarray:
    # Exact least-squares user step of implicit ALS for histories that were not in the fit.
    v = item_factors.astype(np.float64)
    base = v.T @ v + cfg.regularization * np.eye(v.shape[1])
    out = np.zeros((rows.shape[0], v.shape[1]), dtype=np.float32)
    for r in range(rows.shape[0]):
        cols = rows.indices[rows.indptr[r] : rows.indptr[r + 1]]
        if len(cols) == 0:
            continue
        conf = cfg.alpha * rows.data[rows.indptr[r] : rows.indptr[r + 1]].astype(np.float64)
        vh = v[cols]
        a = base + vh.T @ (vh * (conf - 1.0)[:, None])
        out[r] = np.linalg.solve(a, vh.T @ conf)
    return out
