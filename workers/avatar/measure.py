"""Tape measurements on the mesh, and where each one was taken.

Circumference = perimeter of the convex hull of one closed loop of the mesh's cross-section by a
plane, i.e. what a tape pulled around that body part reads (it bridges hollows such as the gap
between the breasts). The plane is horizontal (normal +Y) for the torso, neck and legs. The upper
arm hangs about 40 degrees below horizontal in the A-pose, so a horizontal cut through it is an
oblique ellipse 25-30% longer than a tape around the arm; its tape is taken square to the
upper-arm axis instead, and its landmark reports that normal. (For a horizontal upper-arm tape:
along_arm=False and add "arm_l:deltoid" to its bands; the fit follows either definition.)

Each plane passes through the centroid of the fine-mesh vertices of one cage ring (the model's
landmark for that measurement); that point lies inside the intended loop, so any checker can cut
the mesh with the plane and keep the loop around the point.

Lengths are straight distances between landmark vertices:
- height: top of the head to the floor (y = 0) straight below it;
- inseam: the crotch (middle of the crotch seam) to the floor below it;
- shoulder_width: left acromion to right acromion (top of the shoulder where the arm begins);
- arm_length: left acromion to the back of the left wrist, in a straight line (the arm hangs
  almost straight, so this is within ~0.5% of the path over the elbow).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull

from workers.avatar.topology import ARM_TOP, topology

MEASUREMENTS = (
    "height", "inseam", "shoulder_width", "arm_length", "bust", "underbust",
    "waist", "hips", "neck", "thigh", "upper_arm", "calf",
)  # fmt: skip
LENGTHS = MEASUREMENTS[:4]


@dataclass(frozen=True)
class Tape:
    ring: str  # cage ring whose fine vertices define the plane
    bands: tuple[str, ...]  # cage bands the loop runs through (for the fast path)
    along_arm: bool = False  # plane square to the upper arm instead of horizontal


TAPES = {
    "bust": Tape("bust", ("torso:underbust", "torso:bust")),
    "underbust": Tape("underbust", ("torso:ribs", "torso:underbust")),
    "waist": Tape("waist", ("torso:high_hip", "torso:waist")),
    "hips": Tape("hips", ("torso:junction", "torso:hips")),
    "neck": Tape("neck", ("neck:neck_base", "neck:neck")),
    "thigh": Tape("thigh_l", ("leg_l:thigh", "leg_l:mid_thigh")),
    "upper_arm": Tape("upper_arm_l", ("arm_l:upper_arm", "arm_l:elbow"), along_arm=True),
    "calf": Tape("calf_l", ("leg_l:calf", "leg_l:low_calf")),
}


class MeasureError(RuntimeError):
    """The mesh has no closed loop around a landmark (a malformed body)."""


@dataclass(frozen=True)
class _Band:
    verts: np.ndarray  # fine vertices touched by the band's edges
    edges: np.ndarray  # (E, 2) band edges as indices into `verts`


@dataclass(frozen=True)
class _Points:
    acromion_l: int
    acromion_r: int
    wrist_l: int
    crotch: int
    ring_ids: dict[str, np.ndarray]
    bands: dict[str, _Band]


@cache
def _points() -> _Points:
    topo = topology()
    shoulder = topo.rings["shoulder"]
    ring_ids = {}
    bands = {}
    for name, tape in TAPES.items():
        ids = topo.rings[tape.ring]
        ring_ids[name] = ids[ids >= 0]
        edges = topo.edges[np.unique(topo.face_edges[topo.band_faces(*tape.bands)])]
        verts, local = np.unique(edges, return_inverse=True)
        bands[name] = _Band(verts=verts, edges=local.reshape(-1, 2))
    return _Points(
        acromion_l=int(shoulder[4]),
        acromion_r=int(shoulder[12]),
        wrist_l=int(topo.rings["wrist_l"][ARM_TOP]),
        crotch=int(topo.seam[1]),
        ring_ids=ring_ids,
        bands=bands,
    )


def plane_basis(normal: np.ndarray) -> np.ndarray:
    """(2, 3) orthonormal in-plane axes (for a horizontal plane: x and -z)."""
    n = np.asarray(normal, dtype=np.float64)
    ref = np.array([0.0, 0.0, 1.0]) if abs(n[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = _cross(n, ref)
    e1 /= np.sqrt(e1 @ e1)
    return np.stack([e1, _cross(n, e1)])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # np.cross has a large fixed cost; this runs inside the fit loop.
    return np.array(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    )


def tape_plane(verts: np.ndarray, name: str, arm_dir: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(origin, unit normal) of a circumference's plane."""
    origin = verts[_points().ring_ids[name]].mean(axis=0)
    normal = arm_dir / np.linalg.norm(arm_dir) if TAPES[name].along_arm else _UP
    return origin, normal


_UP = np.array([0.0, 1.0, 0.0])


# Small products through einsum, not BLAS: threaded BLAS calls stall for milliseconds when the
# other core is busy, and these run in the fit and live-update loops.
def _dot(points: np.ndarray, direction: np.ndarray) -> np.ndarray:
    return np.einsum("ij,j->i", points, direction)


