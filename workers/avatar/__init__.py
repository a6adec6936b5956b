"""Parametric human body: measurements -> fitted, measured, skinned GLB with morph targets.

Pure numerics, no I/O. Entry points:
- build_avatar(measurements, customization) -> AvatarBuild
- validate_measurements(measurements, customization) -> dict (cm, defaults filled)
- live_state(base_params, measurements, customization) -> (morph weights, measured cm)
- warm_up(): fill the per-process caches at worker start (a few seconds)
"""

from drape.avatar_inputs import (
    DEFAULT_CUSTOMIZATION,
    MEASUREMENT_NAMES,
    MEASUREMENT_RANGES,
    AvatarInputError,
    ImplausibleMeasurements,
    InvalidCustomization,
    normalize_customization,
    validate_measurements,
)
from workers.avatar.build import SLIDER_RANGE_CM, SLIDERS, AvatarBuild, build_avatar, warm_up
from workers.avatar.fit import FitError
from workers.avatar.live import live_state

__all__ = [
    "DEFAULT_CUSTOMIZATION",
    "MEASUREMENT_NAMES",
    "MEASUREMENT_RANGES",
    "SLIDERS",
    "SLIDER_RANGE_CM",
    "AvatarBuild",
    "AvatarInputError",
    "FitError",
    "ImplausibleMeasurements",
    "InvalidCustomization",
    "build_avatar",
    "live_state",
    "normalize_customization",
    "validate_measurements",
    "warm_up",
]
