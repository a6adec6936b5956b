"""Outfit compatibility benchmark: fill-in-the-blank accuracy, compatibility AUC, and the latency of
`recommend_outfits` on a 500-garment wardrobe.

    python -m bench.recommend_fitb [--outfits 4000] [--seed 0] [--timing-runs 60]

## The data, and exactly what it rewards
No public outfit dataset is available offline, so this file generates one. A catalogue of garments
is drawn first (subcategories from the taxonomy with their typical formality and seasons, +-1
formality noise on 25% of items, 30% patterned, colours drawn in HSV: 55% neutrals of six kinds,
45% accents of any hue). Then synthetic stylists compose outfits from it by rules written here in
their own terms, which are NOT the scorer's:

- Colour, on the HSV hue wheel (the scorer works in CIE LCh, whose hue angles differ by up to ~40
  degrees and whose neutrals are defined differently): each outfit follows one scheme drawn per
  outfit: all neutrals (30%), neutrals + one accent hue within +-20 degrees (35%), analogous
  (every accent within +-35 degrees of a hero hue, 20%), complementary (accents within +-20 degrees
  of the hero hue or its opposite, 15%). A stylist's "neutral" is low HSV saturation, or a
  beige/navy/brown box in HSV.
- Formality: a target drawn per outfit from an occasion (1.5, 2, 3, 3.5, 4.5), every item within a
  tolerance window of it (0.8 to 1.5, per stylist): a hard window, where the scorer has a smooth
  squared-gap penalty between pairs.
- Season: one season per outfit, every item tagged for it.
- Pattern: at most one patterned item (enforced 85% of the time), where the scorer sums pattern
  loudness per pair.
- Shape: top + bottom + shoes (75%) or dress + shoes; an outer layer always in winter, half the
  time in spring and autumn, never in summer; a bag 40% of the time.
- Noise: each item ignores the colour rule with probability 0.1, and when no catalogue item fits
  all rules the stylist relaxes pattern, then colour, then doubles the formality window.

So a high score means the scorer agrees with generic, documented styling rules (colour
coherence, formality coherence, one season, one statement pattern), not that it matches real
people's taste; the rules share ideas with the scorer (that is the point of both), so treat the
figures as a regression check and a sanity bound, not as a measure of real-world quality. The
scorer is not fitted to these outfits (it has no trained parameters), so every outfit is held out.

## Tasks
- FITB: hide one item of an outfit; candidates are the true item and 3 random items of the same
  slot taken from other outfits; the scorer picks the candidate whose completed outfit scores
  highest (score.outfit_terms, no user context). Random guessing gets 25%.
- AUC: real outfits against the same outfits with each item swapped, with probability 1/2 (at
  least one), for a random same-slot item from another outfit.
Baselines in the same run: random, and "formality only" (the candidate closest in formality to
the rest of the outfit; for AUC minus the outfit's formality spread). An ablation then scores
with each of the scorer's context-free terms alone (no user context is given, so the weather,
occasion and taste terms are constant here).
"""

from __future__ import annotations

import argparse
import colorsys
import statistics
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from workers.recommend.analysis import analyze_wardrobe
from workers.recommend.color import rgb_to_hex
from workers.recommend.features import GarmentTable, build_table
from workers.recommend.model import Color, Garment, color_family
from workers.recommend.outfits import recommend_outfits
from workers.recommend.samples import random_wardrobe
from workers.recommend.score import PAIR_TERMS, ScoreContext, item_terms, outfit_terms
from workers.recommend.taxonomy import CATEGORIES, SEASONS, SUBCATEGORY_DEFAULTS, slot_for

CATALOGUE_MIX: Final = {
    "tops": 0.30, "bottoms": 0.20, "dresses": 0.10, "outerwear": 0.14, "shoes": 0.16, "bags": 0.10,
}  # fmt: skip
OCCASION_TARGETS: Final = (1.5, 2.0, 3.0, 3.5, 4.5)
SCHEMES: Final = (("neutral", 0.30), ("accent", 0.35), ("analogous", 0.20), ("complementary", 0.15))
PATTERNED: Final = ("striped", "checked", "plaid", "floral", "polka_dot", "animal", "graphic")


@dataclass(frozen=True, slots=True)
class Item:
    garment: Garment
    hue: float  # HSV hue in degrees
    neutral: bool  # by the stylists' HSV rule


# --- catalogue ------------------------------------------------------------------------------


def _hsv_hex(h: float, s: float, v: float) -> str:
    r, g, b = colorsys.hsv_to_rgb(h / 360.0, s, v)
    return rgb_to_hex(np.array([r, g, b]) * 255.0)