def _project(points: np.ndarray, basis: np.ndarray) -> np.ndarray:
    return np.einsum("ij,kj->ik", points, basis)


def _edge_points(verts: np.ndarray, d: np.ndarray, edge_ids: np.ndarray) -> np.ndarray:
    a, b = topology().edges[edge_ids].T
    t = d[a] / (d[a] - d[b])
    return verts[a] + t[:, None] * (verts[b] - verts[a])


def hull_perimeter(points_2d: np.ndarray) -> float:
    return float(ConvexHull(points_2d).area)  # in 2-D, "area" is the perimeter


def circumference_fast(verts: np.ndarray, name: str, arm_dir: np.ndarray) -> float:
    """Circumference using only the landmark's own bands (one loop by construction)."""
    origin, normal = tape_plane(verts, name, arm_dir)
    band = _points().bands[name]
    v = verts[band.verts] - origin
    d = _dot(v, normal)
    a, b = band.edges[(d[band.edges[:, 0]] >= 0) != (d[band.edges[:, 1]] >= 0)].T
    t = (d[a] / (d[a] - d[b]))[:, None]
    pts = v[a] + t * (v[b] - v[a])
    return hull_perimeter(_project(pts, plane_basis(normal)))


def section_loop(verts: np.ndarray, origin: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """3-D points of the closed section loop (whole mesh) that encloses `origin`.

    Loops are the connected components of the crossing segments; the enclosing one is found by
    ray-crossing parity in the plane. Raises MeasureError if no loop encloses the origin.
    """
    topo = topology()
    d = _dot(verts - origin, normal)
    above = d >= 0
    crosses = above[topo.edges[:, 0]] != above[topo.edges[:, 1]]
    fe = topo.face_edges
    tri = np.flatnonzero(crosses[fe].any(axis=1))
    pair = fe[tri][crosses[fe[tri]]].reshape(-1, 2)  # the two crossing edges of each triangle
    nodes, local = np.unique(pair, return_inverse=True)
    local = local.reshape(-1, 2)
    graph = coo_matrix((np.ones(len(local)), (local[:, 0], local[:, 1])), (len(nodes), len(nodes)))
    n_loops, label = connected_components(graph, directed=False)

    basis = plane_basis(normal)
    pts = _edge_points(verts, d, nodes)
    uv = _project(pts - origin, basis)
    p, q = uv[local[:, 0]], uv[local[:, 1]]
    straddle = (p[:, 1] > 0) != (q[:, 1] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = p[:, 0] + (0 - p[:, 1]) * (q[:, 0] - p[:, 0]) / (q[:, 1] - p[:, 1])
    hits = np.bincount(label[local[:, 0]][straddle & (x_at > 0)], minlength=n_loops)
    enclosing = np.flatnonzero(hits % 2 == 1)
    if len(enclosing) == 0:
        raise MeasureError("no closed loop encloses the landmark")
    # Nested loops cannot happen on a body, but if they did the innermost one is the tape's.
    best = min(enclosing, key=lambda k: hull_perimeter(uv[label == k]))
    return pts[label == best]


def lengths(verts: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Landmark segments (from, to) of the length measurements."""
    pt = _points()
    top = verts[np.argmax(verts[:, 1])]
    crotch = verts[pt.crotch]
    return {
        "height": (top, top * [1, 0, 1]),
        "inseam": (crotch, crotch * [1, 0, 1]),
        "shoulder_width": (verts[pt.acromion_r], verts[pt.acromion_l]),
        "arm_length": (verts[pt.acromion_l], verts[pt.wrist_l]),
    }


def measure_fast(verts: np.ndarray, arm_dir: np.ndarray) -> np.ndarray:
    """All measurements in metres, in MEASUREMENTS order; used inside the fit."""
    out = np.empty(len(MEASUREMENTS))
    for i, (a, b) in enumerate(lengths(verts).values()):
        out[i] = np.linalg.norm(b - a)
    for i, name in enumerate(MEASUREMENTS[4:], start=4):
        out[i] = circumference_fast(verts, name, arm_dir)
    return out


def measure(verts: np.ndarray, arm_dir: np.ndarray) -> tuple[dict[str, float], dict[str, dict]]:
    """Measurements in cm and their landmarks, cutting the whole mesh like an outside checker."""
    values: dict[str, float] = {}
    marks: dict[str, dict] = {}
    for name, (a, b) in lengths(verts).items():
        values[name] = float(np.linalg.norm(b - a)) * 100.0
        marks[name] = {"kind": "length", "from": _xyz(a), "to": _xyz(b), "value_cm": values[name]}
    for name in MEASUREMENTS[4:]:
        origin, normal = tape_plane(verts, name, arm_dir)
        loop = section_loop(verts, origin, normal)
        values[name] = hull_perimeter(_project(loop - origin, plane_basis(normal))) * 100.0
        marks[name] = {
            "kind": "circumference",
            "origin": _xyz(origin),
            "normal": _xyz(normal),
            "value_cm": values[name],
        }
    return values, marks


def _xyz(v: np.ndarray) -> list[float]:
    return [round(float(c), 6) for c in v]
