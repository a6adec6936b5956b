"""What a client finds in the GLB: skeleton, skin, material colour, morph targets, quantization."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest

from workers.avatar import SLIDERS, AvatarBuild, build_avatar

REQUIRED_JOINTS = {
    "hips", "spine", "chest", "neck", "head", "shoulder_l", "elbow_l", "wrist_l", "shoulder_r",
    "elbow_r", "wrist_r", "hip_l", "knee_l", "ankle_l", "hip_r", "knee_r", "ankle_r",
}  # fmt: skip


def test_skeleton_skin_and_material(
    avatars: Callable[[int], AvatarBuild], bodies: tuple, gltf: SimpleNamespace
) -> None:
    a = avatars(1)
    glb = gltf.read(a.glb)
    doc = glb.doc
    skin = doc["skins"][0]
    names = {doc["nodes"][j]["name"] for j in skin["joints"]}
    assert names == REQUIRED_JOINTS
    prim = glb.primitive
    weights = glb.accessor(prim["attributes"]["WEIGHTS_0"])
    joints = glb.accessor(prim["attributes"]["JOINTS_0"])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert joints.max() < len(skin["joints"])
    # Joints sit inside the body: the knee is between hip and ankle, elbows out from shoulders.
    world = glb.node_world()
    pos = {doc["nodes"][j]["name"]: world[j][:3, 3] for j in skin["joints"]}
    assert pos["ankle_l"][1] < pos["knee_l"][1] < pos["hip_l"][1] < pos["chest"][1] < pos["head"][1]
    assert pos["shoulder_l"][0] < pos["elbow_l"][0] < pos["wrist_l"][0]
    assert pos["wrist_l"][1] < pos["shoulder_l"][1]
    np.testing.assert_allclose(pos["elbow_r"], pos["elbow_l"] * [-1, 1, 1], atol=1e-6)
    # The colour is the skin tone, as a linear glTF base colour.
    tone = bodies[1][1]["skin_tone"]
    srgb = np.array([int(tone[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    base = doc["materials"][prim["material"]]["pbrMetallicRoughness"]["baseColorFactor"]
    np.testing.assert_allclose(base, [*linear, 1.0], atol=1e-6)


def test_quantized_accessors_and_morph_target_names(
    avatars: Callable[[int], AvatarBuild], gltf: SimpleNamespace
) -> None:
    a = avatars(2)
    glb = gltf.read(a.glb)
    prim = glb.primitive
    acc = glb.doc["accessors"]
    assert acc[prim["attributes"]["POSITION"]]["componentType"] == 5122  # SHORT
    assert acc[prim["attributes"]["NORMAL"]]["componentType"] == 5120  # BYTE
    assert glb.doc["meshes"][0]["extras"]["targetNames"] == list(SLIDERS) == a.morph_target_names
    assert len(prim["targets"]) == len(SLIDERS)
    # A naive reader can de-quantize with the numbers in extras, and gets the skinned result.
    deq = glb.doc["meshes"][0]["extras"]["dequantize"]
    raw = glb.accessor(prim["attributes"]["POSITION"])
    np.testing.assert_allclose(deq["offset"] + deq["scale"] * raw, glb.positions(), atol=1e-6)


def test_same_input_gives_identical_output() -> None:
    m = {"height": 171.0, "waist": 80.0, "hips": 98.0}
    c = {"body_shape": "neutral", "skin_tone": "#a1665e", "posture": "upright"}
    one, two = build_avatar(m, c), build_avatar(m, c)
    assert one.glb == two.glb
    assert one.preview_png == two.preview_png
    assert one.params == two.params and one.landmarks == two.landmarks


def test_posing_a_joint_moves_only_its_limb(
    avatars: Callable[[int], AvatarBuild], gltf: SimpleNamespace
) -> None:
    # Bend the left elbow 60 degrees about the forward axis through the skin, as a client would.
    a = avatars(5)
    glb = gltf.read(a.glb)
    rest = glb.positions()
    elbow = next(i for i, n in enumerate(glb.doc["nodes"]) if n.get("name") == "elbow_l")
    half = np.radians(60) / 2
    glb.doc["nodes"][elbow]["rotation"] = [0.0, 0.0, float(np.sin(half)), float(np.cos(half))]
    posed = glb.positions()
    moved = np.linalg.norm(posed - rest, axis=1)
    hand = rest[:, 0] > rest[:, 0].max() - 0.05
    head = rest[:, 1] > 0.9 * rest[:, 1].max()
    right_side = rest[:, 0] < -0.05
    assert moved[hand].min() > 0.1  # the fingertips swing by tens of centimetres
    assert moved[head].max() < 1e-6 and moved[right_side].max() < 1e-6
    # The forearm keeps its length: skinning is rigid far from the joint.
    wrist = np.array(a.landmarks["arm_length"]["to"])
    k = np.linalg.norm(rest - wrist, axis=1).argmin()
    centre = glb.node_world()[elbow][:3, 3]
    assert np.linalg.norm(posed[k] - centre) == pytest.approx(
        np.linalg.norm(rest[k] - centre), rel=0.02
    )
