"""The wardrobe vocabulary the API validates against: categories and their subcategories, the
outfit slots each can fill, patterns, materials and the anchors that name a colour's family.

Plain data, importable by every process without numpy. The names match the recommender's own
tables (workers/recommend/taxonomy.py) so a garment stored here reads the same there; the
database CHECK constraints list the same categories, patterns, seasons and slots.
"""

from __future__ import annotations

from typing import Final

from drape import vocab

# category -> subcategory -> the outfit slot it usually fills. Subcategory names are unique.
CATEGORIES: Final[dict[str, dict[str, str]]] = {
    "tops": {
        "t_shirt": "top",
        "tank_top": "top",
        "crop_top": "top",
        "shirt": "top",
        "blouse": "top",
        "polo": "top",
        "sweater": "top",
        "cardigan": "top",
        "turtleneck": "top",
        "hoodie": "top",
        "sweatshirt": "top",
    },
    "bottoms": {
        "jeans": "bottom",
        "trousers": "bottom",
        "chinos": "bottom",
        "shorts": "bottom",
        "skirt": "bottom",
        "joggers": "bottom",
        "cargo_pants": "bottom",
    },
    "dresses": {
        "casual_dress": "dress",
        "shirt_dress": "dress",
        "mini_dress": "dress",
        "midi_dress": "dress",
        "maxi_dress": "dress",
        "cocktail_dress": "dress",
        "evening_gown": "dress",
        "jumpsuit": "dress",
    },
    "outerwear": {
        "coat": "outer",
        "trench_coat": "outer",
        "parka": "outer",
        "puffer": "outer",
        "blazer": "outer",
        "leather_jacket": "outer",
        "denim_jacket": "outer",
        "bomber_jacket": "outer",
        "rain_jacket": "outer",
    },
    "shoes": {
        "sneakers": "shoes",
        "running_shoes": "shoes",
        "boots": "shoes",
        "ankle_boots": "shoes",
        "loafers": "shoes",
        "oxfords": "shoes",
        "heels": "shoes",
        "flats": "shoes",
        "sandals": "shoes",
    },
    "bags": {
        "tote": "bag",
        "crossbody": "bag",
        "shoulder_bag": "bag",
        "backpack": "bag",
        "clutch": "bag",
        "briefcase": "bag",
    },
    "accessories": {
        "scarf": "accessory",
        "hat": "accessory",
        "cap": "accessory",
        "belt": "accessory",
        "tie": "accessory",
        "watch": "accessory",
        "jewelry": "accessory",
        "sunglasses": "accessory",
        "gloves": "accessory",
    },
    "activewear": {
        "athletic_top": "top",
        "sports_bra": "top",
        "leggings": "bottom",
        "track_pants": "bottom",
        "athletic_shorts": "bottom",
        "track_jacket": "outer",
    },
    "swimwear": {
        "swimsuit": "dress",
        "bikini": "dress",
        "swim_trunks": "bottom",
        "cover_up": "outer",
    },
}
CATEGORY_NAMES = tuple(CATEGORIES)  # the order of the database CHECK
SUBCATEGORY_CATEGORY: Final = {sub: cat for cat, subs in CATEGORIES.items() for sub in subs}

# Outfit slots, head to toe.
SLOTS: Final = ("outer", "top", "dress", "bottom", "shoes", "bag", "accessory")
# The slots a garment of each category may take in an outfit: those of its subcategories, and
# for tops also "outer" (an open shirt or a cardigan worn as the outer layer).
CATEGORY_SLOTS: Final[dict[str, frozenset[str]]] = {
    cat: frozenset(subs.values()) | ({"outer"} if cat == "tops" else set())
    for cat, subs in CATEGORIES.items()
}
# Most garments one outfit may put in a slot: layers of tops and outerwear are normal, two pairs
# of shoes are not.
SLOT_LIMITS: Final[dict[str, int]] = {
    "outer": 2,
    "top": 3,
    "dress": 1,
    "bottom": 1,
    "shoes": 1,
    "bag": 1,
    "accessory": 8,
}
# Slots that cannot be worn together: a dress (or jumpsuit) already covers the legs.
EXCLUSIVE_SLOTS: Final = (("dress", "bottom"),)

PATTERNS: Final = (
    "solid", "striped", "checked", "plaid", "floral", "polka_dot", "animal",
    "geometric", "graphic", "camo", "paisley", "other",
)  # fmt: skip
MATERIALS: Final = (
    "cotton", "linen", "wool", "cashmere", "silk", "denim", "leather", "suede",
    "polyester", "nylon", "knit", "fleece", "down", "synthetic", "other",
)  # fmt: skip

# Reference colours for naming a hex: the nearest anchor (CIEDE2000) gives the family. Several
# per family because families are regions, not points. "multi" has no anchor: a client sets it
# for a many-coloured print.
FAMILY_ANCHORS: Final[dict[str, tuple[str, ...]]] = {
    "black": ("#111111", "#000000", "#2a2a2a"),
    "white": ("#f7f7f5", "#ffffff", "#f2efe6"),
    "gray": ("#8c8c8c", "#5a5a5a", "#b4b4b4", "#d4d4d4", "#3f4145"),
    "beige": ("#d9c7a7", "#f5f0dc", "#c8b08c", "#c19a6b", "#e6d5b8"),
    "brown": ("#6b4423", "#8b5a2b", "#4a3022", "#a0522d", "#5c4033"),
    "navy": ("#1f2a44", "#000080", "#14213d", "#23395d", "#2c3e63"),
    "blue": ("#3d6fb6", "#0000ff", "#4169e1", "#87ceeb", "#1e90ff", "#add8e6", "#5b7fa6"),
    "green": ("#2e8b57", "#008000", "#228b22", "#90ee90", "#50c878", "#0b5d1e"),
    "olive": ("#6b6b2a", "#808000", "#556b2f", "#708238", "#8a8a5c"),
    "yellow": ("#f2c94c", "#ffff00", "#ffd700", "#ffdb58", "#fff176"),
    "orange": ("#e8782a", "#ffa500", "#ff8c00", "#cc5500", "#e2725b"),
    "red": ("#c62828", "#ff0000", "#dc143c", "#b22222", "#e34234"),
    "pink": ("#f4a6b7", "#ffc0cb", "#ff69b4", "#e75480", "#ffb6c1", "#ff1493"),
    "purple": ("#7b3f9e", "#800080", "#9370db", "#6a0dad", "#b57edc", "#4b0082"),
    "burgundy": ("#7a1f2b", "#800020", "#722f37", "#5e1224", "#900020"),
    "teal": ("#1b8a8a", "#008080", "#20b2aa", "#006d6f", "#40e0d0"),
}


def subcategory_error(category: str, subcategory: str | None) -> str | None:
    """Why a (category, subcategory) pair is refused, or None when it is fine."""
    if subcategory is None or subcategory in CATEGORIES.get(category, {}):
        return None
    home = SUBCATEGORY_CATEGORY.get(subcategory)
    if home is not None:
        return f"{subcategory!r} belongs to {home!r}, not {category!r}"
    return f"must be one of {', '.join(CATEGORIES.get(category, {}))} for {category!r}"


def _check() -> None:
    # A typo in the tables above would otherwise surface as a KeyError in a request.
    assert set(SLOT_LIMITS) == set(SLOTS)
    assert all(slots <= set(SLOTS) for slots in CATEGORY_SLOTS.values())
    assert set(FAMILY_ANCHORS) | {"multi"} == set(vocab.COLOR_FAMILIES)
    assert len(SUBCATEGORY_CATEGORY) == sum(len(s) for s in CATEGORIES.values())


_check()
