"""Outfit compatibility as a sum of named terms, and a short explanation built from the largest.

An outfit's score is

    sum over pair terms t:  W[t] * (slot-weighted mean over item pairs of t(i, j))
  + sum over item terms u:  W[u] * (mean over items of u(i))
  + W["accents"] * accents(number of accent colour families in the whole outfit)

Pair terms (colour harmony, formality gap, season agreement, pattern clash) depend only on the
two garments, so a wardrobe's pair matrices are computed once and shared by the outfit search and
the wardrobe analysis. Item terms (weather, occasion, personal taste) depend on the request.
Means rather than sums keep outfits with and without optional pieces (coat, bag) comparable: an
extra piece is worth adding only when it raises the average.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from workers.recommend.color import ciede2000, hex_to_lab, hue_difference
from workers.recommend.features import GarmentTable, build_table, families_in, seasons_in
from workers.recommend.model import EMPTY_PROFILE, Garment, StyleProfile, as_garment
from workers.recommend.style import ARCHETYPES, style_target
from workers.recommend.taxonomy import (
    COLOR_FAMILIES,
    FORMALITY_LABELS,
    LIGHT_MATERIALS,
    OCCASIONS,
    RAIN_READY_MATERIALS,
    RAIN_READY_SUBCATEGORIES,
    RAIN_SENSITIVE_MATERIALS,
    SEASONS,
    SLOT_INDEX,
    SLOTS,
    WARM_MATERIALS,
)
from workers.recommend.weather import Weather

PAIR_TERMS: Final = ("color", "formality", "season", "pattern")
ITEM_TERMS: Final = ("weather", "occasion", "taste_colors", "taste_style", "favorites")
OUTFIT_TERMS: Final = ("accents",)
TERMS: Final = PAIR_TERMS + ITEM_TERMS + OUTFIT_TERMS

# Term weights. Each raw term lives roughly in [-1, 1]; the weights say how much a stylist would
# care. Colour and formality coherence are what make an outfit read as one; occasion is close
# behind because a wrong-formality outfit fails its purpose; season and weather are mostly
# enforced as hard rules already, so their soft terms only rank within what is allowed; personal
# taste nudges without overriding coherence.
WEIGHTS: Final = {
    "color": 1.0,
    "formality": 1.0,
    "season": 0.3,
    "pattern": 0.6,
    "weather": 0.6,
    "occasion": 0.8,
    "taste_colors": 0.5,
    "taste_style": 0.5,
    "favorites": 0.4,
    "accents": 1.0,
}

# How much a pair of slots matters for the pair terms: what sits next to each other and covers
# the most area (top against bottom) counts most; a bag or a watch barely interacts with shoes.
_PAIR_WEIGHTS: Final = {
    ("top", "bottom"): 1.0,
    ("dress", "shoes"): 0.8,
    ("outer", "dress"): 0.8,
    ("outer", "top"): 0.7,
    ("bottom", "shoes"): 0.7,
    ("outer", "bottom"): 0.6,
    ("top", "shoes"): 0.5,
    ("outer", "shoes"): 0.5,
    ("bag", "outer"): 0.35,
    ("bag", "top"): 0.35,
    ("bag", "dress"): 0.35,
    ("bag", "bottom"): 0.3,
    ("bag", "shoes"): 0.35,
    ("accessory", "outer"): 0.25,
    ("accessory", "top"): 0.25,
    ("accessory", "dress"): 0.25,
    ("accessory", "bottom"): 0.2,
    ("accessory", "shoes"): 0.2,
    ("accessory", "bag"): 0.2,
}


def _slot_pair_matrix() -> np.ndarray:
    m = np.zeros((len(SLOTS), len(SLOTS)))  # zero: two pieces of one slot never pair
    for (a, b), w in _PAIR_WEIGHTS.items():
        m[SLOT_INDEX[a], SLOT_INDEX[b]] = m[SLOT_INDEX[b], SLOT_INDEX[a]] = w
    return m


SLOT_PAIR_WEIGHT: Final = _slot_pair_matrix()

# Colour harmony, in CIE LCh. Two neutrals are calm and safe; a neutral with an accent lets the
# accent lead; two accents please when their hues are close (analogous/tonal), opposite
# (complementary) or a third of the wheel apart (triadic), and clash in between, less so when
# muted.
NEUTRAL_PAIR: Final = 0.5
NEUTRAL_CONTRAST_BONUS: Final = 0.1  # light against dark gives an outfit definition
NEUTRAL_CONTRAST_DL: Final = 25.0
NEUTRAL_WITH_ACCENT: Final = 0.5  # the classic formula: one colour, anchored by neutrals
HARMONIES: Final = (  # (name, centre hue difference, width in degrees, peak value)
    ("analogous", 0.0, 35.0, 0.55),
    ("complementary", 180.0, 25.0, 0.45),
    ("triadic", 120.0, 12.0, 0.25),
)
CLASH: Final = 0.5
CLASH_FULL_CHROMA: Final = 40.0  # accents this saturated clash fully; muted ones less
TONAL_MAX_DH: Final = 12.0

# Formality: one step apart is fine (jeans with a shirt), two jars, three is a costume.
FORMALITY_MATCH: Final = 0.2
FORMALITY_GAP_COST: Final = 0.2  # times gap squared

# Seasons: the share of seasons two garments have in common; none in common is a real mismatch.
# Kept small when they agree, as season is mostly enforced as a hard rule per request already.
SEASON_MATCH: Final = 0.5
SEASON_DISJOINT: Final = -1.0

# Pattern loudness (taxonomy.PATTERN_BUSYNESS) above this total for a pair starts to compete.
PATTERN_BUDGET: Final = 2
PATTERN_CLASH: Final = 0.3
PATTERN_STATEMENT: Final = 0.1  # one patterned piece against a solid

# Accent colour families in a whole outfit: one is a focus, two is fine, more is noise.
ACCENT_VALUES: Final = (0.0, 0.15, 0.0)
EXTRA_ACCENT_COST: Final = 0.4

# Weather, per garment worn on the body. Warmth: a bonus at the ideal warmth for the felt
# temperature, shrinking with the squared distance from it. Fabric: rain ruins suede and silk,
# and rewards rain-ready shells; linen is wrong in the cold, wool and down in the heat.
WARMTH_FIT: Final = 0.3
WARMTH_MISS_COST: Final = 0.15  # times (warmth - ideal) squared, floored at -1
RAIN_DAMAGE: Final = 0.8
RAIN_READY: Final = 0.3
WRONG_FABRIC: Final = 0.5
RIGHT_FABRIC: Final = 0.2
COLD_C: Final = 8.0
HOT_C: Final = 24.0

# Occasion: inside the formality range is right; each step outside costs.
OCCASION_FIT: Final = 0.3
OCCASION_STEP_COST: Final = 0.6

# Personal taste.
PREFERRED_COLOR: Final = 0.5
AVOIDED_COLOR: Final = -1.0
COLOR_MATCH_DE: Final = 12.0  # CIEDE2000 below which a profile hex counts as "that colour"
# A garment's cosine with a style above this counts as a plus. On sample wardrobes the median
# garment scores 0.0-0.3 depending on the style (0.08 across styles): 0.1 splits roughly there.
STYLE_BASELINE: Final = 0.1
FIT_TAG_BONUS: Final = 0.2
LIKED: Final = 0.6
WORN: Final = 0.4  # for a garment worn WORN_SATURATION times or more
WORN_SATURATION: Final = 30

# Small enough to be ignored in an explanation.
EXPLAIN_MIN: Final = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreContext:
    profile: StyleProfile = EMPTY_PROFILE
    occasion: str | None = None
    weather: Weather | None = None
    liked_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class OutfitScore:
    total: float
    terms: dict[str, float]
    notes: dict[str, str] = field(default_factory=dict)


# --- pair terms -----------------------------------------------------------------------------


def _harmony(dh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best harmony value, how well dh fits any harmony in 0..1) for hue differences."""
    fits = [np.exp(-(((dh - centre) / width) ** 2)) for _, centre, width, _ in HARMONIES]
    values = [peak * f for f, (_, _, _, peak) in zip(fits, HARMONIES, strict=True)]
    return np.maximum.reduce(values), np.maximum.reduce(fits)


