"""50 seeded plausible bodies: every tape and length on the exported GLB, cut by an independent
slicer, must match the request within 0.5%, and the mesh must be a clean closed surface."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from workers.avatar import AvatarBuild

MAX_GLB_BYTES = 400_000
TOL = 5e-3


def test_measurements_on_glb_match_request(
    body_index: int, avatars: Callable[[int], AvatarBuild], gltf: SimpleNamespace
) -> None:
    a = avatars(body_index)
    mesh = gltf.load_mesh(a.glb)
    assert set(a.landmarks) == set(a.requested)
    for name, mark in a.landmarks.items():
        want = a.requested[name]
        if mark["kind"] == "circumference":
            got = gltf.tape(mesh, mark["origin"], mark["normal"]) * 100
        else:
            start, end = np.array(mark["from"]), np.array(mark["to"])
            got = float(np.linalg.norm(end - start)) * 100
            # The landmarks are points of the body (or the floor under them).
            nearest = np.linalg.norm(mesh.vertices - start, axis=1).min()
            assert nearest < 1e-3, (name, nearest)
        assert abs(got / want - 1) < TOL, (name, got, want)
        assert abs(got - mark["value_cm"]) < 0.01 * TOL * want, (name, got, mark["value_cm"])
        assert abs(a.measured[name] - got) < 0.01 * TOL * want


def test_mesh_is_closed_standing_and_big_enough(
    body_index: int, avatars: Callable[[int], AvatarBuild], gltf: SimpleNamespace
) -> None:
    a = avatars(body_index)
    mesh = gltf.load_mesh(a.glb)
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.volume > 0.02  # m^3, and positive: normals point outwards
    assert len(mesh.vertices) == a.vertex_count >= 10_000
    assert len(a.glb) <= MAX_GLB_BYTES
    lo, hi = mesh.bounds
    assert abs(lo[1]) < 5e-4  # feet on the floor
    assert abs(hi[1] * 100 - a.requested["height"]) < TOL * a.requested["height"]
    # Facing +Z: the toes reach much further forward than the heels reach back.
    feet = mesh.vertices[mesh.vertices[:, 1] < 0.03]
    assert feet[:, 2].max() > -2 * feet[:, 2].min() > 0


def test_arms_hang_clear_of_the_chest(
    body_index: int, avatars: Callable[[int], AvatarBuild], gltf: SimpleNamespace
) -> None:
    # Just below the armpits the section has the chest loop and one loop per arm; a crossing
    # between them would mean the arm sinks into the body.
    a = avatars(body_index)
    mesh = gltf.load_mesh(a.glb)
    chest = np.array(a.landmarks["bust"]["origin"])
    armpit = np.array(a.landmarks["shoulder_width"]["to"])[1] - 0.12 * a.requested["height"] / 100
    for y in np.linspace(chest[1], armpit, 4):
        loops = [loop[:, [0, 2]] for loop in mesh.section([0, y, 0], [0, 1, 0]).discrete]
        torso = [lp for lp in loops if _encloses(lp, chest[[0, 2]])]
        assert len(torso) == 1, y
        for other in loops:
            if other is not torso[0]:
                assert not _crosses(torso[0], other), y


def _encloses(poly: np.ndarray, point: np.ndarray) -> bool:
    a, b = poly[:-1], poly[1:]
    straddle = (a[:, 1] > point[1]) != (b[:, 1] > point[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        x = a[:, 0] + (point[1] - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
    return bool(np.count_nonzero(straddle & (x > point[0])) % 2)


def _crosses(p: np.ndarray, q: np.ndarray) -> bool:
    """Do two polylines cross anywhere (proper segment intersections)?"""
    a, b = p[:-1, None], p[1:, None]
    c, d = q[None, :-1], q[None, 1:]

    def side(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        return (v[..., 0] - u[..., 0]) * (w[..., 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (
            w[..., 0] - u[..., 0]
        )

    return bool(((side(a, b, c) * side(a, b, d) < 0) & (side(c, d, a) * side(c, d, b) < 0)).any())
