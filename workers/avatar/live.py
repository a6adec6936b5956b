"""Live slider sessions: morph weights for new measurements without rebuilding the GLB.

The client holds the GLB of a base build, whose morph targets are exactly the mesh change of
`params["slider_params"]` (one parameter step per slider). Because the mesh is affine in those
parameters, base + sum(weight * target) is the mesh of base params + sum(weight * step), so the
weights can be solved against the measured response stored with the build and then checked by
measuring that mesh - one or two ~1.5 ms evaluations, no refit and no new GLB. Weights are on
the GLB's scale: 1 is a target's whole range (`params["slider_range_cm"]`, also in the GLB's
mesh.extras.targetRangesCm), -1 the same range down.

Only the slider measurements can move here. Height, inseam, arm length, neck, calf, body shape
and posture changes keep their base values until the next full build.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from drape.avatar_inputs import validate_measurements
from workers.avatar.body import arm_frame, mesh_vertices
from workers.avatar.build import layout_from_params
from workers.avatar.measure import MEASUREMENTS, measure_fast

TOLERANCE = 1e-3  # relative, on the slider measurements
MAX_STEPS = 4


def live_state(
    base_params: Mapping[str, object],
    measurements: Mapping[str, object],
    customization: Mapping[str, object] | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """(morph weights by target name, measured cm of the morphed mesh).

    Raises ImplausibleMeasurements like build_avatar. Deterministic for equal inputs.
    """
    custom = {"body_shape": base_params["body_shape"], "posture": base_params["posture"]}
    custom.update(customization or {})
    requested = validate_measurements(measurements, custom)
    p0, lay = layout_from_params(base_params)
    sliders = list(base_params["sliders"])  # type: ignore[call-overload]
    steps = np.array(base_params["slider_params"], dtype=np.float64)
    response = np.array(base_params["slider_response_cm"], dtype=np.float64)
    rows = [MEASUREMENTS.index(name) for name in sliders]
    a = response[:, rows].T  # d(slider measurement) / d(weight)
    measured0 = base_params["measured_cm"]
    assert isinstance(measured0, Mapping)
    target = np.array([requested[name] for name in sliders])
    base = np.array([float(measured0[name]) for name in sliders])

    arm_dir = arm_frame(p0, lay).d_upper
    w = np.linalg.solve(a, target - base)
    for _ in range(MAX_STEPS):
        verts = mesh_vertices(p0 + w @ steps, lay)
        m = measure_fast(verts, arm_dir) * 100.0
        miss = target - m[rows]
        if np.abs(miss / target).max() <= TOLERANCE:
            break
        w = w + np.linalg.solve(a, miss)
    weights = {name: round(float(v), 5) for name, v in zip(sliders, w, strict=True)}
    return weights, {name: round(float(v), 3) for name, v in zip(MEASUREMENTS, m, strict=True)}
