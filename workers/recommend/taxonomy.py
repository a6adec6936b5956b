"""What the recommender knows about kinds of clothes, on top of the shared vocabulary.

The categories, slots, patterns, materials, colour families and occasions (with their formality
ranges) are the API's (drape/taxonomy.py and drape/vocab.py, re-exported here). Added here as
plain data: typical attributes of each subcategory (used to build virtual garments for wardrobe
gap suggestions), how busy patterns read and which materials suit which weather.
"""

from __future__ import annotations

from typing import Final

# The categories, slots, patterns, materials and colour families the API validates against are
# defined once, in drape/ (importable without numpy); they are re-exported here.
from drape.taxonomy import CATEGORIES as CATEGORIES
from drape.taxonomy import FAMILY_ANCHORS as FAMILY_ANCHORS
from drape.taxonomy import MATERIALS as MATERIALS
from drape.taxonomy import PATTERNS as PATTERNS
from drape.taxonomy import SLOTS as SLOTS
from drape.taxonomy import SUBCATEGORY_CATEGORY as SUBCATEGORY_CATEGORY
from drape.vocab import COLOR_FAMILIES as COLOR_FAMILIES
from drape.vocab import OCCASION_FORMALITY
from drape.vocab import SEASONS as SEASONS

# Occasion -> (lowest, highest) formality that reads right for it: the product's one list.
OCCASIONS: Final = OCCASION_FORMALITY

SLOT_INDEX: Final = {slot: i for i, slot in enumerate(SLOTS)}
# Slots every outfit needs in one of its two shapes; the rest are optional layers and extras.
CORE_SLOTS: Final = frozenset({"top", "bottom", "dress", "shoes"})

# When a subcategory is unknown (free text from an old client), the category decides the slot.
CATEGORY_DEFAULT_SLOT: Final = {
    "tops": "top",
    "bottoms": "bottom",
    "dresses": "dress",
    "outerwear": "outer",
    "shoes": "shoes",
    "bags": "bag",
    "accessories": "accessory",
    "activewear": "top",
    "swimwear": "dress",
}
# Swimwear only makes sense at the beach; other occasions never get it.
RESTRICTED_CATEGORIES: Final = {"swimwear": frozenset({"beach"})}

# How loud a pattern reads, 0-3. Two loud patterns compete; one against solids is a statement.
PATTERN_BUSYNESS: Final = {
    "solid": 0,
    "striped": 1,
    "checked": 1,
    "other": 1,
    "plaid": 2,
    "polka_dot": 2,
    "floral": 2,
    "geometric": 2,
    "graphic": 2,
    "animal": 3,
    "camo": 3,
    "paisley": 3,
}
WARM_MATERIALS: Final = frozenset({"wool", "cashmere", "fleece", "down", "knit"})
LIGHT_MATERIALS: Final = frozenset({"linen", "cotton", "silk"})
# Water marks or ruins these.
RAIN_SENSITIVE_MATERIALS: Final = frozenset({"suede", "silk"})
RAIN_READY_MATERIALS: Final = frozenset({"nylon", "synthetic", "polyester"})
OPEN_SHOES: Final = frozenset({"sandals"})
RAIN_READY_SUBCATEGORIES: Final = frozenset({"rain_jacket", "trench_coat", "parka", "boots"})

FORMALITY_LABELS: Final = {
    1: "very casual",
    2: "casual",
    3: "smart-casual",
    4: "smart",
    5: "formal",
}


# Families that pair with anything. Navy and brown are dark enough to act as neutrals in dress.
NEUTRAL_FAMILIES: Final = frozenset({"black", "white", "gray", "beige", "navy", "brown"})


