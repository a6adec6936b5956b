"""A glTF 2.0 binary (GLB) writer for the avatar, compressed with KHR_mesh_quantization.

Layout of the one mesh primitive:
- POSITION: SHORT xyz on a uniform grid (`step` metres per unit, centred on the bounding box);
- NORMAL: normalized BYTE xyz; JOINTS_0: UNSIGNED_BYTE x4; WEIGHTS_0: normalized UNSIGNED_BYTE x4
  (sum exactly 255); indices: UNSIGNED_SHORT triangles;
- morph targets: POSITION deltas on the same grid (BYTE when every delta fits, else SHORT; a
  delta of n units moves a vertex by n * step metres), stored as sparse accessors that list only
  the vertices moving at least `morph_min_units` units; names in mesh.extras.targetNames.

The mesh is skinned, and glTF ignores the transform of a skinned mesh's node, so the
de-quantization (scale + offset) is folded into every inverse bind matrix, as gltfpack and
glTF-Transform do: joint_world @ IBM = dequantize at bind pose. A reader that ignores the skin
must apply `dequantize` itself; it is also given in mesh.extras.dequantize.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import numpy as np

GLB_MAGIC = 0x46546C67
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
BYTE, UNSIGNED_BYTE, SHORT, UNSIGNED_SHORT, FLOAT = 5120, 5121, 5122, 5123, 5126
QUANT_MAX = 32767


@dataclass(frozen=True)
class Quantization:
    step: float  # metres per unit
    offset: np.ndarray  # (3,) metres at unit 0

    def quantize(self, v: np.ndarray) -> np.ndarray:
        return np.round((v - self.offset) / self.step).astype(np.int16)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        return self.offset + self.step * q.astype(np.float64)

    def matrix(self) -> np.ndarray:
        m = np.diag([self.step, self.step, self.step, 1.0])
        m[:3, 3] = self.offset
        return m


def quantization_for(positions: np.ndarray) -> Quantization:
    lo, hi = positions.min(axis=0), positions.max(axis=0)
    step = float((hi - lo).max()) / (2 * QUANT_MAX - 2)  # one spare unit against rounding
    return Quantization(step=step, offset=(lo + hi) / 2)


@dataclass(frozen=True)
class Skeleton:
    names: tuple[str, ...]
    parents: tuple[int, ...]  # -1 for the root; parents come before children
    positions: np.ndarray  # (J, 3) bind-pose world positions, no rotations


@dataclass(frozen=True)
class GlbMesh:
    positions: np.ndarray  # (V, 3) metres
    normals: np.ndarray  # (V, 3) unit
    faces: np.ndarray  # (F, 3)
    skeleton: Skeleton
    joints: np.ndarray  # (V, 4) uint8
    weights: np.ndarray  # (V, 4) uint8, rows sum to 255
    base_color: tuple[float, float, float, float]  # linear RGBA
    morph_names: tuple[str, ...] = ()
    morph_deltas: tuple[np.ndarray, ...] = ()  # each (V, 3) metres
    morph_min_units: int = 1  # smaller moves (in position grid units) are left out
    extras: dict[str, object] = field(default_factory=dict)


class _Writer:
    def __init__(self) -> None:
        self.bin = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def view(self, data: bytes, target: int | None = None, stride: int | None = None) -> int:
        while len(self.bin) % 4:
            self.bin.append(0)
        view: dict[str, int] = {"buffer": 0, "byteOffset": len(self.bin), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        if stride is not None:
            view["byteStride"] = stride
        self.bin += data
        self.views.append(view)
        return len(self.views) - 1

    def accessor(self, **fields: object) -> int:
        self.accessors.append(fields)
        return len(self.accessors) - 1


def _padded(a: np.ndarray, width: int) -> bytes:
    """Rows padded to `width` components so every vertex starts on a 4-byte boundary."""
    out = np.zeros((len(a), width), dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out.tobytes()


def quantize_normals(normals: np.ndarray) -> np.ndarray:
    """Rounded to int8 then nudged so every stored vector stays within the unit-length
    tolerance readers check (plain rounding can be ~1% off for some directions)."""
    n = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    best = np.round(n * 127).astype(np.int16)
    best_err = np.abs(np.linalg.norm(best / 127.0, axis=1) - 1)
    floor = np.floor(n * 127).astype(np.int16)
    for bits in range(8):
        cand = floor + np.array([(bits >> k) & 1 for k in range(3)], dtype=np.int16)
        err = np.abs(np.linalg.norm(cand / 127.0, axis=1) - 1)
        dev = np.linalg.norm(cand / 127.0 - n, axis=1)
        better = (err < best_err) & (dev < 0.02)
        best[better], best_err[better] = cand[better], err[better]
    return np.clip(best, -127, 127).astype(np.int8)


def write_glb(mesh: GlbMesh) -> tuple[bytes, np.ndarray]:
    """(GLB bytes, the positions a reader gets back after de-quantization)."""
    quant = quantization_for(mesh.positions)
    q = quant.quantize(mesh.positions)
    w = _Writer()
    n = len(q)

    pos = w.accessor(
        bufferView=w.view(_padded(q, 4), ARRAY_BUFFER, 8), componentType=SHORT, count=n,
        type="VEC3", min=q.min(axis=0).tolist(), max=q.max(axis=0).tolist(),
    )  # fmt: skip
    nrm = w.accessor(
        bufferView=w.view(_padded(quantize_normals(mesh.normals), 4), ARRAY_BUFFER, 4),
        componentType=BYTE, normalized=True, count=n, type="VEC3",
    )  # fmt: skip
    jnt = w.accessor(
        bufferView=w.view(mesh.joints.astype(np.uint8).tobytes(), ARRAY_BUFFER, 4),
        componentType=UNSIGNED_BYTE, count=n, type="VEC4",
    )  # fmt: skip
    wgt = w.accessor(
        bufferView=w.view(mesh.weights.astype(np.uint8).tobytes(), ARRAY_BUFFER, 4),
        componentType=UNSIGNED_BYTE, normalized=True, count=n, type="VEC4",
    )  # fmt: skip
    idx = w.accessor(
        bufferView=w.view(mesh.faces.astype(np.uint16).tobytes(), ELEMENT_ARRAY_BUFFER),
        componentType=UNSIGNED_SHORT, count=mesh.faces.size, type="SCALAR",
    )  # fmt: skip

    targets = [
        {"POSITION": _morph_accessor(w, quant, d, mesh.morph_min_units)} for d in mesh.morph_deltas
    ]

    sk = mesh.skeleton
    world = sk.positions
    ibm = np.stack([np.linalg.inv(_translation(p)) @ quant.matrix() for p in world])
    ibm_acc = w.accessor(
        bufferView=w.view(ibm.transpose(0, 2, 1).astype(np.float32).tobytes()),  # column-major
        componentType=FLOAT, count=len(ibm), type="MAT4",
    )  # fmt: skip

    nodes: list[dict] = [{"name": "body", "mesh": 0, "skin": 0}]
    joint_nodes = list(range(1, len(sk.names) + 1))
    for i, (name, parent) in enumerate(zip(sk.names, sk.parents, strict=True)):
        local = world[i] - (world[parent] if parent >= 0 else 0.0)
        nodes.append({"name": name, "translation": [float(c) for c in local]})
    for i, parent in enumerate(sk.parents):
        if parent >= 0:
            nodes[parent + 1].setdefault("children", []).append(i + 1)
    root = joint_nodes[sk.parents.index(-1)]

    primitive: dict[str, object] = {
        "attributes": {"POSITION": pos, "NORMAL": nrm, "JOINTS_0": jnt, "WEIGHTS_0": wgt},
        "indices": idx,
        "material": 0,
        "mode": 4,
    }
    if targets:
        primitive["targets"] = targets
    extras = {
        **mesh.extras,
        "targetNames": list(mesh.morph_names),
        "dequantize": {"scale": quant.step, "offset": [float(c) for c in quant.offset]},
    }
    doc = {
        "asset": {"version": "2.0", "generator": "Drape avatar"},
        "extensionsUsed": ["KHR_mesh_quantization"],
        "extensionsRequired": ["KHR_mesh_quantization"],
        "scene": 0,
        "scenes": [{"name": "avatar", "nodes": [0, root]}],
        "nodes": nodes,
        "meshes": [{"name": "body", "primitives": [primitive], "extras": extras}],
        "skins": [{"name": "skeleton", "inverseBindMatrices": ibm_acc, "joints": joint_nodes,
                   "skeleton": root}],
        "materials": [{
            "name": "skin",
            "pbrMetallicRoughness": {"baseColorFactor": [float(c) for c in mesh.base_color],
                                     "metallicFactor": 0.0, "roughnessFactor": 0.65},
        }],
        "accessors": w.accessors,
        "bufferViews": w.views,
        "buffers": [{"byteLength": len(w.bin)}],
    }  # fmt: skip
    return _pack(doc, bytes(w.bin)), quant.dequantize(q)


def _morph_accessor(w: _Writer, quant: Quantization, delta: np.ndarray, min_units: int) -> int:
    dq = np.clip(np.round(delta / quant.step), -QUANT_MAX, QUANT_MAX).astype(np.int16)
    keep = np.flatnonzero(np.abs(dq).max(axis=1) >= min_units)
    if len(keep) == 0:  # a sparse accessor must list at least one element
        keep = np.array([0])
    # Bytes are enough for small per-weight moves (and halve the size); else shorts.
    small = np.abs(dq).max() <= 127
    values = dq[keep].astype(np.int8 if small else np.int16)
    lo, hi = values.min(axis=0), values.max(axis=0)
    if len(keep) < len(dq):  # min/max cover the whole accessor, whose unlisted elements are 0
        lo, hi = np.minimum(lo, 0), np.maximum(hi, 0)
    return w.accessor(
        componentType=BYTE if small else SHORT, count=len(delta), type="VEC3",
        min=lo.tolist(), max=hi.tolist(),
        sparse={
            "count": len(keep),
            "indices": {"bufferView": w.view(keep.astype(np.uint16).tobytes()),
                        "componentType": UNSIGNED_SHORT},
            "values": {"bufferView": w.view(values.tobytes())},
        },
    )  # fmt: skip


def _translation(p: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = p
    return m


def _pack(doc: dict, binary: bytes) -> bytes:
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return b"".join(
        [
            struct.pack("<III", GLB_MAGIC, 2, total),
            struct.pack("<II", len(js), CHUNK_JSON),
            js,
            struct.pack("<II", len(binary), CHUNK_BIN),
            binary,
        ]
    )
