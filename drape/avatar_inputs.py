"""Validation and defaults for avatar requests. Cheap: runs before any mesh work.

Measurements are in centimetres. `height` is required; every other measurement is optional.
A missing measurement defaults to `height * DEFAULT_RATIOS[presentation][name]` (typical adult
proportions of that presentation), and for girths that value is then scaled by the body's
"build": the geometric mean, over the girths that were given, of given / default. So a request
with a large waist and no hips gets proportionally large hips rather than an impossible shape.

Customization: body_shape ("feminine" | "masculine" | "neutral", default "neutral"), skin_tone
("#rrggbb", default "#c68e6a"), posture ("relaxed" | "upright" | "athletic", default "relaxed").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

MEASUREMENT_NAMES = (
    "height", "bust", "underbust", "waist", "hips", "neck", "shoulder_width",
    "arm_length", "inseam", "thigh", "upper_arm", "calf",
)  # fmt: skip
# Other names clients send for a measurement (a tailor's card says chest).
SYNONYMS = {"chest": "bust"}
GIRTH_NAMES = ("bust", "underbust", "waist", "hips", "neck", "thigh", "upper_arm", "calf")

# Absolute plausible ranges, cm (inclusive).
MEASUREMENT_RANGES: dict[str, tuple[float, float]] = {
    "height": (120.0, 220.0),
    "bust": (60.0, 170.0),
    "underbust": (55.0, 150.0),
    "waist": (45.0, 160.0),
    "hips": (65.0, 170.0),
    "neck": (25.0, 56.0),
    "shoulder_width": (26.0, 60.0),
    "arm_length": (38.0, 90.0),
    "inseam": (50.0, 110.0),
    "thigh": (30.0, 95.0),
    "upper_arm": (16.0, 58.0),
    "calf": (22.0, 62.0),
}

# Plausible range of each measurement as a fraction of height, so that e.g. a 150 cm waist at
# 120 cm tall or an inseam longer than 55% of height is refused.
HEIGHT_RATIO_RANGES: dict[str, tuple[float, float]] = {
    "bust": (0.40, 0.95),
    "underbust": (0.36, 0.85),
    "waist": (0.30, 0.90),
    "hips": (0.42, 0.95),
    "neck": (0.15, 0.30),
    "shoulder_width": (0.18, 0.30),
    "arm_length": (0.28, 0.40),
    "inseam": (0.40, 0.55),
    "thigh": (0.22, 0.55),
    "upper_arm": (0.12, 0.30),
    "calf": (0.15, 0.34),
}

# (measurement, other, lowest ratio, highest ratio): measurement / other must lie in the range.
PAIR_RATIO_RANGES: tuple[tuple[str, str, float, float], ...] = (
    ("underbust", "bust", 0.66, 1.0),  # an underbust cannot exceed the bust
    ("waist", "hips", 0.50, 1.35),
    ("waist", "bust", 0.50, 1.35),
    ("thigh", "hips", 0.38, 0.70),  # both thighs must fit under the hips
    ("calf", "thigh", 0.45, 0.90),
    ("upper_arm", "bust", 0.20, 0.45),
    ("neck", "bust", 0.24, 0.50),
    ("shoulder_width", "underbust", 0.34, 0.70),  # the chest must fit between the shoulders
)

PRESENTATIONS = ("feminine", "masculine", "neutral")
POSTURES = ("relaxed", "upright", "athletic")
DEFAULT_CUSTOMIZATION = {"body_shape": "neutral", "skin_tone": "#c68e6a", "posture": "relaxed"}

_FEMININE = {
    "bust": 0.565, "underbust": 0.475, "waist": 0.460, "hips": 0.615, "neck": 0.200,
    "shoulder_width": 0.222, "arm_length": 0.335, "inseam": 0.455, "thigh": 0.345,
    "upper_arm": 0.175, "calf": 0.222,
}  # fmt: skip
_MASCULINE = {
    "bust": 0.565, "underbust": 0.500, "waist": 0.480, "hips": 0.565, "neck": 0.215,
    "shoulder_width": 0.232, "arm_length": 0.345, "inseam": 0.465, "thigh": 0.320,
    "upper_arm": 0.180, "calf": 0.215,
}  # fmt: skip
DEFAULT_RATIOS: dict[str, dict[str, float]] = {
    "feminine": _FEMININE,
    "masculine": _MASCULINE,
    "neutral": {k: round((_FEMININE[k] + _MASCULINE[k]) / 2, 4) for k in _FEMININE},
}

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class AvatarInputError(ValueError):
    """Invalid avatar input; `errors` lists every problem found, `field`/`message` the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        self.field = errors[0].field
        self.message = errors[0].message
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))

    def as_problem_errors(self) -> list[dict[str, str]]:
        return [{"field": e.field, "message": e.message} for e in self.errors]


class ImplausibleMeasurements(AvatarInputError):
    """Measurements outside human ranges, or impossible together."""


class InvalidCustomization(AvatarInputError):
    """Unknown body shape or posture, or a malformed skin tone."""


