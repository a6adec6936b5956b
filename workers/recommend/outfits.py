"""Outfit recommendations from a user's own wardrobe.

1. Filter: per slot, keep garments wearable in the weather (season, warmth, open shoes), allowed
   for the occasion (swimwear only at the beach) and, as preferences that are relaxed only when
   a slot would otherwise be empty, near the occasion's formality and not just worn.
2. Search: a beam search per outfit shape (top + bottom + shoes, or dress + shoes), slot by slot,
   then the optional outer layer (required when cold, excluded when hot), bag and accessory.
   Pruning keeps at most MAX_PER_ANCHOR states per top or dress, so the beam stays diverse.
   Pair scores are one precomputed matrix, so expanding every beam state by every candidate of
   the next slot is a single numpy gather: cost ~ beam x candidates x slots, not the product of
   all slot sizes.
3. Diversify: maximal marginal relevance over the finished outfits, with Jaccard similarity of
   their garment sets, after dropping outfits the user was just shown (kept only when the
   wardrobe can make nothing else).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypedDict

import numpy as np

from workers.recommend.features import GarmentTable, build_table
from workers.recommend.model import Garment, StyleProfile, as_garments, as_profile
from workers.recommend.score import (
    ScoreContext,
    accent_value,
    explain,
    item_score,
    item_terms,
    notes,
    outfit_terms,
    pair_score,
    slot_weight,
)
from workers.recommend.taxonomy import CORE_SLOTS, OCCASIONS, RESTRICTED_CATEGORIES, SLOT_INDEX
from workers.recommend.weather import Weather, as_weather, outer_rule, wearable_in

# Outfit shapes: the slots every outfit of that shape must fill, in search order (the first is
# the anchor the beam keeps diverse).
TEMPLATES: Final = (("top", "bottom", "shoes"), ("dress", "shoes"))
# Slots added after the shape, each at most once; "outer" becomes required when it is cold.
OPTIONAL_SLOTS: Final = ("outer", "bag", "accessory")
# Pieces that do not change the look: two outfits differing only in these are the same outfit.
EXTRA_SLOTS: Final = frozenset({"bag", "accessory"})

# Beam states kept after each slot. 256 leaves room for every slot's best partners while keeping a
# 500-garment wardrobe's search to a few milliseconds per step.
BEAM_WIDTH: Final = 256
# At most this many states share their anchor (top or dress), so one great top cannot fill the
# beam with near-copies of itself and starve the diversity step.
MAX_PER_ANCHOR: Final = 8
# Beam selection sorts only the best PRESELECT * BEAM_WIDTH extensions (see _beam_select).
PRESELECT: Final = 4
# Finished outfits handed to the diversity step.
POOL_SIZE: Final = 300
# MMR trade-off: 1.0 ranks by score alone, 0.0 by novelty alone. At 0.6 an outfit sharing two of
# three pieces with one already listed (Jaccard 0.5) pays 0.2 of the pool's score range, and one
# sharing just its shoes (0.2) pays 0.08: the list stays led by the best outfit but spreads over
# the wardrobe. Measured on sample wardrobes against 0.7: ~10% more distinct garments in a list
# of 10 for ~1% lower mean score.
MMR_LAMBDA: Final = 0.6
# With a seed, each garment's score is perturbed by this much (normal sd) for ranking only, so
# repeated requests can vary; the reported scores never include it.
EXPLORATION: Final = 0.05
# How far outside the occasion's formality range a garment may be before it is filtered out.
OCCASION_SLACK: Final = 1


class OutfitItem(TypedDict):
    garment_id: str
    slot: str
    position: int


@dataclass(frozen=True, slots=True)
class Recommendation:
    items: list[OutfitItem]
    score: float
    terms: dict[str, float]
    explanation: str

    @property
    def garment_ids(self) -> frozenset[str]:
        return frozenset(i["garment_id"] for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [dict(i) for i in self.items],
            "score": round(self.score, 4),
            "terms": {k: round(v, 4) for k, v in self.terms.items()},
            "explanation": self.explanation,
        }


def recommend_outfits(
    garments: Iterable[Garment | Mapping[str, Any] | object],
    profile: StyleProfile | Mapping[str, Any] | object | None = None,
    *,
    occasion: str | None = None,
    weather: Weather | Mapping[str, Any] | None = None,
    count: int = 10,
    recently_worn_ids: Collection[str] = frozenset(),
    recently_shown: Collection[frozenset[str]] = frozenset(),
    liked_garment_ids: Collection[str] = frozenset(),
    rng_seed: int | None = None,
) -> list[Recommendation]:
    """Up to `count` wearable, diverse outfits from `garments`, best first.

    Fewer (possibly none) come back when the wardrobe cannot make more: e.g. it is 5 °C and no
    coat is warm enough, which `analyze_wardrobe` reports as a gap.
    """
    if occasion is not None and occasion not in OCCASIONS:
        raise ValueError(f"unknown occasion {occasion!r}; known: {', '.join(OCCASIONS)}")
    if count <= 0:
        return []
    wardrobe = as_garments(garments)
    wx = as_weather(weather)
    ctx = ScoreContext(
        profile=as_profile(profile),
        occasion=occasion,
        weather=wx,
        liked_ids=frozenset(str(i) for i in liked_garment_ids),
    )
    pools = candidate_pools(
        wardrobe, ctx, recently_worn=frozenset(str(i) for i in recently_worn_ids)
    )
    chosen = [g for slot_pool in pools.values() for g in slot_pool]
    if not chosen:
        return []
    table = build_table(chosen)
    search = _Search.prepare(table, ctx, rng_seed)
    rule = outer_rule(wx)
    beams: list[_Beam] = []
    for shape in TEMPLATES:
        required = [*shape, "outer"] if rule == "required" else list(shape)
        optional = [s for s in OPTIONAL_SLOTS if s not in required]
        if rule == "excluded":
            optional.remove("outer")
        beam = search.run(required, optional)
        if beam is not None:
            beams.append(beam)
    if not beams:
        return []
    outfits, relevance = _pool(search, beams, _look_keys(recently_shown, wardrobe))
    picked = mmr(relevance, _jaccard(outfits, search.none), count, MMR_LAMBDA)
    return [_recommendation(table, search, outfits[i], ctx) for i in picked]


def candidate_pools(
    wardrobe: Sequence[Garment], ctx: ScoreContext, *, recently_worn: frozenset[str] = frozenset()
) -> dict[str, list[Garment]]:
    """Garments allowed in each slot for this request.

    Weather, restricted categories and the hot-day coat ban are hard rules. Staying within
    OCCASION_SLACK of the occasion's formality and not repeating just-worn pieces are
    preferences: if they would empty a slot an outfit needs, that slot gets them back (the
    occasion first), because an outfit with yesterday's only pair of shoes beats no outfit.
    Optional slots (a bag, or a coat on a mild day) are simply left empty instead.
    """
    rule = outer_rule(ctx.weather)
    needed = CORE_SLOTS | ({"outer"} if rule == "required" else set())
    lo, hi = OCCASIONS[ctx.occasion] if ctx.occasion else (1, 5)
    pools: dict[str, list[Garment]] = {slot: [] for slot in SLOT_INDEX}
    for g in wardrobe:
        allowed_for = RESTRICTED_CATEGORIES.get(g.category)
        if allowed_for is not None and ctx.occasion not in allowed_for:
            continue
        if g.slot == "outer" and rule == "excluded":
            continue
        if wearable_in(g.slot, g.subcategory, g.warmth, g.seasons, ctx.weather):
            pools[g.slot].append(g)
    for slot, hard in pools.items():
        in_range = [g for g in hard if lo - OCCASION_SLACK <= g.formality <= hi + OCCASION_SLACK]
        fresh = [g for g in in_range if g.id not in recently_worn]
        if slot in needed:
            fresh = fresh or [g for g in hard if g.id not in recently_worn] or in_range or hard
        pools[slot] = fresh
    return pools


@dataclass(frozen=True, slots=True, eq=False)
class _Search:
    """Score matrices over the candidate garments, padded with a 'no garment' row at index n."""

    table: GarmentTable
    pair: np.ndarray  # (n+1, n+1) slot-weighted pair score, zero on the padding
    weight: np.ndarray  # (n+1, n+1) slot pair weights, zero on the padding
    item: np.ndarray  # (n+1,) true item score
    item_rank: np.ndarray  # (n+1,) item score + exploration noise, used for ranking only
    terms: dict[str, np.ndarray]  # raw item terms (n,), for the reported breakdown
    accent: np.ndarray  # (n+1,) accent colour bits
    by_slot: dict[str, np.ndarray]

    @classmethod
    def prepare(cls, table: GarmentTable, ctx: ScoreContext, seed: int | None) -> _Search:
        n = len(table)
        ix = np.arange(n)
        w = slot_weight(table, ix[:, None], ix[None, :])
        pair = np.zeros((n + 1, n + 1))
        weight = np.zeros((n + 1, n + 1))
        pair[:n, :n] = w * pair_score(table, ix[:, None], ix[None, :])
        weight[:n, :n] = w
        terms = item_terms(table, ctx)
        item = np.zeros(n + 1)
        item[:n] = item_score(terms)
        item_rank = item.copy()
        if seed is not None:
            item_rank[:n] += np.random.default_rng(seed).normal(0.0, EXPLORATION, n)
        accent = np.zeros(n + 1, dtype=np.int64)
        accent[:n] = table.accent_mask
        by_slot = {s: np.flatnonzero(table.slot == i) for s, i in SLOT_INDEX.items()}
        return cls(table, pair, weight, item, item_rank, terms, accent, by_slot)

    @property
    def none(self) -> int:
        return len(self.table)

    def run(self, required: Sequence[str], optional: Sequence[str]) -> _Beam | None:
        """Finished outfits of one shape, or None when a required slot has no candidate."""
        if any(len(self.by_slot[s]) == 0 for s in required):
            return None
        beam = _Beam.start()
        for slot in required:
            beam = self._grow(beam, self.by_slot[slot], optional=False)
        for slot in optional:
            if slot in EXTRA_SLOTS:
                beam = self._decorate(beam, self.by_slot[slot])
            else:
                beam = self._grow(beam, self.by_slot[slot], optional=True)
        return beam

    def _candidates(self, beam: _Beam, cand: np.ndarray) -> dict[str, np.ndarray]:
        """Accumulators of every (state, candidate) extension, each (states, candidates)."""
        rows = beam.items[:, :, None]
        return {
            "pair": beam.pair[:, None] + self.pair[rows, cand[None, None, :]].sum(axis=1),
            "weight": beam.weight[:, None] + self.weight[rows, cand[None, None, :]].sum(axis=1),
            "item": beam.item[:, None] + self.item[cand][None, :],
            "item_rank": beam.item_rank[:, None] + self.item_rank[cand][None, :],
            "n": np.broadcast_to(beam.n[:, None] + 1, (len(beam), len(cand))),
            "mask": beam.mask[:, None] | self.accent[cand][None, :],
        }

    def _grow(self, beam: _Beam, cand: np.ndarray, *, optional: bool) -> _Beam:
        """Extend every state by every candidate (and, if optional, by nothing); keep the best."""
        ext = {k: v.ravel() for k, v in self._candidates(beam, cand).items()}
        ext["state"] = np.repeat(np.arange(len(beam)), len(cand))
        ext["garment"] = np.tile(cand, len(beam))
        if optional:
            for k, v in beam.accumulators().items():
                ext[k] = np.concatenate([v, ext[k]])
            ext["state"] = np.concatenate([np.arange(len(beam)), ext["state"]])
            ext["garment"] = np.concatenate([np.full(len(beam), self.none), ext["garment"]])
        anchors = beam.items[ext["state"], 0] if beam.items.shape[1] else ext["garment"]
        keep = _beam_select(_mean_score(ext, "item_rank"), anchors, BEAM_WIDTH, MAX_PER_ANCHOR)
        return beam.extend(ext, keep)

    def _decorate(self, beam: _Beam, cand: np.ndarray) -> _Beam:
        """Give each state its best extra from `cand`, or none if no extra raises its score.

        Extras never change the look, so each outfit simply takes its own best one (the bag first,
        then the accessory given the bag) instead of competing for beam places.
        """
        rows = np.arange(len(beam))
        current = beam.accumulators()
        if len(cand) == 0:
            return beam.extend(
                {**current, "state": rows, "garment": np.full(len(beam), self.none)}, rows
            )
        ext = self._candidates(beam, cand)
        with_extra = _mean_score(ext, "item_rank")
        best = np.argmax(with_extra, axis=1)
        take = with_extra[rows, best] > _mean_score(current, "item_rank")
        merged = {k: np.where(take, v[rows, best], current[k]) for k, v in ext.items()}
        merged["state"] = rows
        merged["garment"] = np.where(take, cand[best], self.none)
        return beam.extend(merged, rows)


_ACCUMULATORS: Final = ("pair", "weight", "item", "item_rank", "n", "mask")


@dataclass(frozen=True, slots=True, eq=False)
class _Beam:
    """Partial outfits with running sums, so extending one costs only the new item's pairs."""

    items: np.ndarray  # (B, slots so far) garment indices, the padding index for an empty slot
    pair: np.ndarray  # sum of slot-weighted pair scores
    weight: np.ndarray  # sum of slot pair weights
    item: np.ndarray  # sum of item scores
    item_rank: np.ndarray  # sum of item scores with exploration noise
    n: np.ndarray  # garments in the outfit
    mask: np.ndarray  # accent colour bits

    @classmethod
    def start(cls) -> _Beam:
        """One empty outfit."""
        zero, none = np.zeros(1), np.zeros(1, np.int64)
        return cls(np.empty((1, 0), np.int64), zero, zero, zero, zero, none, none)

    def __len__(self) -> int:
        return len(self.items)

    def accumulators(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in _ACCUMULATORS}

    def extend(self, ext: Mapping[str, np.ndarray], keep: np.ndarray) -> _Beam:
        items = np.column_stack([self.items[ext["state"][keep]], ext["garment"][keep]])
        return _Beam(items, *(np.asarray(ext[k])[keep] for k in _ACCUMULATORS))

    def scores(self, *, noisy: bool) -> np.ndarray:
        return _mean_score(self.accumulators(), "item_rank" if noisy else "item")