def _draw_color(rng: np.random.Generator) -> tuple[str, float, bool]:
    """(hex, HSV hue, stylist-neutral) for one garment colour."""
    if rng.random() < 0.55:
        kind = rng.choice(["black", "white", "gray", "beige", "navy", "brown"])
        h, s, v = {
            "black": (0.0, 0.0, rng.uniform(0.05, 0.15)),
            "white": (40.0, rng.uniform(0.0, 0.05), rng.uniform(0.93, 1.0)),
            "gray": (0.0, rng.uniform(0.0, 0.05), rng.uniform(0.3, 0.8)),
            "beige": (rng.uniform(30, 45), rng.uniform(0.15, 0.3), rng.uniform(0.75, 0.9)),
            "navy": (rng.uniform(215, 235), rng.uniform(0.5, 0.8), rng.uniform(0.2, 0.35)),
            "brown": (rng.uniform(18, 32), rng.uniform(0.5, 0.7), rng.uniform(0.25, 0.45)),
        }[str(kind)]
        return _hsv_hex(h, s, v), h, True
    h = rng.uniform(0, 360)
    return _hsv_hex(h, rng.uniform(0.45, 0.95), rng.uniform(0.45, 0.95)), h, False


def make_catalogue(n: int, rng: np.random.Generator) -> list[Item]:
    cats = list(CATALOGUE_MIX)
    p = np.array(list(CATALOGUE_MIX.values()))
    items = []
    for i in range(n):
        cat = cats[int(rng.choice(len(cats), p=p / p.sum()))]
        subs = list(CATEGORIES[cat])
        sub = subs[int(rng.integers(len(subs)))]
        formality, warmth, seasons, material = SUBCATEGORY_DEFAULTS[sub]
        if rng.random() < 0.25:
            formality = int(np.clip(formality + rng.choice([-1, 1]), 1, 5))
        hex_color, hue, neutral = _draw_color(rng)
        pattern = str(rng.choice(PATTERNED)) if rng.random() < 0.3 else "solid"
        garment = Garment(
            id=f"c{i}",
            category=cat,
            subcategory=sub,
            slot=slot_for(cat, sub),
            colors=(Color(hex_color, color_family(hex_color)),),
            pattern=pattern,
            material=material,
            formality=formality,
            warmth=warmth,
            seasons=seasons,
        )
        items.append(Item(garment, hue, neutral))
    return items


# --- stylists -------------------------------------------------------------------------------


def _hue_gap(a: float, b: float) -> float:
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


@dataclass(frozen=True, slots=True)
class Stylist:
    tolerance: float  # formality window half-width
    pattern_discipline: float  # probability of enforcing "at most one patterned item"
    color_noise: float  # probability an item ignores the colour rule

    def color_ok(
        self, item: Item, scheme: str, hero: float | None, rng: np.random.Generator
    ) -> bool:
        if item.neutral or rng.random() < self.color_noise:
            return True
        if scheme == "neutral" or hero is None:
            return scheme != "neutral"
        if scheme == "accent":
            return _hue_gap(item.hue, hero) <= 20
        if scheme == "analogous":
            return _hue_gap(item.hue, hero) <= 35
        return min(_hue_gap(item.hue, hero), _hue_gap(item.hue, hero + 180)) <= 20

    def compose(self, by_slot: dict[str, list[Item]], rng: np.random.Generator) -> list[Item]:
        target = float(rng.choice(OCCASION_TARGETS))
        season = str(rng.choice(SEASONS))
        scheme = str(rng.choice([s for s, _ in SCHEMES], p=[p for _, p in SCHEMES]))
        slots = ["top", "bottom", "shoes"] if rng.random() < 0.75 else ["dress", "shoes"]
        wants_outer = season == "winter" or (season != "summer" and rng.random() < 0.5)
        slots += ["outer"] * wants_outer + ["bag"] * (rng.random() < 0.4)
        order = list(rng.permutation(slots))  # the first piece picked is the hero
        chosen: list[Item] = []
        hero: float | None = None
        one_pattern = rng.random() < self.pattern_discipline
        for slot in order:
            pick = self._pick(by_slot[slot], chosen, target, season, scheme, hero, one_pattern, rng)
            if pick is None:
                return []
            chosen.append(pick)
            if hero is None and not pick.neutral:
                hero = pick.hue
        return chosen

    def _pick(
        self,
        pool: Sequence[Item],
        chosen: Sequence[Item],
        target: float,
        season: str,
        scheme: str,
        hero: float | None,
        one_pattern: bool,
        rng: np.random.Generator,
    ) -> Item | None:
        patterned = any(c.garment.pattern != "solid" for c in chosen)
        in_season = [i for i in pool if season in i.garment.seasons]
        # Relax in order: pattern, then colour, then a doubled formality window.
        for tolerance, use_color, use_pattern in (
            (self.tolerance, True, True),
            (self.tolerance, True, False),
            (self.tolerance, False, False),
            (2 * self.tolerance, False, False),
        ):
            ok = [
                i
                for i in in_season
                if abs(i.garment.formality - target) <= tolerance
                and (
                    not use_pattern
                    or not (one_pattern and patterned and i.garment.pattern != "solid")
                )
                and (not use_color or self.color_ok(i, scheme, hero, rng))
            ]
            if ok:
                return ok[int(rng.integers(len(ok)))]
        return None


