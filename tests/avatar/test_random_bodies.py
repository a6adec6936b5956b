"""50 seeded plausible bodies: every tape and length on the exported GLB, cut by an independent
slicer, must match the request within 0.5%, and the mesh must be a clean closed surface."""

from __future__ import annotations

import numpy as np

MAX_GLB_BYTES = 400_000
TOL = 5e-3


def test_measurements_on_glb_match_request(body_index, avatars, gltf) -> None:
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


def test_mesh_is_closed_standing_and_big_enough(body_index, avatars, gltf) -> None:
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
