"""The body's fixed connectivity: a coarse all-quad control cage and its Catmull-Clark refinement.

Every avatar shares this topology; only vertex positions change with the measurements. That keeps
morph targets, skin weights and measuring bands valid for every body, and makes the fine mesh a
fixed linear map of the cage: ``fine = subdiv @ cage``.

The cage is a set of rings (tubes) joined without holes:
- torso rings of 16 vertices (index 0 = front centre, 4 = left side, 8 = back, 12 = right side);
- each leg starts from a loop made of half a torso ring plus a 3-vertex crotch seam (12 vertices),
  so the two legs share the seam edges;
- each arm starts from an 8-vertex hole cut into the side of the three top torso rings;
- neck and head continue the torso rings up to a cap; hands and feet end in caps.
Left-side parts are built explicitly; right-side parts are their mirror images, so the whole
topology (and so every fitted mesh) is exactly left/right symmetric.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

TORSO_N = 16
LEG_N = 12
ARM_N = 8
SUBDIV_LEVELS = 2

# Torso rings from the leg junction up to the neck base.
TORSO_RINGS = (
    "junction", "hips", "abdomen", "high_hip", "waist", "ribs",
    "underbust", "bust", "armpit", "shoulder_mid", "shoulder", "neck_base",
)  # fmt: skip
NECK_RINGS = ("neck", "neck_top")
HEAD_RINGS = ("jaw", "mouth", "nose", "eyes", "forehead")
LEG_RINGS = ("thigh", "mid_thigh", "knee", "calf", "low_calf", "ankle", "heel", "midfoot", "ball")
ARM_RINGS = ("deltoid", "upper_arm", "elbow", "forearm", "wrist", "palm", "fingers")

# Hole loop in arm-ring order: bottom-front, bottom, bottom-back, back, top-back, top, top-front,
# front. Arm ring index i sits at angle 135 + 45 i degrees around the arm (0 = up, 90 = front).
ARM_HOLE = (
    ("armpit", 3), ("armpit", 4), ("armpit", 5), ("shoulder_mid", 5),
    ("shoulder", 5), ("shoulder", 4), ("shoulder", 3), ("shoulder_mid", 3),
)  # fmt: skip
ARM_TOP = 5  # arm ring index on top of the arm (the acromion and dorsal wrist line)


@dataclass(frozen=True)
class Topology:
    n_cage: int
    cage_faces: np.ndarray  # (F0, 4) quads
    face_tag: np.ndarray  # (F0,) "part:ring" per cage face, e.g. "torso:bust", "leg_l:thigh"
    rings: dict[str, np.ndarray]  # ring name -> cage vertex ids (-1 where the arm hole is)
    seam: np.ndarray  # (3,) crotch seam vertices, front to back
    caps: dict[str, int]  # "head", "hand_l", "foot_l", ... -> cap centre vertex
    mirror: np.ndarray  # (n_cage,) id of the mirror-image vertex (itself on the mid plane)
    primary: np.ndarray  # bool (n_cage,): vertices whose position is computed, not mirrored
    subdiv: sp.csr_matrix  # (n_fine, n_cage)
    faces: np.ndarray  # (F, 3) fine triangles, counter-clockwise seen from outside
    face_parent: np.ndarray  # (F,) cage face of each fine triangle
    edges: np.ndarray  # (E, 2) unique fine edges
    face_edges: np.ndarray  # (F, 3) edge id of (v0v1, v1v2, v2v0)

    @property
    def n_fine(self) -> int:
        return int(self.subdiv.shape[0])

    def band_faces(self, *tags: str) -> np.ndarray:
        """Fine triangles refined from the cage faces with these tags."""
        return np.flatnonzero(np.isin(self.face_tag[self.face_parent], tags))

    def part_faces(self, part: str) -> np.ndarray:
        """Fine triangles of one part: "torso", "neck", "head", "leg_l", "arm_r", ..."""
        parts = np.array([t.split(":")[0] for t in self.face_tag])
        return np.flatnonzero(parts[self.face_parent] == part)


class _Cage:
    def __init__(self) -> None:
        self.n = 0
        self.faces: list[tuple[int, int, int, int]] = []
        self.tags: list[str] = []
        self.mirror: dict[int, int] = {}

    def new(self, k: int) -> np.ndarray:
        ids = np.arange(self.n, self.n + k)
        self.n += k
        return ids

    def band(self, lo: np.ndarray, hi: np.ndarray, tag: str) -> None:
        """Quads between two rings; `hi` is the ring further along the tube."""
        k = len(lo)
        for i in range(k):
            j = (i + 1) % k
            quad = (int(lo[i]), int(lo[j]), int(hi[j]), int(hi[i]))
            if min(quad) >= 0:
                self.faces.append(quad)
                self.tags.append(tag)

    def cap(self, ring: np.ndarray, tag: str) -> int:
        """Closes a ring (even length) with a fan of quads around one new centre vertex."""
        c = int(self.new(1)[0])
        k = len(ring)
        for i in range(0, k, 2):
            self.faces.append((int(ring[i]), int(ring[i + 1]), int(ring[(i + 2) % k]), c))
            self.tags.append(tag)
        return c


def _torso_mirror(ring: np.ndarray) -> dict[int, int]:
    return {
        int(ring[k]): int(ring[(TORSO_N - k) % TORSO_N]) for k in range(TORSO_N) if ring[k] >= 0
    }


def _build_cage() -> tuple[_Cage, dict[str, np.ndarray], np.ndarray, dict[str, int]]:
    cage = _Cage()
    rings: dict[str, np.ndarray] = {}
    for name in TORSO_RINGS + NECK_RINGS + HEAD_RINGS:
        ring = cage.new(TORSO_N)
        if name == "shoulder_mid":  # the arm holes swallow the side vertex of the middle ring
            ring = ring.copy()
            cage.n -= 2
            ring[4:] -= 1
            ring[13:] -= 1
            ring[4] = ring[12] = -1
        rings[name] = ring
        cage.mirror.update(_torso_mirror(ring))

    seam = cage.new(3)
    cage.mirror.update({int(s): int(s) for s in seam})

    spine = TORSO_RINGS + NECK_RINGS + HEAD_RINGS
    for lo, hi in pairwise(spine):
        part = (
            "head" if lo in HEAD_RINGS else "neck" if lo in ("neck_base", *NECK_RINGS) else "torso"
        )
        cage.band(rings[lo], rings[hi], f"{part}:{lo}")
    # band() skipped the 4 quads around each missing shoulder_mid vertex: those are the arm holes.

    caps: dict[str, int] = {"head": cage.cap(rings[HEAD_RINGS[-1]], "head:cap")}

    junction = rings["junction"]
    leg_loop_l = np.concatenate([junction[0:9], seam[::-1]])
    arm_loop_l = np.array([rings[r][c] for r, c in ARM_HOLE])

    for side, leg_loop, arm_loop in (
        ("l", leg_loop_l, arm_loop_l),
        ("r", _mirror_loop(cage, leg_loop_l, 8), _mirror_loop(cage, arm_loop_l, 2)),
    ):
        prev = leg_loop
        for name in LEG_RINGS:
            ring = cage.new(LEG_N)
            rings[f"{name}_{side}"] = ring
            cage.band(ring, prev, f"leg_{side}:{name}")
            prev = ring
        caps[f"foot_{side}"] = _cap_reversed(cage, prev, f"leg_{side}:cap")
        prev = arm_loop
        for name in ARM_RINGS:
            ring = cage.new(ARM_N)
            rings[f"{name}_{side}"] = ring
            cage.band(prev, ring, f"arm_{side}:{name}")
            prev = ring
        caps[f"hand_{side}"] = cage.cap(prev, f"arm_{side}:cap")

    # Mirror ids for the limbs: right ring j mirrors left ring (c - j) mod n, c even so that cap
    # fans (which pair even/odd ring positions) stay mirror images of each other.
    for names, n, c in ((LEG_RINGS, LEG_N, 8), (ARM_RINGS, ARM_N, 2)):
        for name in names:
            left, right = rings[f"{name}_l"], rings[f"{name}_r"]
            for j in range(n):
                cage.mirror[int(right[j])] = int(left[(c - j) % n])
                cage.mirror[int(left[(c - j) % n])] = int(right[j])
    for part in ("foot", "hand"):
        cage.mirror[caps[f"{part}_l"]] = caps[f"{part}_r"]
        cage.mirror[caps[f"{part}_r"]] = caps[f"{part}_l"]
    cage.mirror[caps["head"]] = caps["head"]
    return cage, rings, seam, caps


def _mirror_loop(cage: _Cage, loop: np.ndarray, c: int) -> np.ndarray:
    """The right-side copy of a left attachment loop, in the order used for right rings."""
    n = len(loop)
    return np.array([cage.mirror[int(loop[(c - j) % n])] for j in range(n)])


def _cap_reversed(cage: _Cage, ring: np.ndarray, tag: str) -> int:
    # Legs run downwards (bands are built ring -> previous), so their end cap faces the other way.
    c = int(cage.new(1)[0])
    k = len(ring)
    for i in range(0, k, 2):
        cage.faces.append((int(ring[(i + 2) % k]), int(ring[i + 1]), int(ring[i]), c))
        cage.tags.append(tag)
    return c


def catmull_clark(faces: np.ndarray, n_verts: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """One Catmull-Clark step on a closed quad mesh, as a sparse matrix.

    Returns (S, new_faces, parent) with new positions = S @ old positions. New vertices are
    ordered [vertex points, edge points, face points], so vertex i keeps its index.
    """
    nf = len(faces)
    half = np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2)  # (4F, 2)
    key = np.sort(half, axis=1)
    edges, edge_of_half = np.unique(key, axis=0, return_inverse=True)
    edge_of_half = edge_of_half.reshape(nf, 4)
    ne = len(edges)
    face_of_half = np.repeat(np.arange(nf), 4)

    fm = sp.csr_matrix((np.full(4 * nf, 0.25), (face_of_half, faces.ravel())), (nf, n_verts))
    mid = sp.csr_matrix(
        (np.full(2 * ne, 0.5), (np.repeat(np.arange(ne), 2), edges.ravel())), (ne, n_verts)
    )
    ef = sp.csr_matrix((np.ones(4 * nf), (edge_of_half.ravel(), face_of_half)), (ne, nf))
    em = 0.5 * mid + 0.25 * (ef @ fm)

    vf = sp.csr_matrix((np.ones(4 * nf), (faces.ravel(), face_of_half)), (n_verts, nf))
    ve = sp.csr_matrix(
        (np.ones(2 * ne), (edges.ravel(), np.repeat(np.arange(ne), 2))), (n_verts, ne)
    )
    valence = np.asarray(ve.sum(axis=1)).ravel()
    inv_n2 = sp.diags(1.0 / valence**2)
    vm = inv_n2 @ (vf @ fm) + 2.0 * inv_n2 @ (ve @ mid) + sp.diags((valence - 3.0) / valence)

    s = sp.vstack([vm, em, fm]).tocsr()
    e = n_verts + edge_of_half  # (F, 4) edge point ids, edge k joins corner k and k+1
    f = (n_verts + ne + np.arange(nf))[:, None]
    prev_e = np.roll(e, 1, axis=1)
    quads = np.stack([faces, e, np.broadcast_to(f, e.shape), prev_e], axis=2).reshape(-1, 4)
    return s, quads, face_of_half


def _edge_table(tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    half = np.stack([tris, np.roll(tris, -1, axis=1)], axis=2).reshape(-1, 2)
    edges, inverse = np.unique(np.sort(half, axis=1), axis=0, return_inverse=True)
    return edges, inverse.reshape(-1, 3)


@cache
def topology() -> Topology:
    """Built once per process (~0.1-0.2 s)."""
    cage, rings, seam, caps = _build_cage()
    faces = np.array(cage.faces, dtype=np.int64)
    n = cage.n
    mirror = np.arange(n)
    for a, b in cage.mirror.items():
        mirror[a] = b

    s_total = sp.identity(n, format="csr")
    quads, parent = faces, np.arange(len(faces))
    n_verts = n
    for _ in range(SUBDIV_LEVELS):
        s, quads, p = catmull_clark(quads, n_verts)
        s_total = (s @ s_total).tocsr()
        parent = parent[p]
        n_verts = s.shape[0]
    s_total.eliminate_zeros()

    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    tri_parent = np.concatenate([parent, parent])
    order = np.argsort(tri_parent, kind="stable")  # keep each cage face's triangles together
    tris, tri_parent = tris[order], tri_parent[order]
    edges, face_edges = _edge_table(tris)

    primary = np.ones(n, dtype=bool)
    for ring_name, ids in rings.items():
        if ring_name.endswith("_r"):
            primary[ids] = False
        elif ring_name in TORSO_RINGS + NECK_RINGS + HEAD_RINGS:
            valid = ids[ids >= 0]
            cols = np.flatnonzero(ids >= 0)
            primary[valid[cols > TORSO_N // 2]] = False
    primary[caps["foot_r"]] = primary[caps["hand_r"]] = False

    return Topology(
        n_cage=n,
        cage_faces=faces,
        face_tag=np.array(cage.tags),
        rings=rings,
        seam=seam,
        caps=caps,
        mirror=mirror,
        primary=primary,
        subdiv=s_total,
        faces=tris.astype(np.int64),
        face_parent=tri_parent,
        edges=edges,
        face_edges=face_edges,
    )


@dataclass(frozen=True)
class Level:
    """Triangles of one subdivision level. Catmull-Clark keeps vertex i at index i, so the
    vertices of a coarser level are the first `n` vertices of the fine mesh: a lighter mesh whose
    vertices all lie on the full-detail surface."""

    n: int
    faces: np.ndarray  # (F, 3) triangles over fine vertex ids < n
    face_parent: np.ndarray  # (F,) cage face of each triangle


@cache
def level(levels: int) -> Level:
    """The mesh after `levels` subdivision steps (SUBDIV_LEVELS is the full mesh)."""
    full = topology()
    if levels == SUBDIV_LEVELS:
        return Level(full.n_fine, full.faces, full.face_parent)
    quads, parent = full.cage_faces, np.arange(len(full.cage_faces))
    n = full.n_cage
    for _ in range(levels):
        s, quads, p = catmull_clark(quads, n)
        parent = parent[p]
        n = s.shape[0]
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    tri_parent = np.concatenate([parent, parent])
    order = np.argsort(tri_parent, kind="stable")
    return Level(n, tris[order].astype(np.int64), tri_parent[order])