def _mean_score(acc: Mapping[str, np.ndarray], item_key: str) -> np.ndarray:
    """The outfit score of score.outfit_terms, from running sums."""
    pair, weight = acc["pair"], acc["weight"]
    pair_mean = np.divide(pair, weight, out=np.zeros(np.shape(pair)), where=weight > 0)
    item_mean = acc[item_key] / np.maximum(acc["n"], 1)
    return pair_mean + item_mean + accent_value(np.bitwise_count(acc["mask"]).astype(np.int64))


def _beam_select(scores: np.ndarray, anchors: np.ndarray, width: int, cap: int) -> np.ndarray:
    """Indices of the best `width` scores with at most `cap` per anchor, best first.

    Ties are broken by position, so the result depends only on the inputs.
    """
    shortlist = np.arange(len(scores))
    if len(scores) > PRESELECT * width:
        # Sorting only the top few widths is enough unless the cap rejects most of them.
        threshold = np.partition(scores, len(scores) - PRESELECT * width)[-PRESELECT * width]
        shortlist = np.flatnonzero(scores >= threshold)
    chosen = _capped_top(scores[shortlist], anchors[shortlist], width, cap)
    if len(chosen) < width and len(shortlist) < len(scores):
        return _capped_top(scores, anchors, width, cap)
    return shortlist[chosen]


