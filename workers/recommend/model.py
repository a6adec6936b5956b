"""Typed views of the recommender's inputs: garments and the user's style profile.

Garments arrive as dicts (JSON, asyncpg records) or objects with the same attribute names;
`as_garment` and `as_profile` turn either into frozen dataclasses with defaults filled in (from
the subcategory's typical attributes in the taxonomy), so the numerical modules never have to
guess at a missing field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from drape.colors import color_family
from workers.recommend.taxonomy import COLOR_FAMILIES, SEASONS, SUBCATEGORY_DEFAULTS, slot_for

# A garment without colours is treated as a mid grey: a neutral, so it never blocks an outfit.
UNKNOWN_COLOR_HEX: Final = "#8c8c8c"


@dataclass(frozen=True, slots=True)
class Color:
    hex: str
    family: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Garment:
    id: str
    category: str
    subcategory: str
    slot: str
    colors: tuple[Color, ...]  # most prominent first
    pattern: str = "solid"
    material: str = "other"
    formality: int = 3
    warmth: int = 3
    # None or empty from the client: the subcategory's typical seasons (all for an unknown one).
    seasons: frozenset[str] = frozenset(SEASONS)
    tags: tuple[str, ...] = ()
    price: float | None = None
    wear_count: int = 0
    last_worn_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StyleProfile:
    preferred_styles: frozenset[str] = frozenset()
    preferred_colors: tuple[str, ...] = ()  # hex codes or family names
    avoided_colors: tuple[str, ...] = ()
    fit: str | None = None
    budget_min: float | None = None
    budget_max: float | None = None
    occasions: tuple[str, ...] = ()
    body_shape: str | None = None


EMPTY_PROFILE: Final = StyleProfile()


def _get(obj: object, name: str, default: Any = None) -> Any:
    if type(obj) is dict:  # the common case, and isinstance against an ABC is slow
        value = obj.get(name, default)
    elif isinstance(obj, Mapping) or (hasattr(obj, "keys") and hasattr(obj, "get")):
        value = obj.get(name, default)  # type: ignore[attr-defined]
    else:
        value = getattr(obj, name, default)
    return default if value is None else value


def _clip_level(value: Any, default: int) -> int:
    try:
        return min(5, max(1, int(value)))
    except (TypeError, ValueError):
        return default


def as_color(obj: object) -> Color:
    if isinstance(obj, Color):
        return obj
    if isinstance(obj, str):
        hex_color, family = obj, None
    else:
        hex_color, family = _get(obj, "hex"), _get(obj, "family")
    hex_color = str(hex_color).lower()
    if not hex_color.startswith("#"):
        hex_color = "#" + hex_color
    if family not in COLOR_FAMILIES:
        family = color_family(hex_color)
    return Color(hex_color, family)


def as_garment(obj: object) -> Garment:
    """A Garment from a dict, record or object with the schema's field names."""
    if isinstance(obj, Garment):
        return obj
    category = str(_get(obj, "category", ""))
    subcategory = str(_get(obj, "subcategory", ""))
    formality, warmth, seasons, material = SUBCATEGORY_DEFAULTS.get(
        subcategory, (3, 3, frozenset(SEASONS), "other")
    )
    colors = tuple(as_color(c) for c in _get(obj, "colors", ()))
    given_seasons = frozenset(str(s) for s in _get(obj, "seasons", ())) & frozenset(SEASONS)
    price = _get(obj, "price")
    return Garment(
        id=str(_get(obj, "id")),
        category=category,
        subcategory=subcategory,
        slot=slot_for(category, subcategory),
        colors=colors or (Color(UNKNOWN_COLOR_HEX, "gray"),),
        pattern=str(_get(obj, "pattern", "solid")),
        material=str(_get(obj, "material", material)),
        formality=_clip_level(_get(obj, "formality"), formality),
        warmth=_clip_level(_get(obj, "warmth"), warmth),
        seasons=given_seasons or seasons,
        tags=tuple(str(t) for t in _get(obj, "tags", ())),
        price=float(price) if price is not None else None,
        wear_count=int(_get(obj, "wear_count", 0)),
        last_worn_at=_get(obj, "last_worn_at"),
        created_at=_get(obj, "created_at"),
    )


def as_garments(objs: Iterable[object]) -> list[Garment]:
    garments = [as_garment(o) for o in objs]
    ids = [g.id for g in garments]
    if len(set(ids)) != len(ids):
        raise ValueError("garment ids must be unique")
    return garments


def _budget(obj: object) -> tuple[float | None, float | None]:
    budget = _get(obj, "budget")
    lo, hi = _get(obj, "budget_min"), _get(obj, "budget_max")
    if isinstance(budget, Mapping):
        lo, hi = budget.get("min", lo), budget.get("max", hi)
    elif isinstance(budget, list | tuple) and len(budget) == 2:
        lo, hi = budget
    return (float(lo) if lo is not None else None, float(hi) if hi is not None else None)


def as_profile(obj: object | None) -> StyleProfile:
    """A StyleProfile from a dict, record or object; None gives the empty (cold start) profile."""
    if obj is None:
        return EMPTY_PROFILE
    if isinstance(obj, StyleProfile):
        return obj
    lo, hi = _budget(obj)
    return StyleProfile(
        preferred_styles=frozenset(str(s) for s in _get(obj, "preferred_styles", ())),
        preferred_colors=tuple(str(c).lower() for c in _get(obj, "preferred_colors", ())),
        avoided_colors=tuple(str(c).lower() for c in _get(obj, "avoided_colors", ())),
        fit=_get(obj, "fit"),
        budget_min=lo,
        budget_max=hi,
        occasions=tuple(str(o) for o in _get(obj, "occasions", ())),
        body_shape=_get(obj, "body_shape"),
    )
