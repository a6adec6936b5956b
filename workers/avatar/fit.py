"""Find the shape parameters whose mesh measures what was requested.

Every measurement is driven mainly by the parameter of the same name, and nearly homogeneously
(doubling a girth scale doubles that tape), so in log space the system is close to linear with an
almost constant Jacobian: the elasticities E = d log(measurement) / d log(parameter). E is
measured once per presentation and posture on a reference body and cached. The fit starts from
the linearised solution and lets MINPACK's hybrid Powell method (`scipy.optimize.root`, which
refines the Jacobian with rank-1 updates) close the remaining gap, typically in 3-4 mesh
evaluations of ~1.5 ms each.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.optimize import root

from workers.avatar.body import (
    Layout,
    arm_frame,
    layout_for,
    mesh_vertices,
    reference_cm,
    reference_params,
)
from workers.avatar.measure import MEASUREMENTS, measure_fast

STOP = 2e-5  # relative error at which the fit stops
TOLERANCE = 1e-3  # relative error above which it gives up; the contract allows 5e-3


class FitError(RuntimeError):
    """The solver could not reach the requested measurements."""


@dataclass(frozen=True)
class Fit:
    params: np.ndarray
    measured: np.ndarray  # metres, MEASUREMENTS order
    evaluations: int


def model_measurements(p: np.ndarray, lay: Layout) -> np.ndarray:
    return measure_fast(mesh_vertices(p, lay), arm_frame(p, lay).d_upper)


@cache
def elasticity(presentation: str, posture: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log p_ref, log m_ref, E) on the reference body of that presentation and posture."""
    p = reference_params(presentation)
    lay = layout_for(presentation, posture, reference_cm(presentation))
    log_m = np.log(model_measurements(p, lay))
    step = 1e-3
    e = np.empty((len(MEASUREMENTS), len(p)))
    for j in range(len(p)):
        q = p.copy()
        q[j] *= np.exp(step)
        e[:, j] = (np.log(model_measurements(q, lay)) - log_m) / step
    return np.log(p), log_m, e


class _Converged(Exception):
    pass


def fit(targets_m: np.ndarray, presentation: str, posture: str, lay: Layout) -> Fit:
    """Parameters whose measurements match `targets_m` (metres, MEASUREMENTS order)."""
    log_p_ref, log_m_ref, e = elasticity(presentation, posture)
    log_t = np.log(targets_m)
    q0 = log_p_ref + np.linalg.solve(e, log_t - log_m_ref)
    calls = 0
    best: dict[str, np.ndarray] = {}
    seen: dict[bytes, np.ndarray] = {}

    def residual(q: np.ndarray) -> np.ndarray:
        nonlocal calls
        key = q.tobytes()
        if key in seen:  # scipy and MINPACK both evaluate the starting point
            return seen[key]
        calls += 1
        m = model_measurements(np.exp(q), lay)
        r = seen[key] = np.log(m) - log_t
        if "r" not in best or np.abs(r).max() < np.abs(best["r"]).max():
            best.update(q=q.copy(), m=m, r=r)
        if np.abs(r).max() <= STOP:
            raise _Converged
        return r

    try:
        root(residual, q0, jac=lambda q: e, method="hybr", options={"xtol": 1e-7})
        for _ in range(8):
            # hybr stops on small steps; plain chord steps finish the job if it stalled early.
            residual(best["q"] - np.linalg.solve(e, best["r"]))
    except _Converged:
        pass
    worst = float(np.abs(best["r"]).max())
    if worst > TOLERANCE:
        name = MEASUREMENTS[int(np.argmax(np.abs(best["r"])))]
        raise FitError(f"could not fit {name} (relative error {worst:.2e})")
    return Fit(params=np.exp(best["q"]), measured=best["m"], evaluations=calls)
