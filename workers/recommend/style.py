"""Style archetypes as vectors over garment features, and how close garments are to each.

A garment becomes a sparse vector of weighted one-hot features (category, subcategory, pattern,
colour families, material, formality, neutral/accent). An archetype is a hand-written signature
over the same features. Cosine similarity then scores a garment, or a wardrobe's mean vector,
against every archetype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from workers.recommend.model import Garment
from workers.recommend.taxonomy import (
    CATEGORIES,
    COLOR_FAMILIES,
    MATERIALS,
    NEUTRAL_FAMILIES,
    PATTERNS,
    SUBCATEGORY_CATEGORY,
)

VOCAB: Final = (
    *(f"cat:{c}" for c in CATEGORIES),
    *(f"sub:{s}" for s in SUBCATEGORY_CATEGORY),
    *(f"pattern:{p}" for p in PATTERNS),
    *(f"color:{f}" for f in COLOR_FAMILIES),
    *(f"material:{m}" for m in MATERIALS),
    *(f"formality:{i}" for i in range(1, 6)),
    "neutral",
    "accent",
)
FEATURE_INDEX: Final = {name: i for i, name in enumerate(VOCAB)}

# How much each feature group says about style. The subcategory says most (a hoodie is a hoodie);
# the category alone says little.
GROUP_WEIGHTS: Final = {
    "cat": 0.4,
    "sub": 1.0,
    "pattern": 0.6,
    "color": 0.7,
    "material": 0.5,
    "formality": 0.7,
    "tone": 0.5,
}
# Secondary colours count for less than the main one.
SECONDARY_COLOR_SHARE: Final = 0.4

ARCHETYPES: Final[dict[str, dict[str, float]]] = {
    "minimalist": {
        "neutral": 1.0, "pattern:solid": 1.0, "color:black": 0.7, "color:white": 0.7,
        "color:gray": 0.6, "color:beige": 0.6, "color:navy": 0.3, "sub:t_shirt": 0.5,
        "sub:trousers": 0.5, "sub:sweater": 0.4, "sub:turtleneck": 0.5, "sub:coat": 0.5,
        "sub:loafers": 0.3, "sub:sneakers": 0.3, "sub:midi_dress": 0.3, "sub:tote": 0.4,
        "material:cashmere": 0.4, "material:wool": 0.3, "material:cotton": 0.3,
        "formality:3": 0.5,
    },
    "classic": {
        "sub:shirt": 0.8, "sub:blouse": 0.5, "sub:trousers": 0.7, "sub:chinos": 0.5,
        "sub:trench_coat": 0.9, "sub:coat": 0.5, "sub:blazer": 0.6, "sub:loafers": 0.8,
        "sub:cardigan": 0.4, "sub:shirt_dress": 0.5, "sub:shoulder_bag": 0.4,
        "color:navy": 0.8, "color:beige": 0.7, "color:white": 0.5, "color:black": 0.3,
        "color:brown": 0.4, "pattern:solid": 0.6, "pattern:striped": 0.4, "neutral": 0.6,
        "formality:3": 0.6, "formality:4": 0.6, "material:wool": 0.4, "material:cashmere": 0.3,
        "material:cotton": 0.3, "material:leather": 0.2,
    },
    "casual": {
        "sub:t_shirt": 1.0, "sub:jeans": 1.0, "sub:sneakers": 1.0, "sub:sweatshirt": 0.5,
        "sub:hoodie": 0.4, "sub:shorts": 0.5, "sub:denim_jacket": 0.6, "sub:casual_dress": 0.6,
        "sub:crossbody": 0.4, "sub:cap": 0.3, "material:denim": 0.8, "material:cotton": 0.6,
        "formality:1": 0.4, "formality:2": 0.9, "pattern:solid": 0.4, "pattern:striped": 0.3,
        "color:blue": 0.5, "color:white": 0.4, "color:gray": 0.4,
    },
    "streetwear": {
        "sub:hoodie": 1.0, "sub:sweatshirt": 0.6, "sub:cargo_pants": 1.0, "sub:joggers": 0.6,
        "sub:sneakers": 1.0, "sub:bomber_jacket": 0.8, "sub:puffer": 0.5, "sub:cap": 0.8,
        "sub:t_shirt": 0.4, "sub:backpack": 0.4, "pattern:graphic": 1.0, "pattern:camo": 0.7,
        "formality:1": 0.9, "formality:2": 0.4, "color:black": 0.6, "color:olive": 0.4,
        "material:nylon": 0.4, "material:cotton": 0.3, "accent": 0.3,
    },
    "sporty": {
        "cat:activewear": 1.0, "sub:leggings": 1.0, "sub:track_pants": 0.8,
        "sub:athletic_top": 0.8, "sub:sports_bra": 0.8, "sub:track_jacket": 0.8,
        "sub:athletic_shorts": 0.7, "sub:running_shoes": 1.0, "sub:sneakers": 0.6,
        "sub:joggers": 0.6, "sub:cap": 0.4, "sub:backpack": 0.4, "material:synthetic": 0.6,
        "material:nylon": 0.5, "material:polyester": 0.5, "material:fleece": 0.3,
        "formality:1": 1.0,
    },
    "bohemian": {
        "sub:maxi_dress": 1.0, "sub:skirt": 0.5, "sub:blouse": 0.6, "sub:sandals": 0.8,
        "sub:ankle_boots": 0.4, "sub:cardigan": 0.3, "sub:hat": 0.4, "sub:jewelry": 0.5,
        "sub:crossbody": 0.3, "pattern:floral": 0.8, "pattern:paisley": 1.0,
        "material:linen": 0.6, "material:suede": 0.6, "material:cotton": 0.3,
        "color:brown": 0.5, "color:olive": 0.5, "color:orange": 0.5, "color:beige": 0.4,
        "color:multi": 0.5, "formality:2": 0.6,
    },
    "romantic": {
        "cat:dresses": 0.6, "sub:midi_dress": 0.8, "sub:blouse": 0.8, "sub:skirt": 0.8,
        "sub:mini_dress": 0.4, "sub:heels": 0.6, "sub:flats": 0.7, "sub:clutch": 0.4,
        "sub:jewelry": 0.4, "pattern:floral": 1.0, "pattern:polka_dot": 0.6,
        "color:pink": 1.0, "color:white": 0.5, "color:purple": 0.3, "color:red": 0.3,
        "material:silk": 0.7, "formality:3": 0.5,
    },
    "edgy": {
        "sub:leather_jacket": 1.0, "sub:boots": 1.0, "sub:ankle_boots": 0.6, "sub:jeans": 0.4,
        "sub:t_shirt": 0.3, "sub:mini_dress": 0.3, "material:leather": 1.0,
        "color:black": 1.0, "color:burgundy": 0.3, "pattern:animal": 0.6,
        "pattern:graphic": 0.3, "formality:2": 0.5, "formality:3": 0.3,
    },
    "preppy": {
        "sub:polo": 1.0, "sub:shirt": 0.6, "sub:chinos": 1.0, "sub:cardigan": 0.7,
        "sub:sweater": 0.6, "sub:blazer": 0.6, "sub:loafers": 1.0, "sub:skirt": 0.4,
        "sub:shirt_dress": 0.4, "pattern:striped": 0.7, "pattern:plaid": 0.8,
        "pattern:checked": 0.5, "color:navy": 1.0, "color:white": 0.5, "color:green": 0.4,
        "color:red": 0.3, "formality:3": 0.8, "material:cotton": 0.4, "material:knit": 0.4,
    },
    "business": {
        "sub:blazer": 1.0, "sub:trousers": 1.0, "sub:shirt": 1.0, "sub:oxfords": 1.0,
        "sub:loafers": 0.6, "sub:heels": 0.5, "sub:briefcase": 0.8, "sub:tie": 0.8,
        "sub:coat": 0.5, "sub:skirt": 0.3, "sub:cocktail_dress": 0.2, "formality:4": 1.0,
        "formality:5": 0.7, "color:navy": 0.6, "color:black": 0.6, "color:gray": 0.6,
        "color:white": 0.4, "material:wool": 0.8, "material:silk": 0.3, "pattern:solid": 0.6,
        "pattern:striped": 0.3,
    },
}  # fmt: skip


def _signature_matrix() -> np.ndarray:
    m = np.zeros((len(ARCHETYPES), len(VOCAB)))
    for i, signature in enumerate(ARCHETYPES.values()):
        for name, weight in signature.items():
            m[i, FEATURE_INDEX[name]] = weight  # a KeyError here is a typo in ARCHETYPES
    return m / np.linalg.norm(m, axis=1, keepdims=True)


ARCHETYPE_NAMES: Final = tuple(ARCHETYPES)
ARCHETYPE_MATRIX: Final = _signature_matrix()  # (archetypes, features), unit rows


def feature_vector(g: Garment) -> np.ndarray:
    v = np.zeros(len(VOCAB))
    w = GROUP_WEIGHTS
    if f"cat:{g.category}" in FEATURE_INDEX:
        v[FEATURE_INDEX[f"cat:{g.category}"]] = w["cat"]
    if f"sub:{g.subcategory}" in FEATURE_INDEX:
        v[FEATURE_INDEX[f"sub:{g.subcategory}"]] = w["sub"]
    if f"pattern:{g.pattern}" in FEATURE_INDEX:
        v[FEATURE_INDEX[f"pattern:{g.pattern}"]] = w["pattern"]
    if f"material:{g.material}" in FEATURE_INDEX:
        v[FEATURE_INDEX[f"material:{g.material}"]] = w["material"]
    v[FEATURE_INDEX[f"formality:{g.formality}"]] = w["formality"]
    for rank, color in enumerate(g.colors):
        share = 1.0 if rank == 0 else SECONDARY_COLOR_SHARE
        idx = FEATURE_INDEX[f"color:{color.family}"]
        v[idx] = max(v[idx], w["color"] * share)
    tone = "neutral" if g.colors[0].family in NEUTRAL_FAMILIES else "accent"
    v[FEATURE_INDEX[tone]] = w["tone"]
    return v


def feature_matrix(garments: Sequence[Garment]) -> np.ndarray:
    if not garments:
        return np.zeros((0, len(VOCAB)))
    return np.stack([feature_vector(g) for g in garments])


def archetype_affinity(features: np.ndarray) -> np.ndarray:
    """Cosine of each row of `features` (N, F) with each archetype: (N, archetypes)."""
    norms = np.linalg.norm(features, axis=-1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)) @ ARCHETYPE_MATRIX.T


def style_target(preferred_styles: frozenset[str]) -> np.ndarray | None:
    """A unit vector for the mix of styles a profile asks for, or None when it asks for none."""
    known = [ARCHETYPE_NAMES.index(s) for s in sorted(preferred_styles) if s in ARCHETYPES]
    if not known:
        return None
    v = ARCHETYPE_MATRIX[known].sum(axis=0)
    return v / np.linalg.norm(v)
