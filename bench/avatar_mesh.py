"""Avatar build timings on random plausible bodies (workers/avatar), and what the GLB costs on
the wire and in the browser.

Prints, per stage of build_avatar (fit, mesh, glb, measure, preview, total), p50/p95 over the
bodies; the GLB sizes (the meshopt file clients download, the plain one, the light one, and each
gzipped as a CDN could serve it) and vertex count; live_state p50/p95 over slider updates; as a
baseline, one plain mesh evaluation (cage + subdivision) and one fit evaluation (mesh + tapes);
and the decode time of the first --browser-bodies GLBs in headless Chromium (three.js
GLTFLoader.parse with its meshopt decoder; Filament createAsset + loadResources), SwiftShader.

--before REV builds the same bodies with `workers/avatar` as it was at git revision REV (default:
the last commit before issue #17 made the GLB readable without the skin; `none` to skip) and
prints its sizes and decode times beside.
Timings are wall clock on this machine, after warm_up() has filled the per-process caches.

Run from the repository root:
    python -m bench.avatar_mesh [--bodies 30] [--seed 7] [--browser-bodies 3] [--before REV]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from workers.avatar import SLIDERS, build_avatar, live_state, validate_measurements, warm_up
from workers.avatar.body import (
    arm_frame,
    cage_positions,
    fine_positions,
    layout_for,
    mesh_vertices,
    reference_cm,
    reference_params,
)
from workers.avatar.measure import measure_fast

PRESENTATIONS = ("feminine", "masculine", "neutral")


def random_body(rng: np.random.Generator, presentation: str) -> tuple[dict, dict]:
    masc = {"feminine": 0.0, "neutral": 0.5, "masculine": 1.0}[presentation]
    h = float(np.clip(rng.normal(163 + 13 * masc, 7.5), 150, 198))
    build = float(np.exp(rng.normal(0.02, 0.1)))

    def girth(ratio: float) -> float:
        return round(ratio * h * build * float(np.exp(rng.normal(0, 0.04))), 1)

    underbust = girth(0.475 + 0.025 * masc)
    m = {
        "height": round(h, 1),
        "underbust": underbust,
        "bust": round(underbust + rng.uniform(8, 20) * (1 - masc) + rng.uniform(4, 9) * masc, 1),
        "waist": girth(0.46 + 0.02 * masc),
        "hips": girth(0.615 - 0.05 * masc),
        "thigh": girth(0.345 - 0.025 * masc),
        "upper_arm": girth(0.175 + 0.005 * masc),
        "inseam": round((0.455 + 0.01 * masc) * h * float(np.exp(rng.normal(0, 0.02))), 1),
    }
    custom = {
        "body_shape": presentation,
        "posture": ("relaxed", "upright", "athletic")[int(rng.integers(3))],
    }
    return m, custom


def pct(values: list[float]) -> str:
    a = np.asarray(values)
    return f"p50 {np.percentile(a, 50):7.2f}  p95 {np.percentile(a, 95):7.2f}"


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


_BUILD_BEFORE = """
import json, sys
from pathlib import Path
from workers.avatar import build_avatar
out = Path(sys.argv[1])
for i, (m, c) in enumerate(json.load(sys.stdin)):
    (out / f"{i}.glb").write_bytes(build_avatar(m, c).glb)
"""


BEFORE = "68a87d1"  # workers/avatar before issue #17: quantized positions, 17 joints


def build_before(rev: str, bodies: list[tuple[dict, dict]]) -> list[bytes]:
    """The GLBs workers/avatar as of git revision `rev` writes for the same bodies (with
    today's drape/), or [] when that cannot be had here."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout

    with tempfile.TemporaryDirectory() as old, tempfile.TemporaryDirectory() as out:
        try:
            (Path(old) / "workers" / "avatar").mkdir(parents=True)
            (Path(old) / "workers" / "__init__.py").write_text("")
            for path in git("ls-tree", "--name-only", rev, "workers/avatar/").split():
                (Path(old) / path).write_text(git("show", f"{rev}:{path}"))
            env = {**os.environ, "PYTHONPATH": f"{old}{os.pathsep}{os.getcwd()}"}
            subprocess.run(
                [sys.executable, "-c", _BUILD_BEFORE, out],
                input=json.dumps(bodies), text=True, check=True, env=env, cwd=old,
                capture_output=True,
            )  # fmt: skip
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"before ({rev}): unavailable ({e})")
            return []
        return [(Path(out) / f"{i}.glb").read_bytes() for i in range(len(bodies))]


