"""Request validation: human ranges, impossible combinations, defaults, customization."""

from __future__ import annotations

import math

import pytest

import workers.avatar.build as build_module
from drape.avatar_inputs import DEFAULT_RATIOS, GIRTH_NAMES
from workers.avatar import (
    MEASUREMENT_NAMES,
    MEASUREMENT_RANGES,
    ImplausibleMeasurements,
    InvalidCustomization,
    build_avatar,
    validate_measurements,
)

GOOD = {"height": 170.0, "bust": 92.0, "underbust": 79.0, "waist": 76.0, "hips": 100.0}


def field_of(measurements: dict, customization: dict | None = None) -> str:
    with pytest.raises(ImplausibleMeasurements) as err:
        validate_measurements(measurements, customization)
    assert err.value.message and err.value.errors
    return err.value.field


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"height": 119.0}, "height"),
        ({"height": 260.0}, "height"),
        ({"waist": 200.0}, "waist"),
        ({"neck": 10.0}, "neck"),
        ({"calf": -3.0}, "calf"),
        ({"thigh": math.nan}, "thigh"),
        ({"hips": "wide"}, "hips"),
        ({"bust": True}, "bust"),
        ({"wingspan": 170.0}, "wingspan"),
    ],
)
def test_out_of_range_or_malformed_names_the_field(change: dict, field: str) -> None:
    assert field_of({**GOOD, **change}) == field


@pytest.mark.parametrize(
    ("measurements", "field"),
    [
        ({"height": 120.0, "waist": 150.0}, "waist"),  # far too wide for that height
        ({"height": 170.0, "bust": 90.0, "underbust": 95.0}, "underbust"),
        ({"height": 170.0, "inseam": 95.0}, "inseam"),  # more than 55% of height
        ({"height": 170.0, "hips": 90.0, "thigh": 75.0}, "thigh"),  # thighs wider than hips
        ({"height": 170.0, "thigh": 50.0, "calf": 52.0}, "calf"),
        ({"height": 200.0, "arm_length": 50.0}, "arm_length"),
        (
            {"height": 160.0, "underbust": 110.0, "bust": 120.0, "shoulder_width": 36.0},
            "shoulder_width",
        ),
    ],
)
def test_impossible_combinations_name_the_field(measurements: dict, field: str) -> None:
    assert field_of(measurements) == field


def test_missing_height_and_every_error_listed() -> None:
    with pytest.raises(ImplausibleMeasurements) as err:
        validate_measurements({"waist": 500.0, "neck": 1.0})
    assert {e.field for e in err.value.errors} == {"waist", "neck", "height"}
    assert "waist" in str(err.value)


def test_rejected_before_any_mesh_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("fit must not run for implausible input")

    monkeypatch.setattr(build_module, "fit", no_fit)
    with pytest.raises(ImplausibleMeasurements) as err:
        build_avatar({"height": 120.0, "waist": 150.0}, {})
    assert err.value.field == "waist"


@pytest.mark.parametrize(
    ("customization", "field"),
    [
        ({"body_shape": "robot"}, "body_shape"),
        ({"skin_tone": "brown"}, "skin_tone"),
        ({"skin_tone": "#12345"}, "skin_tone"),
        ({"posture": "slouch"}, "posture"),
        ({"hair": "long"}, "hair"),
    ],
)
def test_bad_customization_names_the_field(customization: dict, field: str) -> None:
    with pytest.raises(InvalidCustomization) as err:
        validate_measurements(GOOD, customization)
    assert err.value.field == field


@pytest.mark.parametrize("presentation", ["feminine", "masculine", "neutral"])
def test_defaults_follow_height_and_presentation(presentation: str) -> None:
    full = validate_measurements({"height": 170.0}, {"body_shape": presentation})
    assert set(full) == set(MEASUREMENT_NAMES)
    for name, ratio in DEFAULT_RATIOS[presentation].items():
        assert full[name] == pytest.approx(ratio * 170.0, abs=0.01), name


def test_missing_girths_follow_the_given_ones() -> None:
    ratios = DEFAULT_RATIOS["feminine"]
    full = validate_measurements({"height": 160.0, "waist": ratios["waist"] * 160 * 1.3})
    full_fem = validate_measurements(
        {"height": 160.0, "waist": ratios["waist"] * 160 * 1.3}, {"body_shape": "feminine"}
    )
    assert full["hips"] > DEFAULT_RATIOS["neutral"]["hips"] * 160 * 1.2
    for name in GIRTH_NAMES:
        if name != "waist":
            assert full_fem[name] == pytest.approx(ratios[name] * 160 * 1.3, abs=0.01), name


def test_ranges_cover_every_measurement() -> None:
    assert set(MEASUREMENT_RANGES) == set(MEASUREMENT_NAMES)
    assert MEASUREMENT_RANGES["height"] == (120.0, 220.0)
    assert all(lo < hi for lo, hi in MEASUREMENT_RANGES.values())


def test_plausible_request_passes_unchanged() -> None:
    full = validate_measurements(GOOD, {"body_shape": "feminine"})
    assert {k: full[k] for k in GOOD} == GOOD
