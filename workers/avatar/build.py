"""build_avatar: measurements + customization -> fitted, measured, skinned GLB and a preview."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields

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
from workers.avatar.glb import GlbMesh, Skeleton, stored_positions, write_glb
from workers.avatar.measure import MEASUREMENTS, measure, measure_fast
from workers.avatar.preview import render_preview
from workers.avatar.skeleton import JOINT_NAMES, JOINT_PARENTS, joint_positions, skin_weights
from workers.avatar.topology import SUBDIV_LEVELS, level, topology
from workers.avatar.uv import vertex_layout

# Morph targets: one per slider, on glTF's usual 0..1 scale: weight 1 adds SLIDER_RANGE_CM[name]
# to that measurement (and -1 takes it away), so a client sets weight = (wanted - base) / range.
# The mesh is affine in the parameters, so a target is exact at any weight, also past +-1.
# Neck and calf have none (their targets would cost bytes for little use); height, inseam and
# arm length change the skeleton and need a rebuild anyway.
SLIDERS = ("bust", "underbust", "waist", "hips", "shoulder_width", "thigh", "upper_arm")
SLIDER_RANGE_CM = {"bust": 12.0, "underbust": 10.0, "waist": 15.0, "hips": 12.0,
                   "shoulder_width": 4.0, "thigh": 8.0, "upper_arm": 5.0}  # fmt: skip
_SLIDER_PARAM = {name: ("shoulder" if name == "shoulder_width" else name) for name in SLIDERS}
PARAMS_VERSION = 3
ACCEPT = 5e-3  # contract tolerance on measured vs requested
LOD_LEVELS = SUBDIV_LEVELS - 1  # the light mesh: one subdivision step fewer, a quarter of it


@dataclass(frozen=True)
class AvatarBuild:
    glb: bytes  # EXT_meshopt_compression: what the app downloads
    glb_plain: bytes  # the same content uncompressed, for tools without a meshopt decoder
    glb_lod: bytes  # the light mesh (EXT_meshopt_compression), same skeleton and targets
    preview_png: bytes
    requested: dict[str, float]  # cm, defaults filled in
    measured: dict[str, float]  # cm, measured on the GLB's own (float32) geometry
    landmarks: dict[str, dict]  # where each measurement was taken, GLB coordinates (metres)
    params: dict[str, object]  # JSON-serializable; the start of a live session
    morph_target_names: list[str]
    vertex_count: int  # of the full mesh's surface (the GLB writes seam vertices twice)
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
        # Tapes grow a little faster than linearly over a whole range (the hull bridges the
        # breasts, for one): scale each step so that weight 1 measures its range.
        arm_dir = arm_frame(p, lay).d_upper
        own = [(k, MEASUREMENTS.index(name)) for k, name in enumerate(SLIDERS)]
        ranges = np.array([SLIDER_RANGE_CM[name] for name in SLIDERS])
        for _ in range(2):
            deltas = [np.einsum("vij,j->vi", jac, s) for s in steps]  # exact: mesh is affine
            got = _slider_response(verts, deltas, arm_dir)[tuple(np.array(own).T)]
            steps = steps * (ranges / got)[:, None]
        deltas = [np.einsum("vij,j->vi", jac, s) for s in steps]

    with timer("glb"):
        color = (*srgb_to_linear(hex_to_rgb(custom["skin_tone"]) / 255.0), 1.0)
        skeleton = Skeleton(JOINT_NAMES, JOINT_PARENTS, joint_positions(p, lay, cage))
        full = _export(verts, normals, joints, weights, deltas, skeleton, color, SUBDIV_LEVELS)
        lod = _export(verts, normals, joints, weights, deltas, skeleton, color, LOD_LEVELS)
        glb = write_glb(full, compress=True)
        glb_plain = write_glb(full)
        glb_lod = write_glb(lod, compress=True)
        glb_verts = stored_positions(verts, compressed=False)  # what the plain file holds
    with timer("measure"):
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
        "slider_range_cm": SLIDER_RANGE_CM,
        "slider_params": [[float(v) for v in s] for s in steps],
        "slider_response_cm": [[float(v) for v in col] for col in response],
    }
    return AvatarBuild(
        glb=glb,
        glb_plain=glb_plain,
        glb_lod=glb_lod,
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
    by the amount that changes its own measurement by SLIDER_RANGE_CM according to the cached
    elasticities. Small side effects on other measurements are in the measured response.
    """
    _, _, e = elasticity(presentation, posture)
    steps = np.zeros((len(SLIDERS), len(p)))
    for k, name in enumerate(SLIDERS):
        i, j = MEASUREMENTS.index(name), P[_SLIDER_PARAM[name]]
        steps[k, j] = SLIDER_RANGE_CM[name] / 100.0 * p[j] / (e[i, j] * measured_m[i])
    return steps


def _export(
    verts: np.ndarray,
    normals: np.ndarray,
    joints: np.ndarray,
    weights: np.ndarray,
    deltas: list[np.ndarray],
    skeleton: Skeleton,
    color: tuple[float, ...],
    levels: int,
) -> GlbMesh:
    """The GLB content of one subdivision level: vertices in the written order (seam vertices
    twice), with texture coordinates."""
    vl = vertex_layout(levels)
    if levels != SUBDIV_LEVELS:  # a coarser level's vertices are the first fine ones
        normals = vertex_normals(verts[: level(levels).n], level(levels).faces)
    src = vl.src
    return GlbMesh(
        positions=verts[src], normals=normals[src], uvs=vl.uvs, faces=vl.faces,
        skeleton=skeleton, joints=joints[src], weights=weights[src],
        base_color=(color[0], color[1], color[2], color[3]),
        morph_names=SLIDERS, morph_deltas=tuple(d[src] for d in deltas),
        extras={"targetRangesCm": SLIDER_RANGE_CM},
        name="body" if levels == SUBDIV_LEVELS else "body_lod",
    )  # fmt: skip


def _slider_response(
    verts: np.ndarray, deltas: list[np.ndarray], arm_dir: np.ndarray
) -> np.ndarray:
    """(n_sliders, n_measurements) measured change in cm per unit slider weight."""
    base = measure_fast(verts, arm_dir)
    return np.stack([(measure_fast(verts + d, arm_dir) - base) * 100.0 for d in deltas])


def warm_up() -> None:
    """Fill the per-process caches (topology, per presentation and posture mesh bases and
    elasticities, skin weights, texture coordinates and vertex order): a few seconds once, so
    that no request pays for it."""
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
