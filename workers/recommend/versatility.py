"""How many valid outfits a wardrobe makes, and how many each garment (real or virtual) joins.

The rule for a valid outfit is the scorer's pair rule, context-free: every two of its pieces
must be compatible, i.e. sit in slots that go together, share a season, and have a weighted pair
score (colour, formality, season, pattern) of at least COMPATIBLE_MIN. A core outfit is
top + bottom + shoes or dress + shoes. Outer layers, bags and accessories do not make new core
outfits; their versatility is the number of core outfits they go with, and each (core outfit,
compatible outer) combination is one layered outfit.

Counting never enumerates outfits: with boolean compatibility blocks (C_TB = tops x bottoms ...)
the number of top+bottom+shoes outfits is sum(C_TB * (C_TS @ C_BS.T)), and per-garment counts are
row or column sums of such products.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from workers.recommend.features import GarmentTable
from workers.recommend.score import pair_score, slot_weight
from workers.recommend.taxonomy import RESTRICTED_CATEGORIES, SLOT_INDEX

# A pair scoring at least this is compatible. Two neutrals of one formality score ~0.85, a neutral
# with an accent one step apart ~0.6, two clashing accents or a two-step formality gap < 0.1.
COMPATIBLE_MIN: Final = 0.2
LAYER_SLOTS: Final = ("outer", "bag", "accessory")


def compatible(t: GarmentTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Boolean compatibility of rows a and b (broadcasting like score.pair_terms)."""
    seasons = (t.season_mask[a] & t.season_mask[b]) != 0
    return (slot_weight(t, a, b) > 0) & seasons & (pair_score(t, a, b) >= COMPATIBLE_MIN)


def countable(t: GarmentTable) -> np.ndarray:
    """Garments that take part in counted outfits: not special-purpose (swimwear)."""
    return np.array([g.category not in RESTRICTED_CATEGORIES for g in t.garments], dtype=bool)


@dataclass(frozen=True, slots=True)
class Counts:
    outfits: int  # core outfits
    layered: int  # (core outfit, compatible outer) combinations
    per_garment: np.ndarray  # (N,) core outfits each garment is part of or goes with
    by_slot: dict[str, np.ndarray]  # table rows counted, per slot


@dataclass(frozen=True, slots=True)
class _Blocks:
    """Float 0/1 compatibility blocks between the counted garments of the core slots."""

    t: np.ndarray  # tops
    b: np.ndarray  # bottoms
    d: np.ndarray  # dresses
    s: np.ndarray  # shoes
    tb: np.ndarray
    ts: np.ndarray
    bs: np.ndarray
    ds: np.ndarray
    tbs: np.ndarray  # (tops, bottoms, shoes) float32 0/1: the separates outfits themselves


