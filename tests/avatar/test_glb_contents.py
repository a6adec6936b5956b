"""What a client finds in the GLBs: a Mixamo-style skeleton, skin, material colour, texture
coordinates, morph targets, and the same content in the plain, compressed and light files."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest

from workers.avatar import SLIDERS, AvatarBuild, build_avatar

MIXAMO = {
    "Hips": None, "Spine": "Hips", "Spine1": "Spine", "Spine2": "Spine1", "Neck": "Spine2",
    "Head": "Neck", "HeadTop_End": "Head",
    **{f"{s}Shoulder": "Spine2" for s in ("Left", "Right")},
    **{f"{s}Arm": f"{s}Shoulder" for s in ("Left", "Right")},
    **{f"{s}ForeArm": f"{s}Arm" for s in ("Left", "Right")},
    **{f"{s}Hand": f"{s}ForeArm" for s in ("Left", "Right")},
    **{f"{s}UpLeg": "Hips" for s in ("Left", "Right")},
    **{f"{s}Leg": f"{s}UpLeg" for s in ("Left", "Right")},
    **{f"{s}Foot": f"{s}Leg" for s in ("Left", "Right")},
    **{f"{s}ToeBase": f"{s}Foot" for s in ("Left", "Right")},
}  # fmt: skip


def _joints(glb: object) -> tuple[dict[str, np.ndarray], dict[str, str | None]]:
    doc = glb.doc  # type: ignore[attr-defined]
    world = glb.node_world()  # type: ignore[attr-defined]
    skin = doc["skins"][0]
    parent = {c: i for i, n in enumerate(doc["nodes"]) for c in n.get("children", [])}
    pos = {doc["nodes"][j]["name"]: world[j][:3, 3] for j in skin["joints"]}
    up = {
        doc["nodes"][j]["name"]: (doc["nodes"][parent[j]]["name"] if j in parent else None)
        for j in skin["joints"]
    }
    return pos, up


def _canonical(faces: np.ndarray) -> np.ndarray:
    """Each triangle rotated to start at its smallest index (the meshopt codec may rotate
    triangles; it keeps their winding)."""
    k = faces.argmin(axis=1)[:, None]
    return np.take_along_axis(faces, (k + np.arange(3)) % 3, axis=1)


def test_mixamo_skeleton_skin_and_material(
    avatars: Callable[[int], AvatarBuild], bodies: tuple, gltf: SimpleNamespace
) -> None:
    a = avatars(1)
    glb = gltf.read(a.glb)
    doc = glb.doc
    pos, up = _joints(glb)
    assert {name: up[name] for name in MIXAMO} == MIXAMO  # names and hierarchy, by name
    prim = glb.primitive
    weights = glb.accessor(prim["attributes"]["WEIGHTS_0"])
    joints = glb.accessor(prim["attributes"]["JOINTS_0"])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert joints.max() < len(doc["skins"][0]["joints"])
    # Joints sit inside the body where their names say.
    assert pos["LeftFoot"][1] < pos["LeftLeg"][1] < pos["LeftUpLeg"][1] < pos["Hips"][1]
    assert pos["Hips"][1] < pos["Spine"][1] < pos["Spine1"][1] < pos["Spine2"][1]
    assert pos["Spine2"][1] < pos["Neck"][1] < pos["Head"][1] < pos["HeadTop_End"][1]
    assert pos["HeadTop_End"][1] == pytest.approx(a.requested["height"] / 100, abs=0.01)
    assert 0 < pos["LeftShoulder"][0] < pos["LeftArm"][0] < pos["LeftForeArm"][0]
    assert pos["LeftForeArm"][0] < pos["LeftHand"][0]
    assert pos["LeftHand"][1] < pos["LeftArm"][1]
    wrist = np.array(a.landmarks["arm_length"]["to"])
    assert np.linalg.norm(pos["LeftHand"] - wrist) < 0.05  # the hand joint is at the wrist
    assert pos["LeftToeBase"][2] > pos["LeftFoot"][2] + 0.08  # toes forward of the ankle
    assert pos["LeftToeBase"][1] < 0.05 < pos["LeftFoot"][1]
    for name in MIXAMO:
        if name.startswith("Left"):
            mirror = pos["Right" + name.removeprefix("Left")]
            np.testing.assert_allclose(mirror, pos[name] * [-1, 1, 1], atol=1e-6)
    # Every deforming joint carries vertices; hands and feet are skinned to their own joints.
    verts = glb.positions()
    names = [doc["nodes"][j]["name"] for j in doc["skins"][0]["joints"]]
    main = np.array(names)[joints[np.arange(len(joints)), weights.argmax(axis=1)].astype(int)]
    used = {names[int(j)] for j in joints[weights > 0.25]}
    assert used >= set(MIXAMO) - {"HeadTop_End"}
    assert set(main[verts[:, 0] > verts[:, 0].max() - 0.05]) == {"LeftHand"}
    toes = (verts[:, 2] > verts[:, 2].max() - 0.02) & (verts[:, 0] > 0)
    assert set(main[toes]) == {"LeftToeBase"}
    # The colour is the skin tone, as a linear glTF base colour.
    tone = bodies[1][1]["skin_tone"]
    srgb = np.array([int(tone[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    base = doc["materials"][prim["material"]]["pbrMetallicRoughness"]["baseColorFactor"]
    np.testing.assert_allclose(base, [*linear, 1.0], atol=1e-6)


def test_texture_coordinates_unroll_each_part_once(
    avatars: Callable[[int], AvatarBuild], gltf: SimpleNamespace
) -> None:
    a = avatars(2)
    for data in (a.glb, a.glb_lod):
        glb = gltf.read(data)
        uv = glb.accessor(glb.primitive["attributes"]["TEXCOORD_0"])
        faces = glb.faces()
        assert uv.min() >= 0 and uv.max() <= 1
        t = uv[faces]
        area = 0.5 * np.abs(
            (t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1])
            - (t[:, 1, 1] - t[:, 0, 1]) * (t[:, 2, 0] - t[:, 0, 0])
        )
        assert (area < 1e-9).mean() < 0.005  # hardly any triangle collapses (at the poles)
        assert 0.35 < area.sum() < 1.0  # islands fill the atlas without piling up
        # Texel density is about even: texture area per surface area within a few x.
        p = glb.positions()[faces]
        surface = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
        ratio = area / surface
        lo, hi = np.percentile(ratio, [5, 95])
        assert hi / lo < 6
        # No two triangles overlap much: rasterise the atlas and count texels hit twice.
        size = 512
        hits = np.zeros((size, size), dtype=np.int32)
        for tri in (t * size).astype(np.float64)[:: 1 if len(faces) < 8000 else 2]:
            c = tri.mean(axis=0).astype(int).clip(0, size - 1)
            hits[c[1], c[0]] += 1
        assert (hits > 2).mean() < 0.002


def test_compressed_plain_and_light_files_hold_the_same_body(
    avatars: Callable[[int], AvatarBuild], gltf: SimpleNamespace
) -> None:
    a = avatars(2)
    plain, packed, lod = gltf.read(a.glb_plain), gltf.read(a.glb), gltf.read(a.glb_lod)
    assert packed.doc["extensionsRequired"] == ["KHR_mesh_quantization", "EXT_meshopt_compression"]
    assert plain.doc["extensionsRequired"] == ["KHR_mesh_quantization"]
    assert len(a.glb) < len(a.glb_plain) / 2.5
    for name in ("POSITION", "TEXCOORD_0", "NORMAL", "JOINTS_0", "WEIGHTS_0"):
        x = plain.accessor(plain.primitive["attributes"][name])
        y = packed.accessor(packed.primitive["attributes"][name])
        tol = {"POSITION": 2.5e-4, "TEXCOORD_0": 2.5e-4, "NORMAL": 0.05}.get(name, 0)
        np.testing.assert_allclose(x, y, atol=tol, err_msg=name)
    np.testing.assert_array_equal(_canonical(plain.faces()), _canonical(packed.faces()))
    for k in range(len(SLIDERS)):
        x = plain.accessor(plain.primitive["targets"][k]["POSITION"])
        y = packed.accessor(packed.primitive["targets"][k]["POSITION"])
        np.testing.assert_allclose(x, y, atol=1.3e-4)  # meshopt's filter: 10 mantissa bits
    # The light mesh: a quarter of the vertices, on the same surface, same skeleton and targets.
    full, light = packed.positions(), lod.positions()
    assert len(light) < len(full) / 3
    assert np.abs(light.min(axis=0) - full.min(axis=0)).max() < 0.01
    assert np.abs(light.max(axis=0) - full.max(axis=0)).max() < 0.01
    (lod_pos, lod_up), (pos, up) = _joints(lod), _joints(packed)
    assert lod_up == up
    for name, p in pos.items():
        np.testing.assert_allclose(lod_pos[name], p, atol=1e-6)
    assert lod.doc["meshes"][0]["extras"]["targetNames"] == list(SLIDERS)


def test_morph_target_names_and_ranges(
    avatars: Callable[[int], AvatarBuild], gltf: SimpleNamespace
) -> None:
    a = avatars(2)
    glb = gltf.read(a.glb)
    extras = glb.doc["meshes"][0]["extras"]
    assert extras["targetNames"] == list(SLIDERS) == a.morph_target_names
    assert len(glb.primitive["targets"]) == len(SLIDERS)
    assert set(extras["targetRangesCm"]) == set(SLIDERS)
    # Weight 1 moves the slider's own measurement by about its whole range.
    response = np.array(a.params["slider_response_cm"])
    from workers.avatar.measure import MEASUREMENTS

    for k, name in enumerate(SLIDERS):
        own = response[k, MEASUREMENTS.index(name)]
        assert own == pytest.approx(extras["targetRangesCm"][name], rel=0.1), name
        delta = glb.accessor(glb.primitive["targets"][k]["POSITION"])
        assert 0.004 < np.abs(delta).max() < 0.1, name  # millimetres per cm, not a grid


def test_same_input_gives_identical_output() -> None:
    m = {"height": 171.0, "waist": 80.0, "hips": 98.0}
    c = {"body_shape": "neutral", "skin_tone": "#a1665e", "posture": "upright"}
    one, two = build_avatar(m, c), build_avatar(m, c)
    assert (one.glb, one.glb_plain, one.glb_lod) == (two.glb, two.glb_plain, two.glb_lod)
    assert one.preview_png == two.preview_png
    assert one.params == two.params and one.landmarks == two.landmarks


def test_posing_a_joint_moves_only_its_limb(
    avatars: Callable[[int], AvatarBuild], gltf: SimpleNamespace
) -> None:
    # Bend the left elbow 60 degrees about the forward axis through the skin, as a client would.
    a = avatars(5)
    glb = gltf.read(a.glb)
    rest = glb.positions()
    elbow = next(i for i, n in enumerate(glb.doc["nodes"]) if n.get("name") == "LeftForeArm")
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
