"""The fit map: how much room a garment size leaves at each vertex of the avatar, coloured from
tight (red) through fitting (green) to loose (blue), as a GLB variant with vertex colours
(COLOR_0) and a PNG preview, or as the per-vertex ease alone for a client that already holds
the mesh (the live session).

Pure numerics, no I/O. Each vertex belongs to the body part of its strongest skin joint; a
garment covers some parts (a top: torso above the hips, shoulders, upper arms; trousers: torso
below the waist and the legs). Over the torso the ease is interpolated in height between the
tapes (hips, waist, underbust, bust) at the heights where the avatar's own tapes lie; a limb
takes its own girth's ease (thigh, calf, upper arm) or the nearest torso one.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from drape import fit
from workers.avatar.body import arm_frame, cage_positions, mesh_vertices, vertex_normals
from workers.avatar.build import layout_from_params
from workers.avatar.glb import GlbMesh, Skeleton, write_glb
from workers.avatar.measure import tape_plane
from workers.avatar.preview import render_preview
from workers.avatar.skeleton import JOINT_NAMES, JOINT_PARENTS, joint_positions, skin_weights
from workers.avatar.topology import SUBDIV_LEVELS
from workers.avatar.uv import vertex_layout

TORSO_TAPES = ("hips", "waist", "underbust", "bust")  # bottom to top
SCALE_CM = 6.0  # ease at which the colour is fully tight or fully loose
TIGHT_RGB = np.array([0.80, 0.05, 0.04])  # linear
FITS_RGB = np.array([0.08, 0.55, 0.12])
LOOSE_RGB = np.array([0.04, 0.18, 0.80])
BARE_RGB = np.array([0.62, 0.62, 0.64])  # not covered by the garment

_PART = {
    "Hips": "torso", "Spine": "torso", "Spine1": "torso", "Spine2": "torso", "Neck": "neck",
    "Head": "head", "HeadTop_End": "head",
    **{f"{s}{j}": p for s in ("Left", "Right") for j, p in (
        ("Shoulder", "shoulder"), ("Arm", "upper_arm"), ("ForeArm", "forearm"), ("Hand", "hand"),
        ("UpLeg", "thigh"), ("Leg", "shin"), ("Foot", "foot"), ("ToeBase", "foot"),
        ("Toe_End", "foot"))},
}  # fmt: skip
# Parts a garment covers, and how far the torso part runs: from (tape or None = all the way)
COVERAGE: dict[str, tuple[tuple[str, ...], str | None, str | None]] = {
    "tops": (("torso", "shoulder", "upper_arm"), "hips", None),
    "outerwear": (("torso", "shoulder", "upper_arm", "forearm"), None, None),
    "dresses": (("torso", "shoulder", "thigh"), None, None),
    "bottoms": (("torso", "thigh", "shin"), None, "waist"),
    "activewear": (("torso", "shoulder", "thigh"), None, None),
    "swimwear": (("torso",), "hips", "bust"),
}
SUBCATEGORY_COVERAGE: dict[str, tuple[tuple[str, ...], str | None, str | None]] = {
    "shorts": (("torso", "thigh"), None, "waist"),
    "skirt": (("torso", "thigh"), None, "waist"),
    "tank_top": (("torso",), "hips", None),
}
LIMB_TAPE = {"thigh": "thigh", "shin": "calf", "upper_arm": "upper_arm", "forearm": "upper_arm",
             "shoulder": "shoulder_width"}  # fmt: skip
LIMB_FALLBACK = {"thigh": "hips", "shin": "hips", "upper_arm": "bust", "forearm": "bust",
                 "shoulder": "bust"}  # fmt: skip


@dataclass(frozen=True)
class FitMap:
    ease_cm: np.ndarray  # (V,) per written GLB vertex; NaN where the garment does not cover
    colors: np.ndarray  # (V, 4) uint8 linear RGBA, what COLOR_0 holds


@dataclass(frozen=True)
class FitMapBuild:
    glb: bytes
    preview_png: bytes
    fit_map: FitMap


def _parts() -> np.ndarray:
    joints, weights = skin_weights()
    strongest = joints[np.arange(len(joints)), weights.argmax(axis=1)]
    names = np.array([_PART[JOINT_NAMES[j]] for j in range(len(JOINT_NAMES))])
    return names[strongest]


def vertex_ease(
    verts: np.ndarray,
    arm_dir: np.ndarray,
    dimensions: Mapping[str, float],
    category: str,
    subcategory: str | None = None,
) -> np.ndarray:
    """(V,) ease in cm per body vertex (the fine mesh's order); NaN where not covered.
    `dimensions` is the recommendation's ease_cm per measurement name."""
    parts_covered, low, high = SUBCATEGORY_COVERAGE.get(
        subcategory or "", COVERAGE.get(category, ((), None, None))
    )
    part = _parts()
    ease = np.full(len(verts), np.nan)
    y = verts[:, 1]
    tapes = [(float(tape_plane(verts, t, arm_dir)[0][1]), dimensions[t])
             for t in TORSO_TAPES if t in dimensions]  # fmt: skip
    if not tapes and not dimensions:
        return ease
    if not tapes:
        tapes = [(float(y.mean()), float(np.mean(list(dimensions.values()))))]
    heights = np.array([h for h, _ in tapes])
    order = np.argsort(heights)
    torso = part == "torso"
    if low is not None:
        torso &= y >= tape_plane(verts, low, arm_dir)[0][1] - 0.04
    if high is not None:
        torso &= y <= tape_plane(verts, high, arm_dir)[0][1] + 0.03
    if "torso" in parts_covered:
        values = np.array([e for _, e in tapes])
        ease[torso] = np.interp(y[torso], heights[order], values[order])
    for limb in parts_covered:
        if limb == "torso":
            continue
        tape = LIMB_TAPE[limb]
        value = dimensions.get(tape, dimensions.get(LIMB_FALLBACK[limb]))
        if value is None:
            value = float(np.mean([e for _, e in tapes]))
        ease[part == limb] = value
    return ease


def colours(ease: np.ndarray) -> np.ndarray:
    """(V, 4) uint8 linear RGBA: red (tight) - green (fits) - blue (loose); grey uncovered."""
    t = np.clip(np.nan_to_num(ease, nan=0.0) / SCALE_CM, -1.0, 1.0)[:, None]
    rgb = np.where(
        t < 0, FITS_RGB + (TIGHT_RGB - FITS_RGB) * -t, FITS_RGB + (LOOSE_RGB - FITS_RGB) * t
    )
    rgb[np.isnan(ease)] = BARE_RGB
    out = np.ones((len(ease), 4))
    out[:, :3] = rgb
    return np.round(out * 255).astype(np.uint8)


def live_vertices(
    params: Mapping[str, object], weights: Mapping[str, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """(fine-mesh vertices, upper-arm direction) of a build's params moved by live morph weights."""
    p0, lay = layout_from_params(params)
    if weights:
        steps = np.array(params["slider_params"], dtype=np.float64)
        sliders = list(params["sliders"])  # type: ignore[call-overload]
        w = np.array([float(weights.get(name, 0.0)) for name in sliders])
        p0 = p0 + w @ steps
    return mesh_vertices(p0, lay), arm_frame(p0, lay).d_upper


def fit_map(
    params: Mapping[str, object],
    rec: fit.Recommendation,
    category: str,
    subcategory: str | None = None,
    weights: Mapping[str, float] | None = None,
) -> FitMap:
    """The map of one recommendation on the avatar, in the GLB's written vertex order."""
    verts, arm_dir = live_vertices(params, weights)
    dims = {d.name: d.ease_cm for d in rec.dimensions}
    ease = vertex_ease(verts, arm_dir, dims, category, subcategory)[
        vertex_layout(SUBDIV_LEVELS).src
    ]
    return FitMap(ease, colours(ease))


def ease_b64(m: FitMap) -> str:
    """Per-vertex ease in half centimetres as int8 (-127..127; -128 where uncovered), base64."""
    q = np.clip(np.round(np.nan_to_num(m.ease_cm, nan=0.0) * 2), -127, 127).astype(np.int8)
    q[np.isnan(m.ease_cm)] = -128
    return base64.b64encode(q.tobytes()).decode()


def build_fit_map(
    params: Mapping[str, object],
    rec: fit.Recommendation,
    category: str,
    subcategory: str | None = None,
) -> FitMapBuild:
    """A GLB of the avatar coloured by the map (no morph targets: a still picture of one size)
    and its PNG preview."""
    p0, lay = layout_from_params(params)
    verts = mesh_vertices(p0, lay)
    arm_dir = arm_frame(p0, lay).d_upper
    dims = {d.name: d.ease_cm for d in rec.dimensions}
    ease_fine = vertex_ease(verts, arm_dir, dims, category, subcategory)
    vl = vertex_layout(SUBDIV_LEVELS)
    src = vl.src
    ease = ease_fine[src]
    cols = colours(ease)
    normals = vertex_normals(verts, _faces())
    joints, wts = skin_weights()
    skeleton = Skeleton(
        JOINT_NAMES, JOINT_PARENTS, joint_positions(p0, lay, cage_positions(p0, lay))
    )
    mesh = GlbMesh(
        positions=verts[src], normals=normals[src], uvs=vl.uvs, faces=vl.faces,
        skeleton=skeleton, joints=joints[src], weights=wts[src],
        base_color=(1.0, 1.0, 1.0, 1.0), extras={"fitScaleCm": SCALE_CM},
        name="body_fit", colors=cols,
    )  # fmt: skip
    fine_rgb = colours(ease_fine)[:, :3] / 255.0
    png = render_preview(verts, _faces(), "#ffffff", vertex_rgb=fine_rgb)
    return FitMapBuild(write_glb(mesh), png, FitMap(ease, cols))


def _faces() -> np.ndarray:
    from workers.avatar.topology import topology

    return topology().faces
