"""Live slider sessions: morph weights that move the right measurements, deterministically,
and that reproduce the computed measurements when applied to the GLB's own morph targets."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from workers.avatar import (
    SLIDER_RANGE_CM,
    SLIDERS,
    AvatarBuild,
    ImplausibleMeasurements,
    live_state,
)

Base = tuple[AvatarBuild, dict[str, Any]]  # a build and its params after a JSON round trip


@pytest.fixture(scope="module")
def base(avatars: Callable[[int], AvatarBuild]) -> Base:
    a = avatars(3)
    params = json.loads(json.dumps(a.params))  # as stored and sent back by the server
    return a, params


@pytest.mark.parametrize("slider", SLIDERS)
@pytest.mark.parametrize("change_cm", [-3.0, 4.0])
def test_each_slider_moves_its_measurement(base: Base, slider: str, change_cm: float) -> None:
    a, params = base
    wanted = {**a.requested, slider: a.requested[slider] + change_cm}
    weights, measured = live_state(params, wanted, {})
    assert set(weights) == set(SLIDERS)
    assert np.sign(weights[slider]) == np.sign(change_cm)
    assert abs(weights[slider]) == max(abs(w) for w in weights.values())
    assert measured[slider] == pytest.approx(wanted[slider], rel=1e-3)
    for other in SLIDERS:
        if other != slider:
            assert measured[other] == pytest.approx(a.requested[other], rel=1e-3), other


def test_bigger_change_needs_bigger_weight(base: Base) -> None:
    a, params = base
    small, _ = live_state(params, {**a.requested, "waist": a.requested["waist"] + 2}, {})
    large, _ = live_state(params, {**a.requested, "waist": a.requested["waist"] + 8}, {})
    assert 3.0 < large["waist"] / small["waist"] < 5.0


@pytest.mark.parametrize("slider", SLIDERS)
def test_weight_one_is_the_whole_documented_range(
    base: Base, slider: str, gltf: SimpleNamespace
) -> None:
    # glTF tools put morph weights on 0..1: moving a slider by its range in extras takes a
    # weight of about 1, in the live session and in the GLB's own documentation alike.
    a, params = base
    ranges = gltf.read(a.glb).doc["meshes"][0]["extras"]["targetRangesCm"]
    assert ranges == SLIDER_RANGE_CM == params["slider_range_cm"]
    sign = -1.0 if slider == "underbust" else 1.0  # an underbust over the bust is refused
    wanted = {**a.requested, slider: a.requested[slider] + sign * ranges[slider]}
    weights, measured = live_state(params, wanted, {})
    # Other sliders hold their measurements against the side effects, so not exactly 1.
    assert sign * weights[slider] == pytest.approx(1.0, abs=0.15)
    assert measured[slider] == pytest.approx(wanted[slider], rel=1e-3)
    back = {**a.requested, slider: a.requested[slider] - sign * ranges[slider] / 2}
    half, _ = live_state(params, back)
    assert -0.8 < sign * half[slider] < -0.35  # tapes are not quite linear in the shape
    mark = a.landmarks[slider]
    if mark["kind"] == "circumference" and slider != "upper_arm":
        # The target alone at weight 1, on the GLB, cut by trimesh: the base plus the range.
        mesh = gltf.load_mesh(a.glb_plain, {slider: 1.0})
        got = gltf.tape(mesh, mark["origin"], mark["normal"]) * 100
        assert got - a.measured[slider] == pytest.approx(ranges[slider], rel=0.03)


def test_deterministic(base: Base) -> None:
    a, params = base
    wanted = {**a.requested, "hips": a.requested["hips"] + 5, "bust": a.requested["bust"] - 2}
    assert live_state(params, wanted, {}) == live_state(json.loads(json.dumps(params)), wanted, {})


def test_weights_applied_to_the_glb_give_the_reported_measurements(
    base: Base, gltf: SimpleNamespace
) -> None:
    a, params = base
    wanted = {
        **a.requested,
        "waist": a.requested["waist"] + 6,
        "hips": a.requested["hips"] - 3,
        "thigh": a.requested["thigh"] + 2,
        "shoulder_width": a.requested["shoulder_width"] + 1.5,
        "upper_arm": a.requested["upper_arm"] + 2,
    }
    weights, measured = live_state(params, wanted, {})
    before, mesh = gltf.load_mesh(a.glb_plain), gltf.load_mesh(a.glb_plain, weights)
    for name in SLIDERS:
        mark = a.landmarks[name]
        if mark["kind"] == "length":  # follow the landmark vertices through the morph
            ends = [
                np.linalg.norm(before.vertices - mark[k], axis=1).argmin() for k in ("from", "to")
            ]
            got = np.linalg.norm(np.subtract(*mesh.vertices[ends])) * 100
            assert got == pytest.approx(wanted[name], rel=5e-3), name
            continue
        origin = np.array(mark["origin"])
        if name == "upper_arm":  # the arm moved out with the shoulders; follow its axis point
            origin[0] += (measured["shoulder_width"] - a.measured["shoulder_width"]) / 200
        got = gltf.tape(mesh, origin, mark["normal"]) * 100
        assert got == pytest.approx(measured[name], rel=3e-3), name
        assert got == pytest.approx(wanted[name], rel=5e-3), name


def test_changes_without_a_morph_keep_the_base_values(base: Base) -> None:
    a, params = base
    weights, measured = live_state(params, {**a.requested, "height": a.requested["height"] + 5}, {})
    assert measured["height"] == pytest.approx(a.measured["height"], abs=0.01)
    assert max(abs(w) for w in weights.values()) < 0.05


def test_implausible_live_input_is_refused(base: Base) -> None:
    a, params = base
    with pytest.raises(ImplausibleMeasurements) as err:
        live_state(params, {**a.requested, "underbust": a.requested["bust"] + 10}, {})
    assert err.value.field == "underbust"
