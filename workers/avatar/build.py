"""build_avatar: measurements + customization -> fitted, measured, skinned GLB and a preview."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace

import numpy as np

from drape.avatar_inputs import (
    POSTURES,
    PRESENTATIONS,
    normalize_customization,
    validate_measurements,
)
from drape.colorspace import hex_to_rgb, srgb_to_linear
from workers.avatar.body import (
    PARAM_NAMES,
    Layout,
    P,
    arm_frame,
    cage_positions,
    layout_for,
    mesh_jacobian,
    mesh_vertices,
    vertex_normals,
)
from workers.avatar.fit import FitError, elasticity, fit
from workers.avatar.glb import GlbMesh, Skeleton, write_glb
from workers.avatar.measure import MEASUREMENTS, measure, measure_fast
from workers.avatar.preview import render_preview
from workers.avatar.skeleton import JOINT_NAMES, JOINT_PARENTS, joint_positions, skin_weights
from workers.avatar.topology import topology

# Morph targets: one per slider. Weight 1.0 adds SLIDER_STEP_CM[name] to that measurement, so a
# client can set weight = (wanted - base) / step; the steps are small so that the per-weight moves
# fit in bytes.
# Neck and calf would cost ~16 KB more than the 400 KB budget leaves; height, inseam and arm
# length change the skeleton and need a rebuild anyway.
SLIDERS = ("bust", "underbust", "waist", "hips", "shoulder_width", "thigh", "upper_arm")
SLIDER_STEP_CM = {name: 0.5 if name == "shoulder_width" else 1.0 for name in SLIDERS}
_SLIDER_PARAM = {name: ("shoulder" if name == "shoulder_width" else name) for name in SLIDERS}
PARAMS_VERSION = 2
ACCEPT = 5e-3  # contract tolerance on measured vs requested
MAX_GLB_BYTES = 400_000


@dataclass(frozen=True)
class AvatarBuild:
    glb: bytes
    preview_png: bytes
    requested: dict[str, float]  # cm, defaults filled in
    measured: dict[str, float]  # cm, measured on the GLB's own (de-quantized) geometry
    landmarks: dict[str, dict]  # where each measurement was taken, GLB coordinates (metres)
    params: dict[str, object]  # JSON-serializable; the start of a live session
    morph_target_names: list[str]
    vertex_count: int
    timings_ms: dict[str, float]


class _Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        yield
        self.ms[name] = round((time.perf_counter() - t) * 1e3, 2)


def build_avatar(
    measurements: Mapping[str, object], customization: Mapping[str, object]
) -> AvatarBuild:
    """Raises ImplausibleMeasurements / InvalidCustomization before any mesh work."""
    timer = _Timer()
    start = time.perf_counter()
    with timer("validate"):
        requested = validate_measurements(measurements, customization)
        custom = normalize_customization(customization)
    presentation, posture = custom["body_shape"], custom["posture"]
    lay = layout_for(presentation, posture, requested)
    targets = np.array([requested[name] for name in MEASUREMENTS]) / 100.0
    with timer("fit"):
        fitted = fit(targets, presentation, posture, lay)
    p = fitted.params
    topo = topology()

    with timer("mesh"):
        cage = cage_positions(p, lay)
        verts = mesh_vertices(p, lay)
        normals = vertex_normals(verts, topo.faces)
        joints, weights = skin_weights()
        steps = slider_steps(p, fitted.measured, presentation, posture)
        jac = mesh_jacobian(lay)
        deltas = [np.einsum("vij,j->vi", jac, s) for s in steps]  # exact: the mesh is affine

    with timer("glb"):
        mesh = GlbMesh(
            positions=verts, normals=normals, faces=topo.faces,
            skeleton=Skeleton(JOINT_NAMES, JOINT_PARENTS, joint_positions(p, lay, cage)),
            joints=joints, weights=weights,
            base_color=(*srgb_to_linear(hex_to_rgb(custom["skin_tone"]) / 255.0), 1.0),
            morph_names=SLIDERS, morph_deltas=tuple(deltas), morph_min_units=2,
            extras={"targetStepsCm": SLIDER_STEP_CM},
        )  # fmt: skip
        glb, glb_verts = write_glb(mesh)
        while len(glb) > MAX_GLB_BYTES:
            # Smaller bodies sit on a finer grid, so more vertices pass the cut: trim the
            # faintest morph tails (a few hundredths of a millimetre per weight) until it fits.
            mesh = replace(mesh, morph_min_units=mesh.morph_min_units + 1)
            glb, glb_verts = write_glb(mesh)
    with timer("measure"):
        arm_dir = arm_frame(p, lay).d_upper
        measured, landmarks = measure(glb_verts, arm_dir)
        response = _slider_response(glb_verts, deltas, arm_dir)
    worst = max(MEASUREMENTS, key=lambda k: abs(measured[k] / requested[k] - 1))
    if abs(measured[worst] / requested[worst] - 1) > ACCEPT:
        raise FitError(f"{worst}: measured {measured[worst]:.2f} cm, asked {requested[worst]} cm")

    with timer("preview"):
        png = render_preview(glb_verts, topo.faces, custom["skin_tone"])
    timer.ms["total"] = round((time.perf_counter() - start) * 1e3, 2)

    params = {
        "version": PARAMS_VERSION,
        "body_shape": presentation,
        "posture": posture,
        "layout": lay.as_dict(),
        "values": {name: float(v) for name, v in zip(PARAM_NAMES, p, strict=True)},
        "measured_cm": {k: round(v, 4) for k, v in measured.items()},
        "sliders": list(SLIDERS),
        "slider_step_cm": SLIDER_STEP_CM,
        "slider_params": [[float(v) for v in s] for s in steps],
        "slider_response_cm": [[float(v) for v in col] for col in response],
    }
    return AvatarBuild(
        glb=glb,
        preview_png=png,
        requested=requested,
        measured={k: round(v, 3) for k, v in measured.items()},
        landmarks=landmarks,
        params=params,
        morph_target_names=list(SLIDERS),
        vertex_count=len(verts),
        timings_ms=timer.ms,
    )


def slider_steps(
    p: np.ndarray, measured_m: np.ndarray, presentation: str, posture: str
) -> np.ndarray:
    """(n_sliders, n_params): parameter change per unit slider weight.

    Each slider moves only its own parameter (so its morph target stays local to that body part),
    by the amount that changes its own measurement by SLIDER_STEP_CM according to the cached
    elasticities. Small side effects on other measurements are in the measured response.
    """
    _, _, e = elasticity(presentation, posture)
    steps = np.zeros((len(SLIDERS), len(p)))
    for k, name in enumerate(SLIDERS):
        i, j = MEASUREMENTS.index(name), P[_SLIDER_PARAM[name]]
        steps[k, j] = SLIDER_STEP_CM[name] / 100.0 * p[j] / (e[i, j] * measured_m[i])
    return steps


def _slider_response(
    verts: np.ndarray, deltas: list[np.ndarray], arm_dir: np.ndarray
) -> np.ndarray:
    """(n_sliders, n_measurements) measured change in cm per unit slider weight."""
    base = measure_fast(verts, arm_dir)
    return np.stack([(measure_fast(verts + d, arm_dir) - base) * 100.0 for d in deltas])


def warm_up() -> None:
    """Fill the per-process caches (topology, per presentation and posture mesh bases and
    elasticities, skin weights): about 0.5 s once, so that no request pays for it."""
    for presentation in PRESENTATIONS:
        for posture in POSTURES:
            build_avatar({"height": 170.0}, {"body_shape": presentation, "posture": posture})


def layout_from_params(params: Mapping[str, object]) -> tuple[np.ndarray, Layout]:
    """(parameter vector, layout) stored by build_avatar. Params written by an older version
    still load (layout fields it did not have are 0), but such a base should be rebuilt."""
    values = params["values"]
    layout = params["layout"]
    assert isinstance(values, Mapping) and isinstance(layout, Mapping)
    known = {f.name for f in fields(Layout)}
    lay = Layout(**{name: float(layout.get(name, 0.0)) for name in known})
    return np.array([float(values[name]) for name in PARAM_NAMES]), lay


__all__ = ["SLIDERS", "AvatarBuild", "build_avatar", "warm_up"]
