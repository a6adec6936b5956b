"""Texture coordinates and the vertex order of the exported mesh.

Every body part is one island of a fixed atlas, unrolled like a sleeve: u goes around the part's
axis (the seam at the back of torso and head, under the arms, inside the legs and along the
soles), v along it (head up, limbs from the body outwards). Islands are sized by the reference
body's girth and length, so texels cover every part about equally. Coordinates are computed once
on the reference body and are the same for every avatar, so one texture fits them all.

A vertex on a seam or between two islands has two texture coordinates, so it is written twice
(with the same position, normal and weights: shading stays smooth across seams). Vertices and
triangles are then put in the order meshoptimizer's vertex cache and fetch optimisers choose,
which is also the order that compresses best.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import meshopt
import numpy as np

from workers.avatar.body import layout_for, mesh_vertices, reference_cm, reference_params
from workers.avatar.topology import level, topology

PAD = 0.012  # atlas units between islands
# Islands in rows, top of the atlas first; feet are stacked in one column.
ROWS = (("head", "torso", ("foot_l", "foot_r")), ("arm_r", "leg_r", "leg_l", "arm_l"))


@dataclass(frozen=True)
class VertexLayout:
    src: np.ndarray  # (V,) body vertex written at each place
    faces: np.ndarray  # (F, 3) triangles over written vertices
    uvs: np.ndarray  # (V, 2) in [0, 1], v downwards (glTF)

    @property
    def count(self) -> int:
        return len(self.src)


@dataclass(frozen=True)
class _Axis:
    origin: np.ndarray
    along: np.ndarray  # unit, the direction v grows in
    front: np.ndarray  # unit, square to `along`: u = 0.5 there, the seam opposite
    mirror: bool = False  # right-side parts unroll as mirror images of the left ones


def _island(tag: str) -> str:
    part, ring = tag.split(":")
    if part == "neck":
        return "head"
    if part.startswith("leg") and ring in ("heel", "midfoot", "ball", "cap"):
        return "foot" + part[3:]
    return part


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _square(v: np.ndarray, to: np.ndarray) -> np.ndarray:
    return _unit(v - v.dot(to) * to)


def _axes(verts: np.ndarray) -> dict[str, _Axis]:
    topo = topology()

    def centre(ring: str) -> np.ndarray:
        ids = topo.rings[ring]
        return verts[ids[ids >= 0]].mean(axis=0)

    up, fwd, side = np.eye(3)[1], np.eye(3)[2], np.eye(3)[0]
    down = -up
    top = verts[verts[:, 1].argmax()]
    axes = {
        "head": _Axis(top * [1, 0, 1], down, fwd),
        "torso": _Axis(centre("shoulder") * [0, 1, 1], down, fwd),
    }
    shoulder = centre("deltoid_l")
    along = _unit(verts[topo.caps["hand_l"]] - shoulder)
    axes["arm_l"] = _Axis(shoulder, along, _square(up, along))
    hip, ankle = centre("thigh_l"), centre("ankle_l")
    along = _unit(ankle - hip)
    axes["leg_l"] = _Axis(hip, along, _square(side, along))  # seam on the inner side
    heel, toe = centre("heel_l"), verts[topo.caps["foot_l"]]
    along = _unit(toe - heel)
    axes["foot_l"] = _Axis(heel, along, _square(up, along))  # seam along the sole
    for name in ("arm", "leg", "foot"):
        a = axes[f"{name}_l"]
        axes[f"{name}_r"] = _Axis(a.origin, a.along, a.front, mirror=True)
    return axes


def _cylinder(points: np.ndarray, axis: _Axis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(angle around the axis, distance along it, distance from it) of points."""
    if axis.mirror:
        points = points * [-1, 1, 1]
    r = points - axis.origin
    t = r @ axis.along
    across = np.cross(axis.along, axis.front)
    x, y = r @ axis.front, r @ across
    return np.arctan2(y, x), t, np.hypot(x, y)


