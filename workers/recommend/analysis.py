"""Style analysis of a wardrobe: palette, distributions, archetypes, versatility, wear and gaps.

`analyze_wardrobe` returns plain JSON-ready data (str, int, float, lists, dicts). Gaps are concrete
items, not categories: every plausible virtual garment (a subcategory from the taxonomy with its
typical formality, warmth, seasons and material, in each colour family) is scored by how many new
valid outfits it would create with what the user owns, counted with the same compatibility rule as
the versatility figures (versatility.py), and the best few are reported with that count: pieces
(new core outfits) and layers (new coat-over-outfit combinations) in separate lists.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np

from workers.recommend.color import (
    families_of_lab,
    hex_to_lab,
    kmeans_lab,
    lab_to_hex,
    lab_to_lch,
    neutral_by,
)
from workers.recommend.features import GarmentTable, build_table
from workers.recommend.model import Color, Garment, StyleProfile, as_garments, as_profile
from workers.recommend.style import (
    ARCHETYPE_NAMES,
    SECONDARY_COLOR_SHARE,
    archetype_affinity,
    style_target,
)
from workers.recommend.taxonomy import (
    CATEGORIES,
    COLOR_FAMILIES,
    FAMILY_ANCHORS,
    NEUTRAL_FAMILIES,
    SEASONS,
    SLOTS,
    SUBCATEGORY_DEFAULTS,
    slot_for,
)
from workers.recommend.versatility import Counts, added_outfits, compatible, count_outfits

PALETTE_SIZE: Final = 6
TOP_N: Final = 5
# Categories whose pieces are suggested. Activewear and swimwear serve one purpose only.
GAP_CATEGORIES: Final = ("tops", "bottoms", "dresses", "outerwear", "shoes")


def analyze_wardrobe(
    garments: Iterable[Garment | Mapping[str, Any] | object],
    profile: StyleProfile | Mapping[str, Any] | object | None = None,
    *,
    outfits_worn: Iterable[Iterable[str] | Mapping[str, Any]] = (),
    top_n: int = TOP_N,
) -> dict[str, Any]:
    """The StyleAnalysis of a wardrobe. `outfits_worn` lists logged outfits, each as garment ids
    or as an outfit object with `items` ([{garment_id, ...}]) or `garment_ids`."""
    wardrobe = as_garments(garments)
    prof = as_profile(profile)
    table = build_table(wardrobe)
    counts = count_outfits(table)
    return {
        "garment_count": len(wardrobe),
        "palette": palette(wardrobe),
        "categories": _distribution(g.category for g in wardrobe),
        "slots": {s: sum(1 for g in wardrobe if g.slot == s) for s in SLOTS},
        "formality": _formality(wardrobe),
        "seasons": season_coverage(wardrobe, table),
        "styles": style_scores(wardrobe, prof, table),
        "outfits": {"count": counts.outfits, "layered_count": counts.layered},
        "versatility": _versatility(wardrobe, counts),
        "wear": wear_stats(wardrobe, top_n),
        "worn_outfits": _worn_outfits(wardrobe, outfits_worn, table),
        "gaps": gaps(wardrobe, prof, top_n=top_n),
    }


def _distribution(values: Iterable[Any]) -> dict[str, dict[str, float]]:
    counter = Counter(str(v) for v in values)
    total = sum(counter.values()) or 1
    return {k: {"count": n, "share": round(n / total, 4)} for k, n in counter.most_common()}


def _formality(wardrobe: Sequence[Garment]) -> dict[str, Any]:
    counter = Counter(g.formality for g in wardrobe)
    return {
        "counts": {str(level): counter.get(level, 0) for level in range(1, 6)},
        "mean": round(statistics.fmean(g.formality for g in wardrobe), 3) if wardrobe else None,
    }


def _color_weights(g: Garment) -> list[float]:
    # Each garment weighs 1 in total; its secondary colours count less than the main one.
    raw = [1.0] + [SECONDARY_COLOR_SHARE] * (len(g.colors) - 1)
    return [w / sum(raw) for w in raw]


def palette(wardrobe: Sequence[Garment], size: int = PALETTE_SIZE, seed: int = 0) -> dict[str, Any]:
    """Weighted k-means of all garment colours in CIELAB, and the neutral/accent split."""
    if not wardrobe:
        return {"colors": [], "neutral_share": 0.0, "accent_share": 0.0}
    colors: list[Color] = [c for g in wardrobe for c in g.colors]
    weights = np.array([w for g in wardrobe for w in _color_weights(g)])
    labs = np.array([hex_to_lab(c.hex) for c in colors])
    chroma = lab_to_lch(labs)[:, 1]
    # Per colour (not per cluster): a cluster can mix navy and a dark teal.
    neutral = np.array([neutral_by(c.family, ch) for c, ch in zip(colors, chroma, strict=True)])
    km = kmeans_lab(labs, size, weights=weights, seed=seed)
    total = float(weights.sum())
    entries = []
    for j, (center, family) in enumerate(zip(km.centers, families_of_lab(km.centers), strict=True)):
        members = km.labels == j
        entries.append(
            {
                "hex": lab_to_hex(center),
                "family": family,
                "share": round(float(weights[members].sum()) / total, 4),
                "neutral": bool(weights[members & neutral].sum() * 2 >= weights[members].sum()),
            }
        )
    neutral_share = round(float(weights[neutral].sum()) / total, 4)
    return {
        "colors": entries,
        "neutral_share": neutral_share,
        "accent_share": round(1 - neutral_share, 4),
    }


def season_coverage(
    wardrobe: Sequence[Garment], table: GarmentTable | None = None
) -> dict[str, dict[str, int]]:
    """Per season: garments wearable then, and core outfits made only of them."""
    table = build_table(wardrobe) if table is None else table
    out = {}
    for s in SEASONS:
        mask = np.array([s in g.seasons for g in wardrobe], dtype=bool).reshape(len(wardrobe))
        outfits = count_outfits(table, mask, layers=False).outfits
        out[s] = {"garments": int(mask.sum()), "outfits": outfits}
    return out


def style_scores(
    wardrobe: Sequence[Garment], profile: StyleProfile, table: GarmentTable | None = None
) -> dict[str, Any]:
    """Cosine of the wardrobe's mean style vector with each archetype, and with the profile's."""
    table = build_table(wardrobe) if table is None else table
    if not wardrobe:
        return {
            "scores": {},
            "top": [],
            "preferred": sorted(profile.preferred_styles),
            "profile_match": None,
        }
    mean = table.style.mean(axis=0)
    scores = archetype_affinity(mean[None, :])[0]
    ranked = sorted(zip(ARCHETYPE_NAMES, scores, strict=True), key=lambda x: -x[1])
    target = style_target(profile.preferred_styles)
    match = None
    if target is not None:
        match = round(float(mean @ target / max(np.linalg.norm(mean), 1e-12)), 4)
    return {
        "scores": {name: round(float(v), 4) for name, v in ranked},
        "top": [name for name, _ in ranked[:3]],
        "preferred": sorted(profile.preferred_styles),
        "profile_match": match,
    }


def _versatility(wardrobe: Sequence[Garment], counts: Counts) -> list[dict[str, Any]]:
    """Per garment, by slot then most versatile first. For core pieces the count is the core
    outfits the garment is part of; for outer pieces, bags and accessories it is the core outfits
    it goes with. Swimwear is not counted (0)."""
    rows = sorted(
        range(len(wardrobe)),
        key=lambda i: (SLOTS.index(wardrobe[i].slot), -counts.per_garment[i], wardrobe[i].id),
    )
    return [
        {
            "garment_id": wardrobe[i].id,
            "slot": wardrobe[i].slot,
            "outfits": int(counts.per_garment[i]),
        }
        for i in rows
    ]


def _owned_since(g: Garment) -> float:
    return g.created_at.timestamp() if g.created_at else float("inf")


def wear_stats(wardrobe: Sequence[Garment], top_n: int = TOP_N) -> dict[str, Any]:
    def brief(g: Garment) -> dict[str, Any]:
        return {"garment_id": g.id, "subcategory": g.subcategory, "wear_count": g.wear_count}

    most = sorted(wardrobe, key=lambda g: (-g.wear_count, g.id))[:top_n]
    # Least worn: ties go to the garment owned longest, the likelier candidate to let go.
    least = sorted(wardrobe, key=lambda g: (g.wear_count, _owned_since(g), g.id))[:top_n]
    priced = [g for g in wardrobe if g.price is not None]
    cpw = {g.id: g.price / max(g.wear_count, 1) for g in priced if g.price is not None}
    worst = sorted(priced, key=lambda g: (-cpw[g.id], g.id))[:top_n]
    return {
        "most_worn": [brief(g) for g in most],
        "least_worn": [brief(g) for g in least],
        "never_worn": sum(1 for g in wardrobe if g.wear_count == 0),
        "cost_per_wear": {
            "median": round(statistics.median(cpw.values()), 2) if cpw else None,
            "highest": [
                {**brief(g), "price": g.price, "cost_per_wear": round(cpw[g.id], 2)} for g in worst
            ],
        },
    }


def _outfit_ids(outfit: Iterable[str] | Mapping[str, Any]) -> frozenset[str]:
    if isinstance(outfit, Mapping):
        if "garment_ids" in outfit:
            return frozenset(str(i) for i in outfit["garment_ids"])
        return frozenset(str(item["garment_id"]) for item in outfit.get("items", ()))
    return frozenset(str(i) for i in outfit)


def _worn_outfits(
    wardrobe: Sequence[Garment],
    outfits: Iterable[Iterable[str] | Mapping[str, Any]],
    table: GarmentTable,
) -> dict[str, Any]:
    logged = [_outfit_ids(o) for o in outfits]
    index = {g.id: i for i, g in enumerate(wardrobe)}
    distinct = {o for o in logged if o}
    coherent = 0
    for outfit in distinct:
        rows = np.array([index[i] for i in outfit if i in index], dtype=np.int64)
        a, b = np.triu_indices(len(rows), k=1)
        # Pieces of one slot never pair (a second necklace); only cross-slot pairs are judged.
        cross = table.slot[rows[a]] != table.slot[rows[b]]
        if len(rows) >= 2 and compatible(table, rows[a[cross]], rows[b[cross]]).all():
            coherent += 1
    used = set().union(*distinct) if distinct else set()
    return {
        "logged": len(logged),
        "distinct": len(distinct),
        "coherent": coherent,
        "garments_never_in_a_logged_outfit": sum(1 for g in wardrobe if g.id not in used),
    }


def gap_candidates(wardrobe: Sequence[Garment], profile: StyleProfile) -> list[Garment]:
    """Virtual garments the user does not own yet: each plausible subcategory in each colour.

    Skips what they already own (same subcategory and main colour family), colours they avoid,
    and the `multi` family (a print is not a concrete colour).
    """
    owned = {(g.subcategory, g.colors[0].family) for g in wardrobe}
    avoided = set(profile.avoided_colors)
    out = []
    for category in GAP_CATEGORIES:
        for sub in CATEGORIES[category]:
            formality, warmth, seasons, material = SUBCATEGORY_DEFAULTS[sub]
            for family in COLOR_FAMILIES:
                if family == "multi" or family in avoided or (sub, family) in owned:
                    continue
                out.append(
                    Garment(
                        id=f"gap:{sub}:{family}",
                        category=category,
                        subcategory=sub,
                        slot=slot_for(category, sub),
                        colors=(Color(FAMILY_ANCHORS[family][0], family),),
                        material=material,
                        formality=formality,
                        warmth=warmth,
                        seasons=seasons,
                    )
                )
    return out


def describe(g: Garment) -> str:
    """'black leather loafers, formality 4'."""
    name = g.subcategory.replace("_", " ")
    # "leather jacket" already says leather.
    material = "" if g.material in ("other", "") or g.material in name else f"{g.material} "
    return f"{g.colors[0].family} {material}{name}, formality {g.formality}"


def gaps(
    wardrobe: Sequence[Garment], profile: StyleProfile, *, top_n: int = TOP_N
) -> dict[str, list[dict[str, Any]]]:
    """The virtual garments that would add the most outfits, best first, one per subcategory.

    "pieces": tops, bottoms, dresses and shoes, ranked by the new core outfits they make.
    "layers": outer pieces, ranked by the new layered outfits (core outfit + this layer) they
    make. The two counts are on different scales, so they are never ranked together.
    """
    candidates = gap_candidates(wardrobe, profile)
    if not candidates:
        return {"pieces": [], "layers": []}
    table = build_table([*wardrobe, *candidates])
    owned = np.zeros(len(table), dtype=bool)
    owned[: len(wardrobe)] = True
    added = added_outfits(table, np.arange(len(wardrobe), len(table)), count_outfits(table, owned))
    preferred = set(profile.preferred_colors)

    def rank(k: int) -> tuple[float, bool, bool, str]:
        family = candidates[k].colors[0].family
        # Ties: a colour the user asked for, then a neutral (it keeps the most doors open).
        return (
            -added[k],
            family not in preferred,
            family not in NEUTRAL_FAMILIES,
            candidates[k].id,
        )

    best: dict[str, int] = {}
    for k in sorted(range(len(candidates)), key=rank):
        best.setdefault(candidates[k].subcategory, k)
    ranked = sorted(best.values(), key=rank)
    layers = [k for k in ranked if candidates[k].slot == "outer" and added[k] > 0]
    pieces = [k for k in ranked if candidates[k].slot != "outer" and added[k] > 0]
    return {
        "pieces": [_gap(candidates[k], int(added[k])) for k in pieces[:top_n]],
        "layers": [_gap(candidates[k], int(added[k])) for k in layers[:top_n]],
    }


def _gap(g: Garment, new_outfits: int) -> dict[str, Any]:
    return {
        "description": describe(g),
        "category": g.category,
        "subcategory": g.subcategory,
        "slot": g.slot,
        "color": {"hex": g.colors[0].hex, "family": g.colors[0].family},
        "material": g.material,
        "formality": g.formality,
        "warmth": g.warmth,
        "seasons": [s for s in SEASONS if s in g.seasons],
        "new_outfits": new_outfits,
    }