def normalize_customization(customization: Mapping[str, object] | None) -> dict[str, str]:
    given = dict(customization or {})
    errors = [
        FieldError(k, "unknown customization") for k in given if k not in DEFAULT_CUSTOMIZATION
    ]
    out = {
        **DEFAULT_CUSTOMIZATION,
        **{k: v for k, v in given.items() if k in DEFAULT_CUSTOMIZATION},
    }
    if out["body_shape"] not in PRESENTATIONS:
        errors.append(FieldError("body_shape", f"must be one of {', '.join(PRESENTATIONS)}"))
    if out["posture"] not in POSTURES:
        errors.append(FieldError("posture", f"must be one of {', '.join(POSTURES)}"))
    if not isinstance(out["skin_tone"], str) or not _HEX.match(out["skin_tone"]):
        errors.append(FieldError("skin_tone", "must be a colour like #c68e6a"))
    if errors:
        raise InvalidCustomization(errors)
    out["skin_tone"] = str(out["skin_tone"]).lower()
    return {k: str(v) for k, v in out.items()}


def validate_measurements(
    measurements: Mapping[str, object], customization: Mapping[str, object] | None = None
) -> dict[str, float]:
    """Every measurement in cm with defaults filled in; raises ImplausibleMeasurements (or
    InvalidCustomization) naming the offending field."""
    presentation = normalize_customization(customization)["body_shape"]
    given, errors = _parse(measurements)
    if errors:
        raise ImplausibleMeasurements(errors)
    height = given["height"]
    ratios = DEFAULT_RATIOS[presentation]
    girths = [given[k] / (ratios[k] * height) for k in GIRTH_NAMES if k in given]
    build = math.exp(sum(map(math.log, girths)) / len(girths)) if girths else 1.0
    full = {"height": height}
    for name in MEASUREMENT_NAMES[1:]:
        if name in given:
            full[name] = given[name]
        else:
            value = ratios[name] * height * (build if name in GIRTH_NAMES else 1.0)
            # Keep a default inside every range, so only given values can be blamed.
            lo = max(MEASUREMENT_RANGES[name][0], HEIGHT_RATIO_RANGES[name][0] * height)
            hi = min(MEASUREMENT_RANGES[name][1], HEIGHT_RATIO_RANGES[name][1] * height)
            full[name] = min(max(value, lo), hi)
    errors = _relations(full, given)
    if errors:
        raise ImplausibleMeasurements(errors)
    return {k: round(v, 2) for k, v in full.items()}


def _parse(measurements: Mapping[str, object]) -> tuple[dict[str, float], list[FieldError]]:
    errors: list[FieldError] = []
    given: dict[str, float] = {}
    if not isinstance(measurements, Mapping):
        return given, [FieldError("measurements", "must be an object of numbers in cm")]
    for sent, value in measurements.items():
        name = SYNONYMS.get(sent, sent)
        if name not in MEASUREMENT_RANGES:
            errors.append(FieldError(str(sent), unknown_measurement()))
            continue
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            errors.append(FieldError(name, "must be a number of centimetres"))
            continue
        lo, hi = MEASUREMENT_RANGES[name]
        if not lo <= value <= hi:
            errors.append(FieldError(name, f"must be between {lo:g} and {hi:g} cm"))
            continue
        given[name] = float(value)
    if "height" not in given and not any(e.field == "height" for e in errors):
        errors.append(FieldError("height", "is required"))
    return given, errors


def unknown_measurement() -> str:
    accepted = ", ".join(MEASUREMENT_NAMES)
    synonyms = ", ".join(f"{k} = {v}" for k, v in SYNONYMS.items())
    return f"unknown measurement; accepted (cm): {accepted} (also {synonyms})"


def _derived(names: list[str], given: dict[str, float]) -> str:
    """Why a value the caller never sent can be wrong: it was derived from the others."""
    derived = [n for n in names if n not in given]
    if not derived:
        return ""
    return (f" ({' and '.join(derived)} not sent: derived from height and the girths given;"
            " send it to override)")  # fmt: skip


def _relations(full: dict[str, float], given: dict[str, float]) -> list[FieldError]:
    errors: list[FieldError] = []
    height = full["height"]
    for name, (lo, hi) in HEIGHT_RATIO_RANGES.items():
        r = full[name] / height
        if not lo <= r <= hi:
            errors.append(
                FieldError(name, f"{full[name]:g} cm is implausible for a height of {height:g} cm "
                           f"(expected {lo * height:.0f}-{hi * height:.0f} cm)")
            )  # fmt: skip
    if errors:
        return errors
    for name, other, lo, hi in PAIR_RATIO_RANGES:
        r = full[name] / full[other]
        if lo <= r <= hi:
            continue
        # Blame the measurement the caller gave; a defaulted one only follows the others.
        field = name if name in given or other not in given else other
        errors.append(
            FieldError(field, f"{name} {full[name]:g} cm and {other} {full[other]:g} cm are "
                       f"impossible together ({name} must be {lo:g}-{hi:g} x {other})"
                       + _derived([name, other], given))
        )  # fmt: skip
    return errors