def make_outfits(n: int, catalogue: Sequence[Item], rng: np.random.Generator) -> list[list[Item]]:
    by_slot: dict[str, list[Item]] = {}
    for item in catalogue:
        by_slot.setdefault(item.garment.slot, []).append(item)
    stylists = [
        Stylist(tolerance=float(t), pattern_discipline=0.85, color_noise=0.1)
        for t in (0.8, 1.0, 1.2, 1.5)
    ]
    outfits: list[list[Item]] = []
    while len(outfits) < n:
        outfit = stylists[int(rng.integers(len(stylists)))].compose(by_slot, rng)
        if outfit:
            outfits.append(outfit)
    return outfits


# --- evaluation -----------------------------------------------------------------------------

Scorer = Callable[[list[int]], float]


def model_scorer(table: GarmentTable, only: Sequence[str] | None = None) -> Scorer:
    """The scorer's total, or with `only` the sum of just those of its terms (ablation)."""
    items = item_terms(table, ScoreContext())

    def score(rows: list[int]) -> float:
        terms = outfit_terms(table, rows, items)
        return sum(terms[k] for k in only) if only else sum(terms.values())

    return score


def formality_scorer(table: GarmentTable) -> Scorer:
    def score(rows: list[int]) -> float:
        return -float(np.std(table.formality[rows]))

    return score


