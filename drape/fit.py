"""Size and fit: which size of a chart a body should buy, and where it will be tight.

Pure numerics, no I/O. Measurements are the avatar model's (drape/avatar_inputs.py), in cm.

A chart lists, per size label, either body-measurement ranges (EN 13402-3 / ISO 8559-2 style:
"size M fits bust 92-96 cm") or garment measurements (the garment's own girths and lengths);
a garment chart becomes body ranges by subtracting the ease of its fit class (negative for knits,
which stretch over the body) and allowing a tolerance either side.

The recommendation places the body on each dimension's size scale: the position p_d is the size
index interpolated between the centres of the size ranges (2.4 = between the third and fourth
size, nearer the third). A dimension the category cares about less may be up to `ALLOWANCE` of a
size tight before it pushes the size up; the size is the rounded maximum, plus the learned
offsets (a user's brand offset, a chart's bias), so a larger body never gets a smaller size.
Each dimension is then labelled tight / fits / loose against the chosen size's range, with the
margin in cm to the nearer edge of that range. A recommendation abstains (with the reason) when
the chart lacks what the category needs, a needed body measurement is missing, or the body lies
outside the chart.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from drape.avatar_inputs import MEASUREMENT_NAMES
from drape.taxonomy import CATEGORIES

ChartKind = Literal["body", "garment"]
Label = Literal["tight", "fits", "loose"]

LENGTHS = ("height", "inseam", "arm_length", "shoulder_width")  # not girths
CHART_DIMENSIONS = tuple(MEASUREMENT_NAMES)

# Which body measurements decide the size of each category, most important first. The first
# is primary (no allowance); the others may be ALLOWANCE of a size tight before they count.
# Shoulders, lengths and limb girths vary too much between bodies of one size to choose it (a
# chart grades shoulders ~1 cm a size, less than a tape's error): they are labelled only.
CATEGORY_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "tops": ("bust", "waist"),
    "outerwear": ("bust", "waist"),
    "dresses": ("bust", "waist", "hips"),
    "bottoms": ("waist", "hips"),
    "activewear": ("bust", "waist", "hips"),
    "swimwear": ("bust", "underbust", "waist", "hips"),
}
SUBCATEGORY_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "shorts": ("waist", "hips"),
    "tank_top": ("bust", "waist"),
    "crop_top": ("bust",),
}
CATEGORY_LABELLED: dict[str, tuple[str, ...]] = {
    "tops": ("shoulder_width", "arm_length", "upper_arm", "neck"),
    "outerwear": ("shoulder_width", "arm_length", "upper_arm"),
    "dresses": ("shoulder_width", "height"),
    "bottoms": ("inseam", "thigh", "calf"),
    "activewear": ("inseam", "thigh"),
    "swimwear": (),
}
UNSIZED = ("shoes", "bags", "accessories")  # sized by foot length or not at all
SECONDARY_WEIGHT = 0.5  # the deciding dimensions after the first count half
TIGHT = 3.0  # a size too tight costs this many times the same amount too loose

EASE_CLASSES = ("fitted", "regular", "relaxed", "oversized", "knit")
# Typical wearing ease, garment minus body, cm. Girths follow common pattern-making tables
# (Aldrich; ISO/TR 10652); knits are negative: the fabric stretches over the body.
EASE: dict[str, dict[str, float]] = {
    "fitted": {"bust": 6.0, "underbust": 3.0, "waist": 4.0, "hips": 5.0, "thigh": 4.0,
               "upper_arm": 4.0, "neck": 2.0, "calf": 2.0},
    "regular": {"bust": 10.0, "underbust": 6.0, "waist": 8.0, "hips": 8.0, "thigh": 7.0,
                "upper_arm": 7.0, "neck": 3.0, "calf": 4.0},
    "relaxed": {"bust": 16.0, "underbust": 10.0, "waist": 14.0, "hips": 13.0, "thigh": 10.0,
                "upper_arm": 10.0, "neck": 4.0, "calf": 6.0},
    "oversized": {"bust": 26.0, "underbust": 18.0, "waist": 24.0, "hips": 20.0, "thigh": 14.0,
                  "upper_arm": 14.0, "neck": 5.0, "calf": 8.0},
    "knit": {"bust": -4.0, "underbust": -4.0, "waist": -4.0, "hips": -4.0, "thigh": -3.0,
             "upper_arm": -2.0, "neck": 0.0, "calf": -2.0},
}  # fmt: skip
DEFAULT_EASE: dict[str, str] = {
    "tops": "regular", "outerwear": "relaxed", "dresses": "regular", "bottoms": "fitted",
    "activewear": "knit", "swimwear": "knit",
}  # fmt: skip
# Half-width of the body range a garment measurement fits, cm: girths +-2, lengths +-2.5.
TOLERANCE = {name: (2.5 if name in LENGTHS else 2.0) for name in CHART_DIMENSIONS}
MAX_SIZES = 30
MAX_LABEL = 16
BEYOND = 0.6  # of a size step past the smallest or largest size: abstain
# Between two sizes the choice goes up from this far past the smaller one, where the discomfort
# of the two is equal (TIGHT f^2 = (1 - f)^2): the outcome model of the learning uses it.
UP_FROM = 1 / (1 + math.sqrt(TIGHT))
CONFIDENCE_SCALE = 3.0  # logistic slope per unit of discomfort gap


class ChartError(ValueError):
    """A chart that cannot be used; `field` is a path into the chart ("sizes[2].bust")."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class Size:
    label: str
    ranges: dict[str, tuple[float, float]]  # body cm (lo, hi) per dimension


