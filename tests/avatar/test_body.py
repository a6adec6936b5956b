"""The body model's structural promises: closed symmetric topology, an exactly affine mesh (what
makes morph targets and live weights exact), and sane skin weights."""

from __future__ import annotations

import numpy as np
import pytest

from workers.avatar.body import (
    PARAM_NAMES,
    cage_positions,
    fine_positions,
    layout_for,
    mesh_vertices,
    reference_cm,
    reference_params,
)
from workers.avatar.skeleton import JOINT_NAMES, skin_weights
from workers.avatar.topology import topology


def test_topology_is_a_closed_oriented_manifold() -> None:
    topo = topology()
    f = topo.faces
    directed = np.stack([f, np.roll(f, -1, axis=1)], axis=2).reshape(-1, 2)
    assert len(np.unique(directed, axis=0)) == len(directed)  # each directed edge once
    _, uses = np.unique(np.sort(directed, axis=1), axis=0, return_counts=True)
    assert set(uses) == {2}  # every edge between exactly two triangles
    assert topo.n_fine - len(topo.edges) + len(f) == 2  # a sphere: no holes, no handles
    assert topo.n_fine >= 10_000


@pytest.mark.parametrize(
    ("presentation", "posture"), [("feminine", "athletic"), ("masculine", "relaxed")]
)
def test_mesh_is_affine_in_the_parameters(presentation: str, posture: str) -> None:
    rng = np.random.default_rng(3)
    lay = layout_for(
        presentation, posture, {**reference_cm(presentation), "bust": 100.0, "waist": 85.0}
    )
    p1 = reference_params(presentation) * np.exp(rng.normal(0, 0.1, len(PARAM_NAMES)))
    p2 = reference_params(presentation) * np.exp(rng.normal(0, 0.1, len(PARAM_NAMES)))
    mix = cage_positions(0.3 * p1 + 0.7 * p2, lay)
    np.testing.assert_allclose(
        mix, 0.3 * cage_positions(p1, lay) + 0.7 * cage_positions(p2, lay), atol=1e-12
    )
    np.testing.assert_allclose(
        mesh_vertices(p1, lay), fine_positions(cage_positions(p1, lay)), atol=1e-12
    )


def test_mesh_is_mirror_symmetric() -> None:
    lay = layout_for("neutral", "upright", reference_cm("neutral"))
    v = mesh_vertices(reference_params("neutral"), lay)

    def sorted_points(a: np.ndarray) -> np.ndarray:
        r: np.ndarray = np.round(a, 9)
        return r[np.lexsort(r.T)]

    np.testing.assert_allclose(sorted_points(v), sorted_points(v * [-1, 1, 1]), atol=1e-9)


def test_skin_weights_are_normalised_and_follow_the_limbs() -> None:
    joints, weights = skin_weights()
    assert (weights.astype(int).sum(axis=1) == 255).all()
    assert (joints[weights == 0] == 0).all()  # unused slots point at joint 0
    lay = layout_for("neutral", "relaxed", reference_cm("neutral"))
    v = mesh_vertices(reference_params("neutral"), lay)
    main = joints[np.arange(len(joints)), weights.argmax(axis=1)]
    name = np.array(JOINT_NAMES)[main]
    hand = v[:, 0] > v[:, 0].max() - 0.05  # the left fingertips
    foot = (v[:, 1] < 0.02) & (v[:, 0] > 0)
    head = v[:, 1] > 0.95 * v[:, 1].max()
    assert set(name[hand]) == {"LeftHand"}
    assert set(name[foot]) <= {"LeftFoot", "LeftToeBase"}
    assert set(name[head]) == {"Head"}