def fitb(
    outfits: list[list[int]],
    table: GarmentTable,
    scorers: dict[str, Scorer],
    rng: np.random.Generator,
) -> dict[str, float]:
    slot_items: dict[int, list[int]] = {}
    for k, outfit in enumerate(outfits):
        for row in outfit:
            slot_items.setdefault(int(table.slot[row]), []).append(k)
    questions = []
    for outfit in outfits:
        hidden = outfit[int(rng.integers(len(outfit)))]
        rest = [r for r in outfit if r != hidden]
        others: list[int] = []
        donors = slot_items[int(table.slot[hidden])]
        while len(others) < 3:
            donor = outfits[donors[int(rng.integers(len(donors)))]]
            row = next(r for r in donor if table.slot[r] == table.slot[hidden])
            if row != hidden and row not in others and donor is not outfit:
                others.append(row)
        questions.append((rest, [hidden, *others]))  # the right answer is candidate 0
    out = {}
    base = int(rng.integers(2**32))
    for name, scorer in scorers.items():
        # Each scorer breaks ties with its own stream: adding a scorer changes no other figure.
        ties = np.random.default_rng([base, zlib.crc32(name.encode())])
        hits = 0
        for rest, candidates in questions:
            scores = np.array([scorer([*rest, c]) for c in candidates])
            hits += int(ties.choice(np.flatnonzero(scores == scores.max())) == 0)
        out[name] = hits / len(questions)
    out["random"] = float(np.mean(rng.integers(4, size=len(questions)) == 0))
    return out


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability a real outfit outscores a corrupted one (Mann-Whitney U, ties count 1/2)."""
    both = np.concatenate([pos, neg])
    order = np.argsort(both, kind="stable")
    ranks = np.empty(len(both))
    ranks[order] = np.arange(1, len(both) + 1)
    for value in np.unique(both):  # average ranks over ties
        tie = both == value
        ranks[tie] = ranks[tie].mean()
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def compatibility_auc(
    outfits: list[list[int]],
    table: GarmentTable,
    scorers: dict[str, Scorer],
    rng: np.random.Generator,
) -> dict[str, float]:
    by_slot: dict[int, list[int]] = {}
    for outfit in outfits:
        for row in outfit:
            by_slot.setdefault(int(table.slot[row]), []).append(row)
    corrupted = []
    for outfit in outfits:
        swap = rng.random(len(outfit)) < 0.5
        if not swap.any():
            swap[int(rng.integers(len(outfit)))] = True
        fake = list(outfit)
        for j in np.flatnonzero(swap):
            pool = by_slot[int(table.slot[outfit[j]])]
            while (row := pool[int(rng.integers(len(pool)))]) == outfit[j]:
                pass
            fake[j] = row
        corrupted.append(fake)
    out = {}
    for name, scorer in scorers.items():
        out[name] = auc(
            np.array([scorer(o) for o in outfits]), np.array([scorer(o) for o in corrupted])
        )
    out["random"] = auc(rng.random(len(outfits)), rng.random(len(corrupted)))
    return out


# --- latency --------------------------------------------------------------------------------


def _percentiles(ms: Sequence[float]) -> str:
    q = np.percentile(ms, [50, 95])
    return f"p50 {q[0]:.1f} ms, p95 {q[1]:.1f} ms, max {max(ms):.1f} ms"


def time_recommendations(runs: int, seed: int) -> dict[str, Any]:
    wardrobe = random_wardrobe(500, seed=seed)
    weathers = [None, {"temperature_c": 2, "precipitation": True}, {"temperature_c": 10},
                {"temperature_c": 17}, {"temperature_c": 27}]  # fmt: skip
    occasions = [None, "work", "casual", "date", "formal"]
    profile = {"preferred_styles": ["classic", "minimalist"], "preferred_colors": ["navy"]}
    start = time.perf_counter()
    first = recommend_outfits(wardrobe, profile, count=10)
    cold_ms = (time.perf_counter() - start) * 1000
    ms: list[float] = []
    counts = []
    for i in range(runs):
        start = time.perf_counter()
        recs = recommend_outfits(
            wardrobe,
            profile,
            weather=weathers[i % len(weathers)],
            occasion=occasions[(i // len(weathers)) % len(occasions)],
            count=10,
            rng_seed=i,
        )
        ms.append((time.perf_counter() - start) * 1000)
        counts.append(len(recs))
    analysis_ms = []
    for _ in range(5):
        start = time.perf_counter()
        analyze_wardrobe(wardrobe, profile)
        analysis_ms.append((time.perf_counter() - start) * 1000)
    return {
        "first": (cold_ms, len(first)),
        "recommend": ms,
        "min_count": min(counts),
        "analysis": analysis_ms,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outfits", type=int, default=4000)
    parser.add_argument("--catalogue", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timing-runs", type=int, default=60)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    catalogue = make_catalogue(args.catalogue, rng)
    outfits_items = make_outfits(args.outfits, catalogue, rng)
    table = build_table([item.garment for item in catalogue])
    outfits = [[int(item.garment.id[1:]) for item in o] for o in outfits_items]
    scorers = {"scorer": model_scorer(table), "formality only": formality_scorer(table)}
    ablation = [f"{term} term" for term in (*PAIR_TERMS, "accents")]
    for term in (*PAIR_TERMS, "accents"):
        scorers[f"{term} term"] = model_scorer(table, [term])

    start = time.perf_counter()
    fitb_result = fitb(outfits, table, scorers, np.random.default_rng(args.seed + 1))
    auc_result = compatibility_auc(outfits, table, scorers, np.random.default_rng(args.seed + 2))
    eval_s = time.perf_counter() - start

    size = statistics.fmean(len(o) for o in outfits)
    print(f"synthetic stylists: {len(outfits)} outfits from a {len(catalogue)}-item catalogue")
    print(f"  seed {args.seed}; mean items per outfit {size:.2f}; evaluation {eval_s:.1f} s")
    print("                       FITB (1 of 4)   AUC")
    for name in ("scorer", "formality only", "random"):
        print(f"  {name:<20} {fitb_result[name] * 100:8.1f}%   {auc_result[name]:.3f}")
    print("  ablation, one scorer term alone:")
    for name in ablation:
        print(f"  {name:<20} {fitb_result[name] * 100:8.1f}%   {auc_result[name]:.3f}")

    timing = time_recommendations(args.timing_runs, args.seed)
    cold_ms, cold_n = timing["first"]
    print("recommend_outfits, 500-garment wardrobe, count=10:")
    print(f"  first call {cold_ms:.1f} ms ({cold_n} outfits)")
    runs = timing["recommend"]
    print(f"  {len(runs)} runs over weathers x occasions: {_percentiles(runs)}")
    print(f"  fewest outfits returned in a run: {timing['min_count']}")
    print(f"analyze_wardrobe, same wardrobe: {_percentiles(timing['analysis'])}")


if __name__ == "__main__":
    main()