@dataclass(frozen=True, slots=True)
class Chart:
    """A validated chart, always as body ranges (garment charts converted)."""

    kind: ChartKind
    category: str
    subcategory: str | None
    ease: str | None
    sizes: tuple[Size, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.sizes)

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(self.sizes[0].ranges)


@dataclass(frozen=True, slots=True)
class DimensionFit:
    name: str
    label: Label
    margin_cm: float  # to the nearer edge of the size's range: > 0 inside, < 0 outside
    ease_cm: float  # range centre minus body: room (+) or squeeze (-)
    position: float  # the body on this dimension's size scale (0 = smallest size)


@dataclass(frozen=True, slots=True)
class Recommendation:
    size: str | None
    index: int | None
    confidence: float
    position: float | None
    dimensions: tuple[DimensionFit, ...] = ()
    abstain_reason: str | None = None
    alternatives: tuple[str, ...] = field(default=())

    @property
    def abstained(self) -> bool:
        return self.size is None


def dimensions_for(category: str, subcategory: str | None = None) -> tuple[str, ...]:
    """The measurements that choose the size, primary first."""
    if subcategory is not None and subcategory in SUBCATEGORY_DIMENSIONS:
        return SUBCATEGORY_DIMENSIONS[subcategory]
    return CATEGORY_DIMENSIONS.get(category, ())


def labelled_for(category: str, subcategory: str | None = None) -> tuple[str, ...]:
    """The measurements that are labelled tight / fits / loose but do not choose the size."""
    if subcategory in ("skirt", "shorts"):
        return ("thigh",) if subcategory == "shorts" else ()
    return CATEGORY_LABELLED.get(category, ())


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ChartError(where, "must be a number of centimetres")
    if not 1.0 <= value <= 300.0:
        raise ChartError(where, "must be between 1 and 300 cm")
    return float(value)