def _capped_top(scores: np.ndarray, anchors: np.ndarray, width: int, cap: int) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    a = anchors[order]
    by_anchor = np.argsort(a, kind="stable")  # groups anchors, keeps score order inside a group
    grouped = a[by_anchor]
    starts = np.r_[0, np.flatnonzero(grouped[1:] != grouped[:-1]) + 1]
    lengths = np.diff(np.r_[starts, len(grouped)])
    rank = np.empty(len(a), dtype=np.int64)
    rank[by_anchor] = np.arange(len(a)) - np.repeat(starts, lengths)
    return order[rank < cap][:width]


def _look_key(table: GarmentTable, row: np.ndarray, none: int) -> frozenset[str]:
    return frozenset(
        table.garments[i].id for i in row if i != none and table.garments[i].slot not in EXTRA_SLOTS
    )


def _look_keys(
    shown: Collection[frozenset[str]], wardrobe: Sequence[Garment]
) -> set[frozenset[str]]:
    slot_of = {g.id: g.slot for g in wardrobe}
    return {
        frozenset(i for i in map(str, ids) if slot_of.get(i) not in EXTRA_SLOTS) for ids in shown
    }


def _pool(
    search: _Search, beams: Sequence[_Beam], shown: set[frozenset[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Finished outfits best first, one per look, none the user was just shown unless that
    leaves none (repeating a look beats an empty answer): (rows, scores).

    Rows of different shapes are padded to one width with the 'no garment' index.
    """
    width = max(b.items.shape[1] for b in beams)
    states = np.concatenate(
        [
            np.pad(b.items, ((0, 0), (0, width - b.items.shape[1])), constant_values=search.none)
            for b in beams
        ]
    )
    scores = np.concatenate([b.scores(noisy=True) for b in beams])
    order = np.argsort(-scores, kind="stable")
    seen: set[frozenset[str]] = set()
    keep: list[int] = []
    repeats: list[int] = []
    for i in order:
        key = _look_key(search.table, states[i], search.none)
        if key in seen:
            continue
        seen.add(key)
        (repeats if key in shown else keep).append(int(i))
        if len(keep) == POOL_SIZE:
            break
    keep = keep or repeats[:POOL_SIZE]
    return states[keep], scores[keep]


def _jaccard(states: np.ndarray, none: int) -> np.ndarray:
    """Jaccard similarity of the garment sets of every pair of outfits."""
    used, col = np.unique(states, return_inverse=True)
    x = np.zeros((len(states), len(used)), dtype=np.float32)
    np.put_along_axis(x, col.reshape(states.shape), 1.0, axis=1)
    x = x[:, used != none]
    inter = x @ x.T
    size = x.sum(axis=1)
    return inter / np.maximum(size[:, None] + size[None, :] - inter, 1.0)


def mmr(relevance: np.ndarray, similarity: np.ndarray, k: int, lam: float) -> list[int]:
    """Maximal marginal relevance: greedily pick argmax lam*rel - (1-lam)*max sim to the picked.

    Relevance is rescaled to [0, 1] first so that `lam` means the same for any score range.
    """
    n = len(relevance)
    if n == 0:
        return []
    span = float(relevance.max() - relevance.min())
    rel = (relevance - relevance.min()) / span if span > 0 else np.ones(n)
    max_sim = np.zeros(n)
    taken = np.zeros(n, dtype=bool)
    picked: list[int] = []
    for _ in range(min(k, n)):
        gain = np.where(taken, -np.inf, lam * rel - (1 - lam) * max_sim)
        i = int(np.argmax(gain))
        picked.append(i)
        taken[i] = True
        max_sim = np.maximum(max_sim, similarity[i])
    return picked


def _recommendation(
    table: GarmentTable, search: _Search, row: np.ndarray, ctx: ScoreContext
) -> Recommendation:
    idx = sorted((int(i) for i in row if i != search.none), key=lambda i: table.slot[i])
    terms = outfit_terms(table, idx, search.terms)
    items = [
        OutfitItem(garment_id=table.garments[i].id, slot=table.garments[i].slot, position=p)
        for p, i in enumerate(idx)
    ]
    return Recommendation(
        items=items,
        score=float(sum(terms.values())),
        terms=terms,
        explanation=explain(terms, notes(table, idx, terms, ctx)),
    )
