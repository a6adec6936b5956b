"""Posing through the skin as a client would: a raised arm must not fold the shoulder.

Linear blend skinning collapses a sharp weight blend when a joint turns far; the shoulder's
weights are spread over the clavicle, the arm hole and the side of the chest so that the arm
goes up to about 77 degrees above horizontal on its own (120 degrees from the A-pose) and
overhead with the clavicle helping, as Mixamo clips move it, without a folded surface."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest
import trimesh

from workers.avatar import AvatarBuild


def _about_z(degrees: float) -> list[float]:
    half = np.radians(degrees) / 2
    return [0.0, 0.0, float(np.sin(half)), float(np.cos(half))]


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize(("clavicle", "arm"), [(0.0, 60.0), (0.0, 120.0), (25.0, 125.0)])
def test_raised_arm_does_not_fold(
    index: int,
    clavicle: float,
    arm: float,
    avatars: Callable[[int], AvatarBuild],
    gltf: SimpleNamespace,
) -> None:
    a = avatars(index)
    glb = gltf.read(a.glb_plain)
    rest = trimesh.Trimesh(glb.positions(), glb.faces(), process=False)
    rest.merge_vertices()
    node = {n.get("name"): n for n in glb.doc["nodes"]}
    for side, sign in (("Left", 1.0), ("Right", -1.0)):  # +z raises the left arm, -z the right
        node[f"{side}Shoulder"]["rotation"] = _about_z(sign * clavicle)
        node[f"{side}Arm"]["rotation"] = _about_z(sign * arm)
    posed = trimesh.Trimesh(glb.positions(), glb.faces(), process=False)
    posed.merge_vertices()
    assert len(posed.vertices) == len(rest.vertices)
    hand = posed.vertices[rest.vertices[:, 0].argmax()]  # the left fingertips
    assert hand[1] > rest.vertices[:, 1].max() * (0.5 if arm < 90 else 0.8)  # it is raised
    # A fold is a crease where neighbouring triangles face opposite ways.
    n = posed.face_normals
    pairs = posed.face_adjacency
    assert ((n[pairs[:, 0]] * n[pairs[:, 1]]).sum(axis=1) < -0.2).sum() == 0
    assert posed.volume == pytest.approx(rest.volume, rel=0.02)