def parse_chart(data: Mapping[str, object]) -> Chart:
    """Validate a chart document; raises ChartError naming the first bad field.

    {"kind": "body"|"garment", "category", "subcategory"?, "ease"? (garment charts),
     "sizes": [{"label": "M", "bust": [92, 96] (body) or 104 (garment), ...}, ...]}
    Every size lists the same dimensions; sizes run smallest first and never shrink."""
    kind = data.get("kind", "body")
    if kind not in ("body", "garment"):
        raise ChartError("kind", "must be body or garment")
    category = data.get("category")
    if not isinstance(category, str) or category not in CATEGORIES:
        raise ChartError("category", f"must be one of {', '.join(CATEGORIES)}")
    if category in UNSIZED:
        raise ChartError("category", f"{category} are not sized by body measurements")
    subcategory = data.get("subcategory")
    if subcategory is not None and subcategory not in CATEGORIES[category]:
        raise ChartError("subcategory", f"must be one of {', '.join(CATEGORIES[category])}")
    ease = data.get("ease")
    if kind == "body" and ease is not None:
        raise ChartError("ease", "only a garment chart has an ease class")
    if kind == "garment":
        ease = DEFAULT_EASE[category] if ease is None else ease
        if ease not in EASE_CLASSES:
            raise ChartError("ease", f"must be one of {', '.join(EASE_CLASSES)}")
    rows = data.get("sizes")
    if not isinstance(rows, Sequence) or isinstance(rows, str) or not rows:
        raise ChartError("sizes", "must be a non-empty list of sizes")
    if len(rows) > MAX_SIZES:
        raise ChartError("sizes", f"at most {MAX_SIZES} sizes")
    sizes = [_parse_size(row, f"sizes[{i}]", kind, str(ease)) for i, row in enumerate(rows)]
    _check_grading(sizes)
    return Chart(kind, category, subcategory, ease if kind == "garment" else None, tuple(sizes))  # type: ignore[arg-type]


def _parse_size(row: object, where: str, kind: str, ease: str) -> Size:
    if not isinstance(row, Mapping):
        raise ChartError(where, "must be an object with a label and measurements")
    label = row.get("label")
    if not isinstance(label, str) or not 1 <= len(label.strip()) <= MAX_LABEL:
        raise ChartError(f"{where}.label", f"must be 1-{MAX_LABEL} characters")
    ranges: dict[str, tuple[float, float]] = {}
    for name, value in row.items():
        if name == "label":
            continue
        at = f"{where}.{name}"
        if name not in CHART_DIMENSIONS:
            raise ChartError(at, "unknown measurement")
        if kind == "body":
            if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
                raise ChartError(at, "must be a [lowest, highest] range in cm")
            lo, hi = _number(value[0], f"{at}[0]"), _number(value[1], f"{at}[1]")
            if lo > hi:
                raise ChartError(at, "lowest is above highest")
        else:
            g = _number(value, at)
            centre = g - EASE[ease].get(name, 0.0)
            lo, hi = centre - TOLERANCE[name], centre + TOLERANCE[name]
        ranges[str(name)] = (lo, hi)
    if not ranges:
        raise ChartError(where, "lists no measurement")
    return Size(label.strip(), ranges)


def _check_grading(sizes: list[Size]) -> None:
    labels: set[str] = set()
    first = set(sizes[0].ranges)
    for i, size in enumerate(sizes):
        if size.label in labels:
            raise ChartError(f"sizes[{i}].label", f"{size.label!r} is listed twice")
        labels.add(size.label)
        for name in first ^ set(size.ranges):
            raise ChartError(f"sizes[{i}].{name}", "every size must list the same measurements")
        if i == 0:
            continue
        prev = sizes[i - 1]
        for name, (lo, hi) in size.ranges.items():
            plo, phi = prev.ranges[name]
            if lo < plo or hi < phi:
                raise ChartError(
                    f"sizes[{i}].{name}", "smaller than the size before; list sizes smallest first"
                )
    if len(sizes) > 1 and all(sizes[-1].ranges[n] == sizes[0].ranges[n] for n in sizes[0].ranges):
        raise ChartError("sizes", "every size has the same measurements")


def _centres(chart: Chart, name: str) -> list[float]:
    return [(s.ranges[name][0] + s.ranges[name][1]) / 2 for s in chart.sizes]


def grades(chart: Chart, name: str) -> bool:
    """A dimension decides sizes only if its centres strictly increase."""
    c = _centres(chart, name)
    return len(c) > 1 and all(b > a for a, b in itertools.pairwise(c))


