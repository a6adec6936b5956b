"""Avatar build timings on random plausible bodies (workers/avatar).

Prints, per stage of build_avatar (fit, mesh, glb, measure, preview, total), p50/p95 over the
bodies; the GLB size and vertex count; live_state p50/p95 over slider updates; and, as a
baseline, one plain mesh evaluation (cage + subdivision) and one fit evaluation (mesh + tapes).
Timings are wall clock on this machine, after warm_up() has filled the per-process caches.

Run from the repository root: python -m bench.avatar_mesh [--bodies 30] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bodies", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
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
    for m, c in bodies:
        a = build_avatar(m, c)
        for stage, ms in a.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
        sizes.append(len(a.glb))
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
    print(f"live_state over {len(live_ms)} slider updates (ms): {pct(live_ms)}")
    print(f"baseline: one mesh evaluation from scratch (cage + subdivision) {pct(mesh_eval)} ms")
    print(f"          one fit evaluation (affine mesh + 12 tapes)          {pct(fit_eval)} ms")
    print(f"          warm_up() once per process                           {warm_ms:.0f} ms")


if __name__ == "__main__":
    main()