def _block(t: GarmentTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return compatible(t, a[:, None], b[None, :]).astype(np.float64)


def _blocks(t: GarmentTable, by_slot: dict[str, np.ndarray]) -> _Blocks:
    top, bottom, dress, shoes = (by_slot[s] for s in ("top", "bottom", "dress", "shoes"))
    tb, ts, bs = _block(t, top, bottom), _block(t, top, shoes), _block(t, bottom, shoes)
    # One float32 cell per possible outfit: 4 MB for 160 tops x 100 bottoms x 65 shoes.
    tbs = (tb[:, :, None] * ts[:, None, :] * bs[None, :, :]).astype(np.float32)
    return _Blocks(top, bottom, dress, shoes, tb, ts, bs, _block(t, dress, shoes), tbs)


def _slots(t: GarmentTable, mask: np.ndarray) -> dict[str, np.ndarray]:
    return {s: np.flatnonzero(mask & (t.slot == i)) for s, i in SLOT_INDEX.items()}


def count_outfits(
    t: GarmentTable, mask: np.ndarray | None = None, *, layers: bool = True
) -> Counts:
    """Outfit counts over the garments in `mask` (default: all countable ones).

    With layers=False, outer pieces, bags and accessories are left at 0 and `layered` is 0: the
    costliest part, skipped when only core outfit counts are wanted.
    """
    mask = countable(t) if mask is None else mask & countable(t)
    by_slot = _slots(t, mask)
    k = _blocks(t, by_slot)
    per = np.zeros(len(t))
    shoes_per_tb = k.tb * (k.ts @ k.bs.T)  # (tops, bottoms): shoes completing each pair
    per[k.t] += shoes_per_tb.sum(axis=1)
    per[k.b] += shoes_per_tb.sum(axis=0)
    per[k.s] += ((k.tb @ k.bs) * k.ts).sum(axis=0)
    per[k.d] += k.ds.sum(axis=1)
    per[k.s] += k.ds.sum(axis=0)
    total = int(shoes_per_tb.sum() + k.ds.sum())
    for slot in LAYER_SLOTS if layers else ():
        rows = by_slot[slot]
        per[rows] = layer_counts(t, rows, k)
    layered = int(per[by_slot["outer"]].sum())
    return Counts(total, layered, per.astype(np.int64), by_slot)


def layer_counts(t: GarmentTable, rows: np.ndarray, k: _Blocks) -> np.ndarray:
    """For each layer garment (outer, bag, accessory), the core outfits it is compatible with."""
    if len(rows) == 0:
        return np.zeros(0)
    lt, lb, ld, ls = (_block(t, rows, x).astype(np.float32) for x in (k.t, k.b, k.d, k.s))
    n_t, n_b, n_s = k.tbs.shape
    # sum over t, b, s of tbs[t, b, s] * lt[l, t] * lb[l, b] * ls[l, s]: contract t with one
    # matrix product, then b and s elementwise.
    by_bs = (lt @ k.tbs.reshape(n_t, n_b * n_s)).reshape(len(rows), n_b, n_s)
    separates = np.einsum("lbs,lb,ls->l", by_bs, lb, ls, optimize=True)
    dresses = ((ld @ k.ds) * ls).sum(axis=1)
    return (separates + dresses).astype(np.float64)


def added_outfits(t: GarmentTable, candidates: np.ndarray, base: Counts) -> np.ndarray:
    """New core outfits (core slots) or layered outfits (outer) each candidate row would add
    to the wardrobe counted in `base`. Candidates of other slots get 0."""
    k = _blocks(t, base.by_slot)
    out = np.zeros(len(candidates))
    slots = t.slot[candidates]
    for name, fn in _ADDERS.items():
        sel = slots == SLOT_INDEX[name]
        if sel.any():
            out[sel] = fn(t, candidates[sel], k)
    return out


def _add_top(t: GarmentTable, c: np.ndarray, k: _Blocks) -> np.ndarray:
    return ((_block(t, c, k.b) @ k.bs) * _block(t, c, k.s)).sum(axis=1)


def _add_bottom(t: GarmentTable, c: np.ndarray, k: _Blocks) -> np.ndarray:
    return ((_block(t, c, k.t) @ k.ts) * _block(t, c, k.s)).sum(axis=1)


def _add_shoes(t: GarmentTable, c: np.ndarray, k: _Blocks) -> np.ndarray:
    separates = ((_block(t, c, k.t) @ k.tb) * _block(t, c, k.b)).sum(axis=1)
    return separates + _block(t, c, k.d).sum(axis=1)


def _add_dress(t: GarmentTable, c: np.ndarray, k: _Blocks) -> np.ndarray:
    return _block(t, c, k.s).sum(axis=1)


def _add_outer(t: GarmentTable, c: np.ndarray, k: _Blocks) -> np.ndarray:
    return layer_counts(t, c, k)


_ADDERS: Final = {
    "top": _add_top,
    "bottom": _add_bottom,
    "shoes": _add_shoes,
    "dress": _add_dress,
    "outer": _add_outer,
}
