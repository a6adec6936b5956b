"""glTF Transform (npm @gltf-transform/cli, tools/gltf-transform) on the avatar files: `inspect`
reports a human-sized scene, and its own `meshopt` compression of the plain file (which
quantizes positions and folds the grid into the bind matrices) keeps every measurement."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import trimesh

from workers.avatar import AvatarBuild

TOOL = Path(__file__).resolve().parents[2] / "tools" / "gltf-transform"
CLI = TOOL / "node_modules" / ".bin" / "gltf-transform"
BODIES = (0, 1, 2)
TOL = 5e-3

Run = Callable[..., str]


@pytest.fixture(scope="module")
def gltf_transform() -> Run:
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH: glTF Transform runs on Node.js")
    if not CLI.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TOOL, check=True,
                       capture_output=True, timeout=300)  # fmt: skip

    def run(*args: str) -> str:
        out = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    return run


def _scene_bounds(report: str) -> tuple[np.ndarray, np.ndarray]:
    """bboxMin and bboxMax of the first scene in `inspect --format csv`."""
    section = report.split("SCENES", 1)[1].split("MESHES", 1)[0]
    lines = [ln for ln in section.splitlines() if ln and not ln.startswith(("─", " "))]
    (row,) = list(csv.DictReader(io.StringIO("\n".join(lines))))[:1]
    return (np.array([float(v) for v in row["bboxMin"].split(",")]),
            np.array([float(v) for v in row["bboxMax"].split(",")]))  # fmt: skip


@pytest.mark.parametrize("index", BODIES)
def test_inspect_reports_a_human_sized_scene(
    index: int, avatars: Callable[[int], AvatarBuild], gltf_transform: Run, tmp_path: Path
) -> None:
    a = avatars(index)
    height = a.requested["height"] / 100
    for kind, data in (("meshopt", a.glb), ("plain", a.glb_plain), ("lod", a.glb_lod)):
        path = tmp_path / f"{kind}.glb"
        path.write_bytes(data)
        lo, hi = _scene_bounds(gltf_transform("inspect", str(path), "--format", "csv"))
        assert abs(lo[1]) < 0.01 * height, kind
        assert abs((hi[1] - lo[1]) / height - 1) < 0.05, (kind, lo, hi)
        assert 0.25 * height < hi[0] - lo[0] < 1.2 * height, kind


@pytest.mark.parametrize("index", BODIES)
def test_meshopt_round_trip_keeps_every_measurement(
    index: int,
    avatars: Callable[[int], AvatarBuild],
    gltf_transform: Run,
    gltf: SimpleNamespace,
    tmp_path: Path,
) -> None:
    a = avatars(index)
    src, dst = tmp_path / "plain.glb", tmp_path / "meshopt.glb"
    src.write_bytes(a.glb_plain)
    gltf_transform("meshopt", str(src), str(dst))
    glb = gltf.read(dst.read_bytes())
    assert "EXT_meshopt_compression" in glb.doc["extensionsRequired"]
    mesh = trimesh.Trimesh(glb.positions(), glb.faces(), process=False)
    mesh.merge_vertices()
    before = gltf.load_mesh(a.glb_plain)
    for name, mark in a.landmarks.items():
        want = a.requested[name]
        if mark["kind"] == "circumference":
            got = gltf.tape(mesh, mark["origin"], mark["normal"]) * 100
        elif name == "height":
            got = (mesh.bounds[1][1] - mesh.bounds[0][1]) * 100
        else:  # follow the landmark vertices into the re-encoded mesh
            ends = []
            for k in ("from", "to"):
                point = np.array(mark[k])
                if np.linalg.norm(before.vertices - point, axis=1).min() > 1e-3:
                    ends.append(point)  # the floor under a landmark
                else:
                    ends.append(
                        mesh.vertices[np.linalg.norm(mesh.vertices - point, axis=1).argmin()]
                    )
            got = float(np.linalg.norm(ends[1] - ends[0])) * 100
        assert abs(got / want - 1) < TOL, (name, got, want)