def color_term(t: GarmentTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.broadcast_arrays(t.neutral[a], t.neutral[b])
    value = np.where(na | nb, NEUTRAL_WITH_ACCENT, 0.0)
    both = na & nb
    if both.any():
        la, lb = np.broadcast_arrays(t.lch[a][..., 0], t.lch[b][..., 0])
        contrast = np.abs(la[both] - lb[both]) >= NEUTRAL_CONTRAST_DL
        value[both] = NEUTRAL_PAIR + NEUTRAL_CONTRAST_BONUS * contrast
    # Hue relations only matter, and are only computed, where both colours are accents.
    accents = ~(na | nb)
    if accents.any():
        ha, hb = np.broadcast_arrays(t.lch[a][..., 2], t.lch[b][..., 2])
        ca, cb = np.broadcast_arrays(t.lch[a][..., 1], t.lch[b][..., 1])
        harmony, fit = _harmony(hue_difference(ha[accents], hb[accents]))
        muted = np.clip(np.minimum(ca[accents], cb[accents]) / CLASH_FULL_CHROMA, 0.3, 1.0)
        value[accents] = harmony - CLASH * (1.0 - fit) * muted
    return value


def _lut(f: Callable[[np.ndarray, np.ndarray], np.ndarray], size: int) -> np.ndarray:
    """f evaluated on every pair of small integer codes, so a pair term is one table lookup."""
    a, b = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return f(a, b).astype(np.float64)


def _formality(fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
    return FORMALITY_MATCH - FORMALITY_GAP_COST * (fa - fb) ** 2


def _season(ma: np.ndarray, mb: np.ndarray) -> np.ndarray:
    both = np.bitwise_count(ma & mb)
    either = np.bitwise_count(ma | mb)
    return np.where(both > 0, SEASON_MATCH * both / np.maximum(either, 1), SEASON_DISJOINT)


def _pattern(ba: np.ndarray, bb: np.ndarray) -> np.ndarray:
    clash = -PATTERN_CLASH * np.maximum(0, ba + bb - PATTERN_BUDGET)
    return clash + PATTERN_STATEMENT * ((ba > 0) != (bb > 0))


_FORMALITY_LUT: Final = _lut(_formality, 6)  # formality 1-5
_SEASON_LUT: Final = _lut(_season, 1 << len(SEASONS))  # season bit masks
_PATTERN_LUT: Final = _lut(_pattern, 4)  # pattern busyness 0-3


def formality_term(t: GarmentTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _FORMALITY_LUT[t.formality[a], t.formality[b]]


def season_term(t: GarmentTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _SEASON_LUT[t.season_mask[a], t.season_mask[b]]


def pattern_term(t: GarmentTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _PATTERN_LUT[t.busyness[a], t.busyness[b]]


_PAIR_FUNCS: Final = {
    "color": color_term,
    "formality": formality_term,
    "season": season_term,
    "pattern": pattern_term,
}


def pair_terms(t: GarmentTable, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """Raw pair terms for index arrays a and b (broadcast: a[:, None], b[None, :] -> matrices)."""
    return {name: f(t, a, b) for name, f in _PAIR_FUNCS.items()}


def pair_score(t: GarmentTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Weighted sum of the pair terms, before slot weighting: the pair's compatibility."""
    terms = pair_terms(t, a, b)
    total = WEIGHTS["color"] * terms.pop("color")
    for name, v in terms.items():
        total = total + WEIGHTS[name] * v
    return total


def slot_weight(t: GarmentTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return SLOT_PAIR_WEIGHT[t.slot[a], t.slot[b]]


# --- item terms -----------------------------------------------------------------------------


def _color_tokens(tokens: Sequence[str]) -> tuple[frozenset[str], np.ndarray]:
    """Profile colours as (family names, CIELAB rows of the hex codes)."""
    families = frozenset(c for c in tokens if c in COLOR_FAMILIES)
    labs = []
    for token in tokens:
        if token not in COLOR_FAMILIES:
            try:
                labs.append(hex_to_lab(token))
            except ValueError:
                continue  # a colour name we do not know says nothing we can match
    return families, np.array(labs).reshape(-1, 3)


def _color_matches(t: GarmentTable, tokens: Sequence[str], *, any_color: bool) -> np.ndarray:
    families, labs = _color_tokens(tokens)
    hit = np.array(
        [
            any(c.family in families for c in (g.colors if any_color else g.colors[:1]))
            for g in t.garments
        ],
        dtype=bool,
    ).reshape(len(t))
    if len(labs) and len(t):
        hit |= (ciede2000(t.lab[:, None, :], labs[None, :, :]) < COLOR_MATCH_DE).any(axis=1)
    return hit


def weather_term(t: GarmentTable, weather: Weather | None) -> np.ndarray:
    n = len(t)
    if weather is None:
        return np.zeros(n)
    temp = weather.feels_like_c
    slot = t.slot
    outer = slot == SLOT_INDEX["outer"]
    worn_on_body = ~np.isin(slot, [SLOT_INDEX["bag"], SLOT_INDEX["accessory"]])
    # Ideal warmth falls with temperature; a coat carries the warmth on cold days.
    ideal = np.where(outer, np.clip(5 - temp / 4, 1, 5), np.clip(4.5 - temp / 8, 1, 5))
    warmth = np.maximum(WARMTH_FIT - WARMTH_MISS_COST * (t.warmth - ideal) ** 2, -1.0)
    warmth *= worn_on_body
    material = np.array([g.material for g in t.garments], dtype=object).reshape(n)
    sub = np.array([g.subcategory for g in t.garments], dtype=object).reshape(n)
    fabric = np.zeros(n)
    if weather.wet:
        fabric -= RAIN_DAMAGE * np.isin(material, list(RAIN_SENSITIVE_MATERIALS))
        fabric += RAIN_READY * (outer & np.isin(material, list(RAIN_READY_MATERIALS)))
        fabric += RAIN_READY * np.isin(sub, list(RAIN_READY_SUBCATEGORIES))
    if temp < COLD_C:
        fabric -= WRONG_FABRIC * (material == "linen")
        fabric += RIGHT_FABRIC * (worn_on_body & np.isin(material, list(WARM_MATERIALS)))
    elif temp > HOT_C:
        heavy = np.isin(material, list(WARM_MATERIALS)) | (
            (material == "leather")
            & ~np.isin(slot, [SLOT_INDEX["shoes"], SLOT_INDEX["bag"], SLOT_INDEX["accessory"]])
        )
        fabric -= WRONG_FABRIC * heavy
        fabric += RIGHT_FABRIC * (worn_on_body & np.isin(material, list(LIGHT_MATERIALS)))
    return warmth + fabric


def occasion_term(t: GarmentTable, occasion: str | None) -> np.ndarray:
    if occasion is None:
        return np.zeros(len(t))
    lo, hi = OCCASIONS[occasion]
    outside = np.maximum(lo - t.formality, 0) + np.maximum(t.formality - hi, 0)
    return np.where(outside == 0, OCCASION_FIT, -OCCASION_STEP_COST * outside)


def taste_color_term(t: GarmentTable, profile: StyleProfile) -> np.ndarray:
    value = np.zeros(len(t))
    if profile.preferred_colors:
        value += PREFERRED_COLOR * _color_matches(t, profile.preferred_colors, any_color=False)
    if profile.avoided_colors:
        avoided = _color_matches(t, profile.avoided_colors, any_color=True)
        value = np.where(avoided, AVOIDED_COLOR, value)
    return value


def taste_style_term(t: GarmentTable, profile: StyleProfile) -> np.ndarray:
    value = np.zeros(len(t))
    target = style_target(profile.preferred_styles)
    if target is not None and len(t):
        value += t.style @ target - STYLE_BASELINE
    if profile.fit:
        value += FIT_TAG_BONUS * np.array([profile.fit in g.tags for g in t.garments], dtype=bool)
    return value


def favorites_term(t: GarmentTable, liked_ids: frozenset[str]) -> np.ndarray:
    liked = np.array([g.id in liked_ids for g in t.garments], dtype=bool).reshape(len(t))
    worn = np.array([g.wear_count for g in t.garments], dtype=np.float64).reshape(len(t))
    return LIKED * liked + WORN * np.minimum(1.0, np.log1p(worn) / np.log1p(WORN_SATURATION))


def item_terms(t: GarmentTable, ctx: ScoreContext) -> dict[str, np.ndarray]:
    if ctx.occasion is not None and ctx.occasion not in OCCASIONS:
        raise ValueError(f"unknown occasion {ctx.occasion!r}; known: {', '.join(OCCASIONS)}")
    return {
        "weather": weather_term(t, ctx.weather),
        "occasion": occasion_term(t, ctx.occasion),
        "taste_colors": taste_color_term(t, ctx.profile),
        "taste_style": taste_style_term(t, ctx.profile),
        "favorites": favorites_term(t, ctx.liked_ids),
    }


def item_score(terms: Mapping[str, np.ndarray]) -> np.ndarray:
    """Weighted sum per garment of item terms (as returned by `item_terms`)."""
    total = np.zeros(len(terms["weather"]))
    for name in ITEM_TERMS:
        total += WEIGHTS[name] * terms[name]
    return total


def accent_value(n_accents: np.ndarray | int) -> np.ndarray:
    n = np.asarray(n_accents, dtype=np.int64)
    small = np.asarray(ACCENT_VALUES)[np.minimum(n, len(ACCENT_VALUES) - 1)]
    free = len(ACCENT_VALUES) - 1
    return np.where(n <= free, small, -EXTRA_ACCENT_COST * (n - free))


# --- whole outfits --------------------------------------------------------------------------


def outfit_terms(
    t: GarmentTable, idx: Sequence[int], items: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Weighted terms of the outfit made of table rows `idx`, given precomputed item terms."""
    ix = np.asarray(idx, dtype=np.int64)
    a, b = np.triu_indices(len(ix), k=1)
    w = slot_weight(t, ix[a], ix[b])
    raw = pair_terms(t, ix[a], ix[b])
    terms: dict[str, float] = {}
    for name in PAIR_TERMS:
        terms[name] = WEIGHTS[name] * float((w * raw[name]).sum() / w.sum()) if w.sum() else 0.0
    for name in ITEM_TERMS:
        terms[name] = WEIGHTS[name] * float(items[name][ix].mean()) if len(ix) else 0.0
    mask = int(np.bitwise_or.reduce(t.accent_mask[ix])) if len(ix) else 0
    terms["accents"] = WEIGHTS["accents"] * float(accent_value(bin(mask).count("1")))
    return terms


def score_outfit(
    garments: Sequence[Garment | object], ctx: ScoreContext | None = None
) -> OutfitScore:
    """Score one outfit (any garments, one per slot expected) with its terms and their notes."""
    ctx = ctx or ScoreContext()
    items = [as_garment(g) for g in garments]
    t = build_table(items)
    terms = outfit_terms(t, range(len(items)), item_terms(t, ctx))
    return OutfitScore(sum(terms.values()), terms, notes(t, list(range(len(items))), terms, ctx))


def score_pair(
    a: Garment | object, b: Garment | object, ctx: ScoreContext | None = None
) -> OutfitScore:
    return score_outfit([a, b], ctx)


# --- explanations ---------------------------------------------------------------------------


def _label(g: Garment) -> str:
    return g.subcategory.replace("_", " ") or g.category


def _described(g: Garment) -> str:
    """'wool coat', or just 'leather jacket' when the name already says the material."""
    label = _label(g)
    if g.material in ("", "other") or g.material in label:
        return label
    return f"{g.material} {label}"


def _and_list(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _pair_names(fa: str, fb: str) -> str:
    return f"{fa} on {fa}" if fa == fb else f"{fa} and {fb}"


def _color_note(t: GarmentTable, idx: list[int], total: float) -> str:
    ix = np.asarray(idx)
    a, b = np.triu_indices(len(ix), k=1)
    if not len(a):
        return ""
    value = color_term(t, ix[a], ix[b])
    # Talk about the pair that pulls the colour term its way the most.
    sign = 1.0 if total >= 0 else -1.0
    k = int(np.argmax(slot_weight(t, ix[a], ix[b]) * value * sign))
    i, j = int(ix[a[k]]), int(ix[b[k]])
    gi, gj = t.garments[i], t.garments[j]
    fi, fj = gi.colors[0].family, gj.colors[0].family
    if t.neutral[i] and t.neutral[j]:
        return f"{_pair_names(fi, fj)} are a calm neutral pairing"
    if t.neutral[i] or t.neutral[j]:
        accent, base = (gj, gi) if t.neutral[i] else (gi, gj)
        color, against, label = accent.colors[0].family, base.colors[0].family, _label(accent)
        # "jeans", "loafers", "sunglasses" are plural; "dress" is not.
        verb = "stand" if label.endswith("s") and not label.endswith("ss") else "stands"
        return f"the {color} {label} {verb} out against {against}"
    if value[k] < 0:
        return f"{fi} and {fj} clash"
    dh = float(hue_difference(t.lch[i, 2], t.lch[j, 2]))
    if dh <= TONAL_MAX_DH:
        return f"tonal {fi} pieces" if fi == fj else f"{fi} and {fj} are a tonal pairing"
    fits = [np.exp(-(((dh - c) / w) ** 2)) * p for _, c, w, p in HARMONIES]
    relation = HARMONIES[int(np.argmax(fits))][0]
    return {
        "analogous": f"{fi} and {fj} sit side by side on the colour wheel",
        "complementary": f"{fi} and {fj} are complementary colours",
        "triadic": f"{fi} and {fj} make a triadic contrast",
    }[relation]


def _formality_note(t: GarmentTable, idx: list[int], value: float) -> str:
    f = sorted({int(t.formality[i]) for i in idx})
    lo, hi = f[0], f[-1]
    if lo == hi:
        return f"{'both' if len(idx) == 2 else 'all'} {FORMALITY_LABELS[lo]} (formality {lo})"
    if value >= 0:
        return f"{FORMALITY_LABELS[lo]} to {FORMALITY_LABELS[hi]} (formality {lo}-{hi})"
    return f"mixes {FORMALITY_LABELS[lo]} and {FORMALITY_LABELS[hi]} pieces (formality {lo}-{hi})"


def _season_note(t: GarmentTable, idx: list[int]) -> str:
    common = int(np.bitwise_and.reduce(t.season_mask[idx]))
    seasons = seasons_in(common)
    if len(seasons) == len(SEASONS):
        return "wearable year-round"
    if seasons:
        return f"all pieces suit {_and_list(seasons)}"
    return "mixes pieces from different seasons"


def _pattern_note(t: GarmentTable, idx: list[int], value: float) -> str:
    busy = [t.garments[i] for i in idx if t.busyness[i] > 0]
    if not busy:
        return "clean solids throughout"
    if len(busy) == 1:
        g = busy[0]
        return f"one {g.pattern.replace('_', ' ')} {_label(g)} against solids"
    names = _and_list(sorted({g.pattern.replace("_", " ") for g in busy}))
    return f"{names} patterns compete" if value < 0 else f"{names} patterns mix"


def _weather_note(t: GarmentTable, idx: list[int], value: float, weather: Weather) -> str:
    temp = round(weather.feels_like_c)
    outer = [t.garments[i] for i in idx if t.slot[i] == SLOT_INDEX["outer"]]
    if value < 0:
        text = f"a compromise for {temp}°C"
    elif outer:
        text = f"suits {temp}°C with the {_described(outer[0])}"
    elif temp >= 22:
        text = f"light enough for {temp}°C"
    else:
        text = f"right for {temp}°C"
    rain_ready = any(
        g.subcategory in RAIN_READY_SUBCATEGORIES
        or (g.slot == "outer" and g.material in RAIN_READY_MATERIALS)
        for g in (t.garments[i] for i in idx)
    )
    if weather.wet and rain_ready:
        text += " and ready for rain"
    return text


def _occasion_note(t: GarmentTable, idx: list[int], value: float, occasion: str) -> str:
    lo, hi = OCCASIONS[occasion]
    if value >= 0:
        return f"right for {occasion} (formality {lo}-{hi})"
    mean = float(t.formality[idx].mean())
    return f"a little too {'casual' if mean < lo else 'dressy'} for {occasion}"


def notes(
    t: GarmentTable, idx: list[int], terms: Mapping[str, float], ctx: ScoreContext
) -> dict[str, str]:
    """A short phrase per term saying what drives it in this outfit."""
    if not idx:
        return {}
    out = {
        "color": _color_note(t, idx, terms["color"]),
        "formality": _formality_note(t, idx, terms["formality"]),
        "season": _season_note(t, idx),
        "pattern": _pattern_note(t, idx, terms["pattern"]),
    }
    if ctx.weather is not None:
        out["weather"] = _weather_note(t, idx, terms["weather"], ctx.weather)
    if ctx.occasion is not None:
        out["occasion"] = _occasion_note(t, idx, terms["occasion"], ctx.occasion)
    profile = ctx.profile
    if profile.preferred_colors or profile.avoided_colors:
        raw = taste_color_term(t, profile)[idx]
        families = sorted(
            {t.garments[i].colors[0].family for i, v in zip(idx, raw, strict=True) if v != 0}
        )
        if terms["taste_colors"] < 0:
            out["taste_colors"] = f"uses a colour you avoid ({', '.join(families)})"
        elif families:
            out["taste_colors"] = f"in your colours ({', '.join(families)})"
    styles = sorted(profile.preferred_styles & set(ARCHETYPES))
    if styles:
        verb = "fits" if terms["taste_style"] >= 0 else "strays from"
        out["taste_style"] = f"{verb} your {_and_list(styles)} style"
    liked = [t.garments[i] for i in idx if t.garments[i].id in ctx.liked_ids]
    worn = max((t.garments[i] for i in idx), key=lambda g: g.wear_count)
    if liked:
        out["favorites"] = f"includes the {_label(liked[0])} you love"
    elif worn.wear_count > 0:
        out["favorites"] = f"builds on your well-worn {_label(worn)}"
    mask = int(np.bitwise_or.reduce(t.accent_mask[idx]))
    accents = families_in(mask)
    if len(accents) == 1:
        out["accents"] = f"one accent colour ({accents[0]}) keeps it focused"
    elif len(accents) > 2:
        out["accents"] = f"too many accent colours ({', '.join(accents)})"
    return {k: v for k, v in out.items() if v}


# Used when a term has no note (a caller scoring without notes).
DEFAULT_PHRASES: Final = {
    "color": ("the colours work together", "the colours fight"),
    "formality": ("the pieces share a dress code", "the dress codes clash"),
    "season": ("the pieces belong to the same season", "the pieces are from different seasons"),
    "pattern": ("the patterns are balanced", "the patterns compete"),
    "weather": ("right for the weather", "not ideal for the weather"),
    "occasion": ("right for the occasion", "off for the occasion"),
    "taste_colors": ("in your colours", "uses a colour you avoid"),
    "taste_style": ("fits your style", "strays from your style"),
    "favorites": ("uses pieces you love", "uses pieces you rarely wear"),
    "accents": ("a focused accent colour", "too many accent colours"),
}


def top_terms(terms: Mapping[str, float], max_terms: int = 3) -> list[str]:
    """The terms an explanation talks about: the largest by size, positives before negatives."""
    big = [k for k in sorted(terms, key=lambda k: -abs(terms[k])) if abs(terms[k]) >= EXPLAIN_MIN]
    chosen = big[:max_terms]
    return sorted(chosen, key=lambda k: -terms[k])


def explain(
    terms: Mapping[str, float], notes: Mapping[str, str] | None = None, *, max_terms: int = 3
) -> str:
    """One short sentence from the largest terms, e.g. "Navy and beige are a calm neutral
    pairing; all smart-casual (formality 3); suits 12°C with the wool coat."."""
    notes = notes or {}
    positive: list[str] = []
    negative: list[str] = []
    for name in top_terms(terms, max_terms):
        good, bad = DEFAULT_PHRASES.get(name, (name, name))
        phrase = notes.get(name) or (good if terms[name] >= 0 else bad)
        (positive if terms[name] >= 0 else negative).append(phrase)
    text = "; ".join(positive)
    if negative:
        text = f"{text}; but {', and '.join(negative)}" if text else "; ".join(negative)
    if not text:
        return "A balanced outfit."
    return text[0].upper() + text[1:] + "."
