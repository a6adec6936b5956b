"""Avatar test helpers: a seeded sampler of plausible bodies, a GLB reader and tape checker that
share no code with workers/avatar (they read the file the way any glTF client would; meshopt
streams are decoded by meshoptimizer's own decoder), and the Khronos validator."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import meshopt
import numpy as np
import pytest
import trimesh
from scipy.spatial import ConvexHull

from workers.avatar import AvatarBuild, build_avatar, validate_measurements

ROOT = Path(__file__).resolve().parents[2]
VALIDATE_JS = ROOT / "tools" / "gltf" / "validate.js"
N_BODIES = 50
SEED = 20240611

SKIN_TONES = ("#ffdbac", "#f1c27d", "#e0ac69", "#c68642", "#8d5524", "#5c3836", "#3b2219")
# (mean height, sd) and typical girths / height per presentation, roughly adult population means.
_POPULATION = {
    "feminine": (163.0, 7.0),
    "masculine": (176.0, 7.5),
    "neutral": (170.0, 8.0),
}


def sample_body(rng: np.random.Generator, presentation: str) -> tuple[dict, dict]:
    """One plausible body: heights and proportions near population means, one shared 'build'
    factor for all girths (heavier people are bigger everywhere) plus individual variation, and
    some measurements left out so that defaults are exercised too."""
    mean_h, sd_h = _POPULATION[presentation]
    h = float(np.clip(rng.normal(mean_h, sd_h), 148, 200))
    build = float(np.exp(rng.normal(0.02, 0.11)))
    masc = {"feminine": 0.0, "neutral": 0.5, "masculine": 1.0}[presentation]

    def girth(ratio: float, sd: float = 0.045) -> float:
        return ratio * h * build * float(np.exp(rng.normal(0, sd)))

    underbust = girth(0.475 + 0.025 * masc)
    cup = rng.uniform(7, 22) * (1 - masc) + rng.uniform(4, 10) * masc
    m = {
        "height": h,
        "underbust": underbust,
        "bust": underbust + cup,
        "waist": girth(0.46 + 0.02 * masc, 0.06),
        "hips": girth(0.615 - 0.05 * masc),
        "neck": girth(0.20 + 0.015 * masc, 0.04) ** 0.8 * (0.2 * h) ** 0.2,
        "thigh": girth(0.345 - 0.025 * masc),
        "upper_arm": girth(0.175 + 0.005 * masc),
        "calf": girth(0.222 - 0.007 * masc) ** 0.7 * (0.22 * h) ** 0.3,
        "shoulder_width": (0.222 + 0.01 * masc) * h * float(np.exp(rng.normal(0, 0.035))),
        "arm_length": (0.335 + 0.01 * masc) * h * float(np.exp(rng.normal(0, 0.025))),
        "inseam": (0.455 + 0.01 * masc) * h * float(np.exp(rng.normal(0, 0.025))),
    }
    m = {k: round(v, 1) for k, v in m.items()}
    for name in list(m)[1:]:
        if rng.random() < 0.15:
            del m[name]
    custom = {
        "body_shape": presentation,
        "skin_tone": SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
        "posture": ("relaxed", "upright", "athletic")[int(rng.integers(3))],
    }
    return m, custom


@cache
def plausible_bodies() -> tuple[tuple[dict, dict], ...]:
    rng = np.random.default_rng(SEED)
    bodies: list[tuple[dict, dict]] = []
    presentations = ("feminine", "masculine", "neutral")
    while len(bodies) < N_BODIES:
        m, c = sample_body(rng, presentations[len(bodies) % 3])
        try:
            validate_measurements(m, c)
        except ValueError:
            continue  # the sampler's tails can be implausible; the validator is tested elsewhere
        bodies.append((m, c))
    return tuple(bodies)


@cache
def built(index: int) -> AvatarBuild:
    m, c = plausible_bodies()[index]
    return build_avatar(m, c)


# ---------------------------------------------------------------- independent GLB reading

_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32,
           5126: np.float32}  # fmt: skip
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
_NORM = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}


@dataclass
class Glb:
    doc: dict[str, Any]
    bin: bytes

    def view_bytes(self, view_index: int) -> bytes:
        """A bufferView's bytes, decoded when it is an EXT_meshopt_compression stream."""
        view = self.doc["bufferViews"][view_index]
        ext = view.get("extensions", {}).get("EXT_meshopt_compression")
        if ext is None:
            assert view["buffer"] == 0
            start = view.get("byteOffset", 0)
            return self.bin[start : start + view["byteLength"]]
        assert ext["buffer"] == 0
        start = ext.get("byteOffset", 0)
        data = self.bin[start : start + ext["byteLength"]]
        rows = meshopt.decode_gltf_buffer(data, ext["count"], ext["byteStride"], ext["mode"],
                                          ext.get("filter", "NONE"))  # fmt: skip
        out = np.ascontiguousarray(rows).tobytes()
        assert len(out) == view["byteLength"]
        return out

    def accessor(self, index: int) -> np.ndarray:
        """Elements as float64 (normalized integers mapped to [-1, 1] / [0, 1]), sparse applied."""
        acc = self.doc["accessors"][index]
        dtype = np.dtype(_DTYPES[acc["componentType"]])
        width, count = _WIDTH[acc["type"]], acc["count"]
        if "bufferView" in acc:
            out = self._read(acc["bufferView"], acc.get("byteOffset", 0), dtype, width, count)
        else:
            out = np.zeros((count, width))
        if "sparse" in acc:
            sp = acc["sparse"]
            idx = self._read(
                sp["indices"]["bufferView"],
                sp["indices"].get("byteOffset", 0),
                np.dtype(_DTYPES[sp["indices"]["componentType"]]),
                1,
                sp["count"],
            )
            vals = self._read(sp["values"]["bufferView"], sp["values"].get("byteOffset", 0),
                              dtype, width, sp["count"])  # fmt: skip
            out[idx[:, 0].astype(np.int64)] = vals
        if acc.get("normalized"):
            out = np.maximum(out / _NORM[acc["componentType"]], -1.0)
        return out

    def _read(
        self, view_index: int, offset: int, dtype: np.dtype, width: int, count: int
    ) -> np.ndarray:
        view = self.doc["bufferViews"][view_index]
        data = self.view_bytes(view_index)
        stride = view.get("byteStride", dtype.itemsize * width)
        size = dtype.itemsize * width
        rows = np.frombuffer(data, np.uint8, count=stride * (count - 1) + size, offset=offset)
        rows = np.lib.stride_tricks.as_strided(rows, (count, size), (stride, 1))
        return np.ascontiguousarray(rows).view(dtype).reshape(count, width).astype(np.float64)

    @property
    def primitive(self) -> dict[str, Any]:
        return self.doc["meshes"][0]["primitives"][0]

    def faces(self) -> np.ndarray:
        return self.accessor(self.primitive["indices"]).astype(np.int64).reshape(-1, 3)

    def node_world(self) -> list[np.ndarray]:
        nodes = self.doc["nodes"]
        parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
        world: dict[int, np.ndarray] = {}

        def local(n: dict[str, Any]) -> np.ndarray:
            if "matrix" in n:
                return np.array(n["matrix"], dtype=np.float64).reshape(4, 4).T
            m = np.eye(4)
            x, y, z, w = n.get("rotation", [0, 0, 0, 1])
            m[:3, :3] = [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
            m[:3, :3] *= np.array(n.get("scale", [1, 1, 1]))[None, :]
            m[:3, 3] = n.get("translation", [0, 0, 0])
            return m

        def get(i: int) -> np.ndarray:
            if i not in world:
                world[i] = (get(parent[i]) if i in parent else np.eye(4)) @ local(nodes[i])
            return world[i]

        return [get(i) for i in range(len(nodes))]

    def unskinned(self) -> np.ndarray:
        """Vertex positions as a reader that ignores the skin places them: POSITION through
        the mesh node's world transform."""
        node = next(i for i, n in enumerate(self.doc["nodes"]) if "mesh" in n)
        q = self.accessor(self.primitive["attributes"]["POSITION"])
        world = self.node_world()[node]
        return q @ world[:3, :3].T + world[:3, 3]

    def positions(self, morph_weights: dict[str, float] | None = None) -> np.ndarray:
        """Bind-pose vertex positions in scene metres: morphs, then linear blend skinning with
        joint world matrices times inverse bind matrices."""
        prim = self.primitive
        q = self.accessor(prim["attributes"]["POSITION"])
        names = self.doc["meshes"][0].get("extras", {}).get("targetNames", [])
        for name, weight in (morph_weights or {}).items():
            q = q + weight * self.accessor(prim["targets"][names.index(name)]["POSITION"])
        skin = self.doc["skins"][0]
        world = self.node_world()
        ibm = self.accessor(skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
        mats = np.stack([world[j] for j in skin["joints"]]) @ ibm
        joints = self.accessor(prim["attributes"]["JOINTS_0"]).astype(np.int64)
        weights = self.accessor(prim["attributes"]["WEIGHTS_0"])
        hom = np.c_[q, np.ones(len(q))]
        out = np.zeros((len(q), 4))
        for k in range(4):
            out += weights[:, k, None] * np.einsum("nij,nj->ni", mats[joints[:, k]], hom)
        return out[:, :3]


def read_glb(data: bytes) -> Glb:
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    jlen, jtype = struct.unpack_from("<II", data, 12)
    assert jtype == 0x4E4F534A
    doc = json.loads(data[20 : 20 + jlen])
    blen, btype = struct.unpack_from("<II", data, 20 + jlen)
    assert btype == 0x004E4942
    return Glb(doc, data[28 + jlen : 28 + jlen + blen])


def load_mesh(data: bytes, morph_weights: dict[str, float] | None = None) -> trimesh.Trimesh:
    """The body as trimesh reads a plain GLB (it ignores skins and morph targets), seam
    vertices merged. With morph weights, the positions come from read_glb's morphs and skin;
    without, trimesh's own must already be the skinned bind pose."""
    scene = trimesh.load_scene(io.BytesIO(data), file_type="glb")
    (geom,) = scene.geometry.values()
    skinned = read_glb(data).positions(morph_weights)
    assert len(geom.vertices) == len(skinned)
    if not morph_weights:
        np.testing.assert_allclose(geom.vertices, skinned, atol=1e-6)
    mesh = trimesh.Trimesh(skinned, geom.faces, process=False)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    return mesh


def tape(mesh: trimesh.Trimesh, origin: list[float], normal: list[float]) -> float:
    """Convex-hull perimeter of the section loop that encloses `origin`, like a tape measure."""
    o, n = np.asarray(origin, float), np.asarray(normal, float)
    section = mesh.section(plane_origin=o, plane_normal=n)
    assert section is not None, "plane misses the mesh"
    e1 = np.cross(n, [0.0, 0.0, 1.0] if abs(n[2]) < 0.9 else [1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1)
    basis = np.stack([e1, np.cross(n, e1)])  # for a horizontal plane: the XZ plane
    enclosing = []
    for loop in section.discrete:
        uv = (loop - o) @ basis.T
        if np.allclose(uv[0], uv[-1]) and _encloses(uv, np.zeros(2)):
            enclosing.append(uv)
    assert enclosing, "no closed loop around the landmark"
    return min(float(ConvexHull(uv).area) for uv in enclosing)


def _encloses(poly: np.ndarray, point: np.ndarray) -> bool:
    a, b = poly[:-1], poly[1:]
    straddle = (a[:, 1] > point[1]) != (b[:, 1] > point[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        x = a[:, 0] + (point[1] - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
    return bool(np.count_nonzero(straddle & (x > point[0])) % 2)


def run_validator(paths: list[Path]) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["node", str(VALIDATE_JS), *map(str, paths)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode in (0, 1), out.stderr
    reports = json.loads(out.stdout)
    return reports if isinstance(reports, list) else [reports]


@pytest.fixture(scope="session")
def node_validator() -> Callable[[list[Path]], list[dict[str, Any]]]:
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH: the Khronos glTF-Validator runs on Node.js")
    if not (VALIDATE_JS.parent / "node_modules" / "gltf-validator").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=VALIDATE_JS.parent,
                       check=True, capture_output=True, timeout=300)  # fmt: skip
    return run_validator


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "body_index" in metafunc.fixturenames:
        metafunc.parametrize("body_index", range(N_BODIES))


@pytest.fixture(scope="session")
def bodies() -> tuple[tuple[dict, dict], ...]:
    return plausible_bodies()


@pytest.fixture(scope="session")
def avatars() -> Callable[[int], AvatarBuild]:
    """Builds of the sampled bodies, by index, built once per session."""
    return built


@pytest.fixture(scope="session")
def gltf() -> SimpleNamespace:
    """Independent GLB tools: read(bytes) -> Glb, load_mesh(bytes, weights) -> Trimesh,
    tape(mesh, origin, normal) -> circumference in metres."""
    return SimpleNamespace(read=read_glb, load_mesh=load_mesh, tape=tape)