def sizes_line(label: str, files: list[bytes]) -> str:
    raw = [len(b) for b in files]
    wire = [len(gzip.compress(b, 9)) for b in files]
    kb = [f"max {max(v) / 1000:6.1f} kB  p50 {np.median(v) / 1000:6.1f} kB" for v in (raw, wire)]
    return f"  {label:<24} {kb[0]}  | gzip -9 {kb[1]}"


def browser_lines(files: dict[str, list[bytes]]) -> list[str]:
    from tests.avatar import browser

    why = browser.ready()
    if why:
        return [f"  browser decode skipped: {why}"]
    glbs = {f"k{j}_{i}": data for j, group in enumerate(files.values())
            for i, data in enumerate(group)}  # fmt: skip
    renders = browser.render(glbs)
    lines = []
    for j, kind in enumerate(files):
        for engine in ("three", "filament"):
            ms = [r.decode_ms for (name, e), r in renders.items()
                  if e == engine and name.startswith(f"k{j}_")]  # fmt: skip
            lines.append(f"  {kind:<24} {engine:<8} decode {pct(ms)} ms  over {len(ms)} files")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bodies", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--browser-bodies", type=int, default=3)
    parser.add_argument("--before", default=BEFORE, help="git revision to compare, or none")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    t = time.perf_counter()
    warm_up()
    warm_ms = (time.perf_counter() - t) * 1e3

    bodies: list[tuple[dict, dict]] = []
    while len(bodies) < args.bodies:
        m, c = random_body(rng, PRESENTATIONS[len(bodies) % 3])
        try:
            validate_measurements(m, c)
        except ValueError:
            continue
        bodies.append((m, c))

    stages: dict[str, list[float]] = {}
    sizes, verts, live_ms = [], [], []
    files: dict[str, list[bytes]] = {"meshopt (mesh_url)": [], "plain": [], "lod": []}
    for m, c in bodies:
        a = build_avatar(m, c)
        for stage, ms in a.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
        sizes.append(len(a.glb))
        files["meshopt (mesh_url)"].append(a.glb)
        files["plain"].append(a.glb_plain)
        files["lod"].append(a.glb_lod)
        verts.append(a.vertex_count)
        params = json.loads(json.dumps(a.params))
        for _ in range(10):
            wanted = dict(a.requested)
            for name in SLIDERS:
                wanted[name] = round(wanted[name] * float(np.exp(rng.normal(0, 0.04))), 1)
            try:
                validate_measurements(wanted, c)
            except ValueError:
                continue
            t = time.perf_counter()
            live_state(params, wanted, c)
            live_ms.append((time.perf_counter() - t) * 1e3)

    p = reference_params("neutral")
    lay = layout_for("neutral", "relaxed", reference_cm("neutral"))
    arm = arm_frame(p, lay).d_upper
    mesh_eval = timed(lambda: fine_positions(cage_positions(p, lay)), 200)
    fit_eval = timed(lambda: measure_fast(mesh_vertices(p, lay), arm), 200)

    print(f"avatar build over {len(bodies)} random bodies (ms)")
    for stage in ("fit", "mesh", "glb", "measure", "preview", "total"):
        print(f"  {stage:<8} {pct(stages[stage])}")
    print(f"  glb size  max {max(sizes) / 1000:.1f} kB  p50 {np.median(sizes) / 1000:.1f} kB")
    print(f"  vertices  {min(verts)}")
    before = build_before(args.before, bodies) if args.before != "none" else []
    print(f"GLB bytes over {len(bodies)} bodies (on the wire: as stored; gzip if served so)")
    for kind, group in files.items():
        print(sizes_line(kind, group))
    if before:
        print(sizes_line(f"before ({args.before})", before))
    k = args.browser_bodies
    if k > 0:
        print(f"decode in headless Chromium (SwiftShader), first {k} bodies")
        shown = {"meshopt (mesh_url)": files["meshopt (mesh_url)"][:k], "plain": files["plain"][:k]}
        if before:
            shown["before"] = before[:k]
        for line in browser_lines(shown):
            print(line)
    print(f"live_state over {len(live_ms)} slider updates (ms): {pct(live_ms)}")
    print(f"baseline: one mesh evaluation from scratch (cage + subdivision) {pct(mesh_eval)} ms")
    print(f"          one fit evaluation (affine mesh + 12 tapes)          {pct(fit_eval)} ms")
    print(f"          warm_up() once per process                           {warm_ms:.0f} ms")


if __name__ == "__main__":
    main()
