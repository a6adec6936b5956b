"""Seeded sample wardrobes in the API's garment shape, for tests, benchmarks and local demos."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np

from workers.recommend.color import hex_to_rgb, rgb_to_hex
from workers.recommend.taxonomy import (
    CATEGORIES,
    FAMILY_ANCHORS,
    NEUTRAL_FAMILIES,
    PATTERNS,
    SEASONS,
    SUBCATEGORY_DEFAULTS,
)

# Share of each category in a typical wardrobe.
CATEGORY_MIX: Final = {
    "tops": 0.30,
    "bottoms": 0.17,
    "dresses": 0.08,
    "outerwear": 0.10,
    "shoes": 0.13,
    "bags": 0.06,
    "accessories": 0.09,
    "activewear": 0.05,
    "swimwear": 0.02,
}
NEUTRAL_SHARE: Final = 0.6
SOLID_SHARE: Final = 0.7
# Share of garments whose formality (and, separately, warmth) is one off the subcategory's typical.
NUDGED_SHARE: Final = 0.2
# Wear counts are geometric: most garments worn a handful of times, a few worn constantly.
WEAR_P: Final = 0.08
EPOCH: Final = datetime(2024, 1, 1, tzinfo=UTC)


def sample_color(rng: np.random.Generator, family: str) -> str:
    """A hex near one of the family's anchors (a few units of jitter per channel)."""
    anchors = FAMILY_ANCHORS[family]
    base = hex_to_rgb(anchors[int(rng.integers(len(anchors)))])
    return rgb_to_hex(base + rng.normal(0.0, 6.0, 3))


def sample_garment(
    rng: np.random.Generator, category: str, subcategory: str | None = None
) -> dict[str, Any]:
    subs = list(CATEGORIES[category])
    sub = subcategory or subs[int(rng.integers(len(subs)))]
    formality, warmth, seasons, material = SUBCATEGORY_DEFAULTS[sub]
    neutrals = sorted(NEUTRAL_FAMILIES)
    accents = [f for f in FAMILY_ANCHORS if f not in NEUTRAL_FAMILIES]
    families = neutrals if rng.random() < NEUTRAL_SHARE else accents
    main = families[int(rng.integers(len(families)))]
    colors = [{"hex": sample_color(rng, main), "family": main}]
    pattern = "solid"
    if rng.random() > SOLID_SHARE:
        pattern = PATTERNS[1 + int(rng.integers(len(PATTERNS) - 1))]
        second = neutrals[int(rng.integers(len(neutrals)))]
        colors.append({"hex": sample_color(rng, second), "family": second})
    if rng.random() < NUDGED_SHARE:
        formality = int(np.clip(formality + rng.choice([-1, 1]), 1, 5))
    if rng.random() < NUDGED_SHARE:
        warmth = int(np.clip(warmth + rng.choice([-1, 1]), 1, 5))
    created = EPOCH + timedelta(days=int(rng.integers(0, 600)))
    wear = int(rng.geometric(WEAR_P)) - 1
    return {
        "id": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
        "category": category,
        "subcategory": sub,
        "colors": colors,
        "pattern": pattern,
        "material": material,
        "formality": formality,
        "warmth": warmth,
        "seasons": sorted(seasons, key=SEASONS.index),
        "tags": [],
        "price": round(float(rng.lognormal(3.5, 0.7)), 2),
        "wear_count": wear,
        "last_worn_at": created + timedelta(days=int(rng.integers(0, 60))) if wear else None,
        "created_at": created,
    }


def random_wardrobe(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """n garments with a realistic category mix; every category with a share gets at least one."""
    rng = np.random.default_rng(seed)
    cats = list(CATEGORY_MIX)
    p = np.array(list(CATEGORY_MIX.values()))
    counts = np.maximum(np.floor(p / p.sum() * n).astype(int), 1)
    while counts.sum() < n:
        counts[int(rng.choice(len(cats), p=p / p.sum()))] += 1
    while counts.sum() > n:
        counts[int(np.argmax(counts))] -= 1
    return [sample_garment(rng, cat) for cat, c in zip(cats, counts, strict=True) for _ in range(c)]
