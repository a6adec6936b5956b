"""The Khronos glTF-Validator accepts every generated GLB with zero errors and warnings. (It
cannot decode EXT_meshopt_compression, so the compressed files' data is checked through the
plain file they are compared with in test_glb_contents.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from drape.avatar_inputs import PRESENTATIONS
from workers.avatar import AvatarBuild

Validator = Callable[[list[Path]], list[dict[str, Any]]]


def test_every_sampled_glb_has_no_validator_errors(
    bodies: tuple, avatars: Callable[[int], AvatarBuild], node_validator: Validator, tmp_path: Path
) -> None:
    paths = []
    for i in range(len(bodies)):
        a = avatars(i)
        for kind, data in (("plain", a.glb_plain), ("meshopt", a.glb), ("lod", a.glb_lod)):
            path = Path(tmp_path) / f"body_{i:02d}_{kind}.glb"
            path.write_bytes(data)
            paths.append(path)
    reports = node_validator(paths)
    assert len(reports) == len(paths)
    for path, report in zip(paths, reports, strict=True):
        issues = report["issues"]
        assert issues["numErrors"] == 0, (path.name, issues["messages"][:5])
        assert issues["numWarnings"] == 0, (path.name, issues["messages"][:5])
        info = report["info"]
        assert info["animationCount"] == 0 and info["materialCount"] == 1
        required = ["KHR_mesh_quantization"]
        if "plain" not in path.name:
            required.append("EXT_meshopt_compression")
            unsupported = [m for m in issues["messages"] if m["code"] == "UNSUPPORTED_EXTENSION"]
            assert len(unsupported) == 1
        assert info["extensionsRequired"] == required


def test_validator_really_rejects_a_broken_file(
    avatars: Callable[[int], AvatarBuild], node_validator: Validator, tmp_path: Path
) -> None:
    # Guard against a validator wrapper that always says yes: corrupt the JSON's accessor count.
    glb = bytearray(avatars(0).glb_plain)
    marker = b'"count":'
    at = glb.index(marker) + len(marker)
    glb[at : at + 1] = b"9"  # an accessor now claims far more elements than its buffer holds
    path = Path(tmp_path) / "broken.glb"
    path.write_bytes(bytes(glb))
    (report,) = node_validator([path])
    assert report["issues"]["numErrors"] > 0


def test_presentations_are_all_covered(bodies: tuple) -> None:
    assert {c["body_shape"] for _, c in bodies} == set(PRESENTATIONS)