# Typical attributes of a subcategory: (formality, warmth, seasons, material). Used to build the
# virtual garments that wardrobe gap suggestions evaluate, never to override a user's own data.
_ALL: Final = frozenset(SEASONS)
_WARM: Final = frozenset({"spring", "summer"})
_MILD: Final = frozenset({"spring", "autumn"})
_COLD: Final = frozenset({"autumn", "winter"})
_NOT_SUMMER: Final = frozenset({"spring", "autumn", "winter"})
_NOT_WINTER: Final = frozenset({"spring", "summer", "autumn"})
SUBCATEGORY_DEFAULTS: Final[dict[str, tuple[int, int, frozenset[str], str]]] = {
    "t_shirt": (2, 2, _NOT_WINTER, "cotton"),
    "tank_top": (1, 1, frozenset({"summer"}), "cotton"),
    "crop_top": (2, 1, _WARM, "cotton"),
    "shirt": (4, 2, _ALL, "cotton"),
    "blouse": (3, 2, _NOT_WINTER, "silk"),
    "polo": (3, 2, _NOT_WINTER, "cotton"),
    "sweater": (3, 4, _COLD, "wool"),
    "cardigan": (3, 3, _NOT_SUMMER, "knit"),
    "turtleneck": (3, 4, _COLD, "wool"),
    "hoodie": (1, 3, _NOT_SUMMER, "cotton"),
    "sweatshirt": (1, 3, _NOT_SUMMER, "cotton"),
    "jeans": (2, 3, _ALL, "denim"),
    "trousers": (4, 3, _ALL, "wool"),
    "chinos": (3, 2, _NOT_WINTER, "cotton"),
    "shorts": (1, 1, frozenset({"summer"}), "cotton"),
    "skirt": (3, 2, _NOT_WINTER, "cotton"),
    "joggers": (1, 3, _NOT_SUMMER, "cotton"),
    "cargo_pants": (1, 3, _NOT_WINTER, "cotton"),
    "casual_dress": (2, 1, _WARM, "cotton"),
    "shirt_dress": (3, 2, _NOT_WINTER, "cotton"),
    "mini_dress": (3, 1, _WARM, "polyester"),
    "midi_dress": (3, 2, _NOT_WINTER, "silk"),
    "maxi_dress": (2, 1, _WARM, "linen"),
    "cocktail_dress": (4, 2, _ALL, "silk"),
    "evening_gown": (5, 2, _ALL, "silk"),
    "jumpsuit": (3, 2, _NOT_WINTER, "polyester"),
    "coat": (4, 5, frozenset({"winter"}), "wool"),
    "trench_coat": (4, 3, _MILD, "cotton"),
    "parka": (2, 5, frozenset({"winter"}), "nylon"),
    "puffer": (1, 5, frozenset({"winter"}), "down"),
    "blazer": (4, 2, _NOT_SUMMER, "wool"),
    "leather_jacket": (3, 3, _MILD, "leather"),
    "denim_jacket": (2, 2, _MILD, "denim"),
    "bomber_jacket": (2, 3, _MILD, "nylon"),
    "rain_jacket": (1, 2, _NOT_WINTER, "nylon"),
    "sneakers": (2, 2, _ALL, "leather"),
    "running_shoes": (1, 2, _ALL, "synthetic"),
    "boots": (3, 4, _COLD, "leather"),
    "ankle_boots": (3, 3, _NOT_SUMMER, "leather"),
    "loafers": (4, 2, _NOT_WINTER, "leather"),
    "oxfords": (5, 2, _ALL, "leather"),
    "heels": (4, 1, _ALL, "leather"),
    "flats": (3, 1, _NOT_WINTER, "leather"),
    "sandals": (2, 1, frozenset({"summer"}), "leather"),
    "tote": (3, 1, _ALL, "leather"),
    "crossbody": (2, 1, _ALL, "leather"),
    "shoulder_bag": (3, 1, _ALL, "leather"),
    "backpack": (1, 1, _ALL, "nylon"),
    "clutch": (5, 1, _ALL, "leather"),
    "briefcase": (4, 1, _ALL, "leather"),
    "scarf": (3, 3, _COLD, "wool"),
    "hat": (3, 2, _ALL, "wool"),
    "cap": (1, 1, _NOT_WINTER, "cotton"),
    "belt": (3, 1, _ALL, "leather"),
    "tie": (5, 1, _ALL, "silk"),
    "watch": (3, 1, _ALL, "other"),
    "jewelry": (3, 1, _ALL, "other"),
    "sunglasses": (2, 1, _WARM, "other"),
    "gloves": (3, 4, frozenset({"winter"}), "wool"),
    "athletic_top": (1, 1, _ALL, "synthetic"),
    "sports_bra": (1, 1, _ALL, "synthetic"),
    "leggings": (1, 2, _ALL, "synthetic"),
    "track_pants": (1, 2, _NOT_SUMMER, "polyester"),
    "athletic_shorts": (1, 1, _WARM, "synthetic"),
    "track_jacket": (1, 2, _NOT_SUMMER, "polyester"),
    "swimsuit": (1, 1, frozenset({"summer"}), "nylon"),
    "bikini": (1, 1, frozenset({"summer"}), "nylon"),
    "swim_trunks": (1, 1, frozenset({"summer"}), "nylon"),
    "cover_up": (1, 1, frozenset({"summer"}), "cotton"),
}


def slot_for(category: str, subcategory: str | None = None) -> str:
    """The outfit slot a garment fills; the subcategory wins over the category."""
    if subcategory:
        cat = SUBCATEGORY_CATEGORY.get(subcategory)
        if cat is not None:
            return CATEGORIES[cat][subcategory]
    try:
        return CATEGORY_DEFAULT_SLOT[category]
    except KeyError:
        raise ValueError(f"unknown category {category!r}") from None


def _check() -> None:
    # A typo in the tables above would otherwise surface as a KeyError deep in a worker.
    slots = set(SLOTS)
    for subs in CATEGORIES.values():
        assert set(subs.values()) <= slots
    assert set(SUBCATEGORY_DEFAULTS) == set(SUBCATEGORY_CATEGORY)
    assert set(PATTERN_BUSYNESS) == set(PATTERNS)
    assert set(FAMILY_ANCHORS) | {"multi"} == set(COLOR_FAMILIES)
    assert len(SUBCATEGORY_CATEGORY) == sum(len(s) for s in CATEGORIES.values())


_check()