def position(chart: Chart, name: str, value: float) -> float:
    """The body on this dimension's size scale: piecewise linear through the range centres,
    extended past both ends by the end steps. Non-decreasing in `value`."""
    c = _centres(chart, name)
    if len(c) == 1:
        lo, hi = chart.sizes[0].ranges[name]
        return (value - (lo + hi) / 2) / max(hi - lo, 1.0)
    if value <= c[0]:
        return (value - c[0]) / (c[1] - c[0])
    for k in range(len(c) - 1):
        if value <= c[k + 1]:
            return k + (value - c[k]) / (c[k + 1] - c[k])
    return len(c) - 1 + (value - c[-1]) / (c[-1] - c[-2])


def discomfort(index: float, positions: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """How badly size `index` fits a body at `positions` (per dimension, in sizes): squared
    room, TIGHT times more for squeeze. Convex in `index`, and its differences fall as any
    position grows, so the best size never falls as the body grows."""
    total = 0.0
    for d, p in positions.items():
        r = index - p
        total += weights[d] * r * r * (1.0 if r >= 0 else TIGHT)
    return total


def comfort_optimum(positions: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The continuous size where discomfort is least: a weighted mean of the positions, the
    ones that would be tight weighing TIGHT times more. Non-decreasing in every position."""
    ps = sorted(positions.values())
    s = sum(weights[d] * p for d, p in positions.items()) / sum(weights.values())
    for _ in range(len(ps) + 2):  # which side each position lies on settles in a few rounds
        a = {d: weights[d] * (TIGHT if p > s else 1.0) for d, p in positions.items()}
        s_new = sum(a[d] * p for d, p in positions.items()) / sum(a.values())
        if abs(s_new - s) < 1e-12:
            break
        s = s_new
    return s


def recommend(
    chart: Chart, body: Mapping[str, float], *, offset: float = 0.0, size: str | None = None
) -> Recommendation:
    """The size of `chart` for `body` (cm). `offset` (in sizes) shifts the choice: a user's
    learned offset for the brand plus the chart's bias across users. With `size`, how that
    size would fit instead (never abstaining for a body outside the chart)."""
    wanted = dimensions_for(chart.category, chart.subcategory)
    used = [d for d in wanted if d in chart.dimensions]
    if not used:
        return _abstain(f"the chart lists none of {', '.join(wanted)}")
    extra = [d for d in labelled_for(chart.category, chart.subcategory) if d in chart.dimensions]
    missing = [d for d in used + extra if not isinstance(body.get(d), int | float)]
    if missing:
        return _abstain(f"the body has no {missing[0]} measurement")
    deciding = [d for d in used if grades(chart, d)] if len(chart.sizes) > 1 else used
    if not deciding:
        return _abstain(f"no measurement the chart grades among {', '.join(used)}")
    used += extra
    pos = {d: position(chart, d, float(body[d])) + offset for d in deciding}
    weights = {d: 1.0 if i == 0 else SECONDARY_WEIGHT for i, d in enumerate(deciding)}
    p = comfort_optimum(pos, weights)
    n = len(chart.sizes)
    if size is not None and size not in chart.labels:
        return _abstain(f"the chart has no size {size!r}")
    if size is not None:
        p = min(max(p, -BEYOND), n - 1 + BEYOND)
    if p < -BEYOND:
        d = min(deciding, key=lambda k: pos[k])
        return _abstain(f"smaller than the smallest size ({chart.sizes[0].label}) at {d}")
    if p > n - 1 + BEYOND:
        d = max(deciding, key=lambda k: pos[k])
        return _abstain(f"larger than the largest size ({chart.sizes[-1].label}) at {d}")
    losses = sorted((discomfort(i, pos, weights), i) for i in range(n))
    index = losses[0][1] if size is None else chart.labels.index(size)
    chosen = chart.sizes[index]
    fits = tuple(
        _label(d, float(body[d]), chosen.ranges[d], pos.get(d, float(index))) for d in used
    )
    # Confidence: a logistic of how much worse the runner-up size is (0.5 when both are as
    # good), for charts converted from garment measurements a little less.
    # A size asked for that is not the best one gets how much worse it is: below one half.
    own = discomfort(index, pos, weights)
    other = losses[1][0] if index == losses[0][1] else losses[0][0]
    gap = (other - own) / sum(weights.values()) if n > 1 else 1.0
    confidence = 1 / (1 + math.exp(-CONFIDENCE_SCALE * gap))
    if chart.kind == "garment":
        confidence *= 0.95
    runner_up = (losses[1][1] if index == losses[0][1] else losses[0][1]) if n > 1 else index
    alternatives = (chart.sizes[runner_up].label,) if n > 1 and confidence < 0.6 else ()
    return Recommendation(
        size=chosen.label, index=index, confidence=round(confidence, 3), position=round(p, 3),
        dimensions=fits, alternatives=alternatives,
    )  # fmt: skip


def _label(name: str, value: float, rng: tuple[float, float], pos: float) -> DimensionFit:
    lo, hi = rng
    margin = min(value - lo, hi - value)
    label: Label = "tight" if value > hi else "loose" if value < lo else "fits"
    return DimensionFit(
        name, label, round(margin, 1), round((lo + hi) / 2 - value, 1), round(pos, 3)
    )


def _abstain(reason: str) -> Recommendation:
    return Recommendation(None, None, 0.0, None, abstain_reason=reason)


# Learning from outcomes --------------------------------------------------------------------------

OUTCOMES = ("kept", "too_small", "too_large", "returned_too_small", "returned_too_large")
BIGGER = ("too_small", "returned_too_small")  # the body needed a bigger size
SMALLER = ("too_large", "returned_too_large")
USER_PRIOR_SD = 0.5  # sizes: how far a user's offset for a brand usually is from 0
CHART_PRIOR_SD = 0.4  # the same for a chart's bias across its users
OUTCOME_SD = 0.35  # sizes: how sharply an outcome changes as the body moves past a boundary
MAX_OFFSET = 2.0  # sizes
_GRID = [i / 40 for i in range(-80, 81)]


@dataclass(frozen=True, slots=True)
class Outcome:
    bought: int  # index of the size bought in its chart
    position: float  # the body on that chart's size scale, without any learned offset
    outcome: str


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _likelihood(o: Outcome, offset: float) -> float:
    p = o.position + offset
    bigger = _phi((p - (o.bought + UP_FROM)) / OUTCOME_SD)
    smaller = _phi(((o.bought - 1 + UP_FROM) - p) / OUTCOME_SD)
    if o.outcome in BIGGER:
        return bigger
    if o.outcome in SMALLER:
        return smaller
    return max(1.0 - bigger - smaller, 0.0)


def learned_offset(outcomes: Sequence[Outcome], prior_sd: float) -> float:
    """The most probable offset (in sizes) given the outcomes: a probit model of kept / too
    small / too large around the size boundaries, with a normal prior at 0 and a floor on each
    outcome's probability so one mistaken report moves it only so far."""
    if not outcomes:
        return 0.0
    best, best_score = 0.0, -math.inf
    for offset in _GRID:
        score = -(offset * offset) / (2 * prior_sd * prior_sd)
        score += sum(math.log(0.05 + 0.95 * _likelihood(o, offset)) for o in outcomes)
        if score > best_score:
            best, best_score = offset, score
    return max(-MAX_OFFSET, min(MAX_OFFSET, best))


def recommendation_json(rec: Recommendation) -> dict[str, object]:
    return {
        "size": rec.size,
        "confidence": rec.confidence,
        "position": rec.position,
        "abstained": rec.abstained,
        "abstain_reason": rec.abstain_reason,
        "alternatives": list(rec.alternatives),
        "dimensions": [
            {"name": d.name, "label": d.label, "margin_cm": d.margin_cm, "ease_cm": d.ease_cm}
            for d in rec.dimensions
        ],
    }