@cache
def vertex_layout(levels: int) -> VertexLayout:
    """The written vertices, triangles and texture coordinates of one subdivision level."""
    lay = layout_for("neutral", "relaxed", reference_cm("neutral"))
    verts = mesh_vertices(reference_params("neutral"), lay)
    lv = level(levels)
    topo = topology()
    island = np.array([_island(t) for t in topo.face_tag])[lv.face_parent]
    axes = _axes(verts)

    n_faces = len(lv.faces)
    corner_angle = np.zeros((n_faces, 3))
    corner_t = np.zeros((n_faces, 3))
    turn = np.zeros((n_faces, 3), dtype=np.int64)
    pole = np.zeros((n_faces, 3), dtype=bool)
    sizes: dict[str, tuple[float, float]] = {}
    spans: dict[str, tuple[float, float]] = {}
    for name, axis in axes.items():
        tri = np.flatnonzero(island == name)
        corners = lv.faces[tri]
        ang, t, rad = _cylinder(verts[corners.ravel()], axis)
        ang, t, rad = ang.reshape(-1, 3), t.reshape(-1, 3), rad.reshape(-1, 3)
        mid, _, _ = _cylinder(verts[corners].mean(axis=1), axis)
        # Unroll each triangle on the side of the seam its centre is on.
        k = np.round((mid[:, None] - ang) / (2 * np.pi)).astype(np.int64)
        at_pole = rad < 0.05 * np.median(rad)
        corner_angle[tri] = np.where(at_pole, mid[:, None], ang + 2 * np.pi * k)
        turn[tri], pole[tri], corner_t[tri] = k, at_pole, t
        spans[name] = (float(t.min()), float(t.max()))
        sizes[name] = (2 * np.pi * float(np.median(rad)), spans[name][1] - spans[name][0])

    rects = _pack(sizes)
    u = np.zeros((n_faces, 3))
    v = np.zeros((n_faces, 3))
    for name, (u0, v0, w, h) in rects.items():
        tri = island == name
        lo, hi = spans[name]
        u[tri] = u0 + w * (0.5 + corner_angle[tri] / (2 * np.pi))
        v[tri] = v0 + h * (corner_t[tri] - lo) / (hi - lo)

    # One written vertex per (body vertex, island, unrolling turn); pole corners each get theirs.
    names = sorted(rects)
    island_id = np.searchsorted(names, island)[:, None] * np.ones(3, dtype=np.int64)
    own = np.where(pole, np.arange(n_faces)[:, None] * 3 + np.arange(3), -1)
    keys = np.stack([lv.faces.ravel(), island_id.ravel(), turn.ravel(), own.ravel()], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    faces = inverse.reshape(-1, 3).astype(np.uint32)
    src = lv.faces.ravel()[first]
    uvs = np.stack([u.ravel()[first], v.ravel()[first]], axis=1)

    indices, remap, unique = meshopt.reorder_mesh(faces.ravel(), triangles=True, optsize=False)
    order = np.argsort(remap, kind="stable")[:unique]
    return VertexLayout(
        src=src[order].astype(np.int64),
        faces=indices.reshape(-1, 3).astype(np.int64),
        uvs=np.clip(uvs[order], 0.0, 1.0),
    )


def _pack(sizes: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float, float, float]]:
    """(u0, v0, width, height) of each island: ROWS laid out at one scale that fills the atlas."""

    def extent(cell: str | tuple[str, ...]) -> tuple[float, float]:
        if isinstance(cell, tuple):
            ws, hs = zip(*(sizes[c] for c in cell), strict=True)
            return max(ws), sum(hs)
        return sizes[cell]

    row_w = [sum(extent(c)[0] for c in row) for row in ROWS]
    row_h = [max(extent(c)[1] for c in row) for row in ROWS]
    n_gaps_w = max(len(row) for row in ROWS) + 1
    scale = min(
        (1 - PAD * n_gaps_w) / max(row_w),
        (1 - PAD * (len(ROWS) + 1) - PAD * 1) / sum(row_h),
    )
    rects: dict[str, tuple[float, float, float, float]] = {}
    y = PAD
    for row, height in zip(ROWS, row_h, strict=True):
        x = PAD
        for cell in row:
            cells = cell if isinstance(cell, tuple) else (cell,)
            yy = y
            for name in cells:
                w, h = sizes[name]
                rects[name] = (x, yy, w * scale, h * scale)
                yy += h * scale + PAD
            x += extent(cell)[0] * scale + PAD
        y += height * scale + PAD
    return rects
