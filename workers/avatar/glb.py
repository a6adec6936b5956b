"""A glTF 2.0 binary (GLB) writer for the avatar.

What every reader sees, whether it runs the skin or not: positions in metres (FLOAT), the soles
on y = 0, joints that are plain translations and inverse bind matrices that are plain inverse
translations (unit scale), so a reader that ignores the skin (trimesh, Blender's importer, a
viewer's fit-to-view, accessor min/max) gets the same human-sized body as one that runs it.

Layout of the one mesh primitive:
- POSITION: FLOAT xyz; NORMAL: normalized BYTE xyz; TEXCOORD_0: FLOAT uv;
  JOINTS_0: UNSIGNED_BYTE x4; WEIGHTS_0: normalized UNSIGNED_BYTE x4 (sum exactly 255);
  indices: UNSIGNED_SHORT triangles (KHR_mesh_quantization for the normalized integers);
- morph targets: POSITION deltas in metres (FLOAT), names in mesh.extras.targetNames. Weight 1
  is a target's whole range, in mesh.extras.targetRangesCm.

Two encodings of the same content:
- plain: morph deltas as sparse accessors that list only the vertices that move;
- compressed: every vertex stream, the indices and the (dense) morph deltas in
  EXT_meshopt_compression bufferViews, positions through its exponential filter (so decoders
  still hand out FLOAT metres). About a third of the plain size; a reader needs a meshopt
  decoder (three.js's GLTFLoader with MeshoptDecoder, Filament, Babylon.js, glTF-Transform).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import meshopt
import numpy as np

GLB_MAGIC = 0x46546C67
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
BYTE, UNSIGNED_BYTE, SHORT, UNSIGNED_SHORT, FLOAT = 5120, 5121, 5122, 5123, 5126
MORPH_MIN = 2e-5  # metres: smaller morph moves (at weight 1) are left out
# Mantissa bits of meshopt's exponential filter, one exponent per component: positions on a grid
# of 2^-12 m (0.24 mm) or finer, texture coordinates of 2^-12 (a texel of a 4096 texture), morph
# deltas of 2^-13 m or finer.
POSITION_BITS = 13
UV_BITS = 12
MORPH_BITS = 10
NORMAL_BITS = 7  # octahedral filter
MESHOPT = "EXT_meshopt_compression"
QUANTIZATION = "KHR_mesh_quantization"


@dataclass(frozen=True)
class Skeleton:
    names: tuple[str, ...]
    parents: tuple[int, ...]  # -1 for the root; parents come before children
    positions: np.ndarray  # (J, 3) bind-pose world positions, no rotations


@dataclass(frozen=True)
class GlbMesh:
    positions: np.ndarray  # (V, 3) metres
    normals: np.ndarray  # (V, 3) unit
    uvs: np.ndarray  # (V, 2) in [0, 1]
    faces: np.ndarray  # (F, 3)
    skeleton: Skeleton
    joints: np.ndarray  # (V, 4) uint8
    weights: np.ndarray  # (V, 4) uint8, rows sum to 255
    base_color: tuple[float, float, float, float]  # linear RGBA
    morph_names: tuple[str, ...] = ()
    morph_deltas: tuple[np.ndarray, ...] = ()  # each (V, 3) metres at weight 1
    extras: dict[str, object] = field(default_factory=dict)
    name: str = "body"
    colors: np.ndarray | None = None  # (V, 4) uint8 linear RGBA: COLOR_0 (the fit map)


class _Writer:
    """bufferViews and accessors; with `compress`, vertex and index views are meshopt streams
    in buffer 0 standing for their decoded bytes in the fallback buffer 1 (which has no data)."""

    def __init__(self, compress: bool) -> None:
        self.compress = compress
        self.bin = bytearray()
        self.fallback = 0
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def _append(self, data: bytes) -> int:
        while len(self.bin) % 4:
            self.bin.append(0)
        at = len(self.bin)
        self.bin += data
        return at

    def view(
        self,
        rows: np.ndarray,
        target: int | None = None,
        *,
        mode: str | None = None,
        filtered: tuple[str, np.ndarray] | None = None,
    ) -> int:
        """A bufferView of `rows` (one element a row). `mode` names the meshopt mode the view
        compresses with; `filtered` = (filter, filtered rows) for a meshopt filter."""
        rows = np.ascontiguousarray(rows)
        data = rows.tobytes()
        stride = rows.nbytes // len(rows) if rows.ndim > 1 else None
        view: dict[str, object]
        if self.compress and mode is not None:
            stream_rows = filtered[1] if filtered else rows
            if mode == "TRIANGLES":
                encoded = meshopt.encode_gltf_buffer(stream_rows.reshape(-1, 3), mode)
                byte_stride, count = rows.dtype.itemsize, rows.size
            else:
                encoded = meshopt.encode_gltf_buffer(stream_rows, mode)
                byte_stride, count = rows.nbytes // len(rows), len(rows)
            ext: dict[str, object] = {
                "buffer": 0, "byteOffset": self._append(encoded), "byteLength": len(encoded),
                "byteStride": byte_stride, "count": count, "mode": mode,
            }  # fmt: skip
            if filtered:
                ext["filter"] = filtered[0]
            self.fallback += -self.fallback % 4
            view = {"buffer": 1, "byteOffset": self.fallback, "byteLength": len(data),
                    "extensions": {MESHOPT: ext}}  # fmt: skip
            self.fallback += len(data)
        else:
            view = {"buffer": 0, "byteOffset": self._append(data), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        if target == ARRAY_BUFFER and stride is not None:
            view["byteStride"] = stride
        self.views.append(view)
        return len(self.views) - 1

    def accessor(self, **fields: object) -> int:
        self.accessors.append(fields)
        return len(self.accessors) - 1


def _padded(a: np.ndarray, width: int) -> np.ndarray:
    """Rows padded to `width` components so every vertex starts on a 4-byte boundary."""
    out = np.zeros((len(a), width), dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


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


def _exp_filtered(values: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows for the meshopt stream, the float32 values a decoder gets back)."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    rows = meshopt.encode_filter_exp(values, bits, "SharedComponent")
    data = meshopt.encode_gltf_buffer(rows, "ATTRIBUTES")
    back = meshopt.decode_gltf_buffer(data, len(values), values.nbytes // len(values),
                                      "ATTRIBUTES", "EXPONENTIAL")  # fmt: skip
    return rows, np.ascontiguousarray(back).view(np.float32).reshape(values.shape)


def stored_positions(positions: np.ndarray, *, compressed: bool) -> np.ndarray:
    """The float32 positions a reader decodes from the file, as float64."""
    if compressed:
        return _exp_filtered(positions, POSITION_BITS)[1].astype(np.float64)
    return np.asarray(positions, dtype=np.float32).astype(np.float64)


def write_glb(mesh: GlbMesh, *, compress: bool = False) -> bytes:
    w = _Writer(compress)
    n = len(mesh.positions)
    stored = np.ascontiguousarray(mesh.positions, dtype=np.float32)
    uv = np.ascontiguousarray(np.clip(mesh.uvs, 0.0, 1.0), dtype=np.float32)
    normals = _padded(quantize_normals(mesh.normals), 4)
    pos_filter = uv_filter = nrm_filter = None
    if compress:
        rows, stored = _exp_filtered(stored, POSITION_BITS)
        pos_filter = ("EXPONENTIAL", rows)
        rows, uv = _exp_filtered(uv, UV_BITS)
        uv_filter = ("EXPONENTIAL", rows)
        unit = np.zeros((n, 4), dtype=np.float32)
        unit[:, :3] = mesh.normals / np.linalg.norm(mesh.normals, axis=1, keepdims=True)
        rows = meshopt.encode_filter_oct(unit, 4, NORMAL_BITS)
        normals = np.ascontiguousarray(rows).view(np.int8).reshape(n, 4)
        nrm_filter = ("OCTAHEDRAL", rows)
    pos = w.accessor(
        bufferView=w.view(stored, ARRAY_BUFFER, mode="ATTRIBUTES", filtered=pos_filter),
        componentType=FLOAT, count=n, type="VEC3",
        min=stored.min(axis=0).tolist(), max=stored.max(axis=0).tolist(),
    )  # fmt: skip
    nrm = w.accessor(
        bufferView=w.view(normals, ARRAY_BUFFER, mode="ATTRIBUTES", filtered=nrm_filter),
        componentType=BYTE, normalized=True, count=n, type="VEC3",
    )  # fmt: skip
    tex = w.accessor(
        bufferView=w.view(uv, ARRAY_BUFFER, mode="ATTRIBUTES", filtered=uv_filter),
        componentType=FLOAT, count=n, type="VEC2",
    )  # fmt: skip
    jnt = w.accessor(
        bufferView=w.view(mesh.joints.astype(np.uint8), ARRAY_BUFFER, mode="ATTRIBUTES"),
        componentType=UNSIGNED_BYTE, count=n, type="VEC4",
    )  # fmt: skip
    wgt = w.accessor(
        bufferView=w.view(mesh.weights.astype(np.uint8), ARRAY_BUFFER, mode="ATTRIBUTES"),
        componentType=UNSIGNED_BYTE, normalized=True, count=n, type="VEC4",
    )  # fmt: skip
    idx = w.accessor(
        bufferView=w.view(mesh.faces.astype(np.uint16).ravel(), ELEMENT_ARRAY_BUFFER,
                          mode="TRIANGLES"),
        componentType=UNSIGNED_SHORT, count=mesh.faces.size, type="SCALAR",
    )  # fmt: skip
    targets = [{"POSITION": _morph_accessor(w, d)} for d in mesh.morph_deltas]
    col = None
    if mesh.colors is not None:
        col = w.accessor(
            bufferView=w.view(np.ascontiguousarray(mesh.colors, dtype=np.uint8), ARRAY_BUFFER,
                              mode="ATTRIBUTES"),
            componentType=UNSIGNED_BYTE, normalized=True, count=n, type="VEC4",
        )  # fmt: skip

    sk = mesh.skeleton
    # Node translations as written (rounded to the micrometre), and the inverse bind matrices
    # from exactly those, so that the skin's bind pose is the identity to float precision.
    local = np.round(
        sk.positions - np.array([sk.positions[q] if q >= 0 else np.zeros(3) for q in sk.parents]),
        6,
    )
    world = np.zeros_like(local)
    for i, parent in enumerate(sk.parents):
        world[i] = local[i] + (world[parent] if parent >= 0 else 0.0)
    ibm = np.stack([np.linalg.inv(_translation(p)) for p in world])
    ibm_acc = w.accessor(
        bufferView=w.view(ibm.transpose(0, 2, 1).reshape(len(ibm), 16).astype(np.float32),
                          mode="ATTRIBUTES"),
        componentType=FLOAT, count=len(ibm), type="MAT4",
    )  # fmt: skip

    nodes: list[dict] = [{"name": mesh.name, "mesh": 0, "skin": 0}]
    joint_nodes = list(range(1, len(sk.names) + 1))
    for name, t in zip(sk.names, local, strict=True):
        nodes.append({"name": name, "translation": [float(c) for c in t]})
    for i, parent in enumerate(sk.parents):
        if parent >= 0:
            nodes[parent + 1].setdefault("children", []).append(i + 1)
    root = joint_nodes[sk.parents.index(-1)]

    attributes = {"POSITION": pos, "NORMAL": nrm, "TEXCOORD_0": tex, "JOINTS_0": jnt,
                  "WEIGHTS_0": wgt}  # fmt: skip
    if col is not None:
        attributes["COLOR_0"] = col
    primitive: dict[str, object] = {"attributes": attributes, "indices": idx, "material": 0,
                                    "mode": 4}  # fmt: skip
    mesh_doc: dict[str, object] = {"name": mesh.name, "primitives": [primitive],
                                   "extras": {**mesh.extras,
                                              "targetNames": list(mesh.morph_names)}}  # fmt: skip
    if targets:
        primitive["targets"] = targets
        mesh_doc["weights"] = [0.0] * len(targets)
    extensions = [QUANTIZATION, MESHOPT] if compress else [QUANTIZATION]
    buffers: list[dict] = [{"byteLength": len(w.bin)}]
    if compress:
        buffers.append({"byteLength": w.fallback, "extensions": {MESHOPT: {"fallback": True}}})
    doc = {
        "asset": {"version": "2.0", "generator": "Drape avatar"},
        "extensionsUsed": extensions,
        "extensionsRequired": extensions,
        "scene": 0,
        "scenes": [{"name": "avatar", "nodes": [0, root]}],
        "nodes": nodes,
        "meshes": [mesh_doc],
        "skins": [{"name": "skeleton", "inverseBindMatrices": ibm_acc, "joints": joint_nodes,
                   "skeleton": root}],
        "materials": [{
            "name": "skin",
            "pbrMetallicRoughness": {"baseColorFactor": [float(c) for c in mesh.base_color],
                                     "metallicFactor": 0.0, "roughnessFactor": 0.65},
        }],
        "accessors": w.accessors,
        "bufferViews": w.views,
        "buffers": buffers,
    }  # fmt: skip
    return _pack(doc, bytes(w.bin))


def _morph_accessor(w: _Writer, delta: np.ndarray) -> int:
    # FLOAT metres, not normalized SHORT: Filament adds a morph accessor's raw min/max to the
    # asset's bounding box, so integer units would blow its fit-to-view up again.
    values = np.ascontiguousarray(delta, dtype=np.float32)
    values[np.abs(values).max(axis=1) < MORPH_MIN] = 0.0
    filtered = None
    if w.compress:
        rows, values = _exp_filtered(values, MORPH_BITS)
        filtered = ("EXPONENTIAL", rows)
    common = {"componentType": FLOAT, "count": len(values), "type": "VEC3",
              "min": np.minimum(values.min(axis=0), 0).tolist(),
              "max": np.maximum(values.max(axis=0), 0).tolist()}  # fmt: skip
    if w.compress:  # dense: the meshopt codec turns the rows of zeros into little
        view = w.view(values, ARRAY_BUFFER, mode="ATTRIBUTES", filtered=filtered)
        return w.accessor(bufferView=view, **common)
    moving = np.flatnonzero(np.abs(values).max(axis=1) > 0)
    if len(moving) == 0:  # a sparse accessor must list at least one element
        moving = np.array([0])
    return w.accessor(
        **common,
        sparse={
            "count": len(moving),
            "indices": {"bufferView": w.view(moving.astype(np.uint16)),
                        "componentType": UNSIGNED_SHORT},
            "values": {"bufferView": w.view(values[moving])},
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
