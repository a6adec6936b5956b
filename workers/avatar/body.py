"""Shape parameters -> control cage -> smooth fine mesh, skeleton and skin weights.

Units are metres; Y is up, the body faces +Z, its left side is +X, the soles rest on y = 0.

There are two kinds of inputs:
- `Layout`: fixed for one avatar before fitting (presentation, posture and a few proportions
  derived straight from the request, such as breast projection and leg spacing);
- the 12 fitted parameters `PARAM_NAMES`, one per measurement. Lengths are in metres; girths
  are dimensionless scales of reference cross-sections. Each girth scales the cage rings at its
  landmark (and blends into the neighbouring rings) horizontally about the ring centre - or, on
  the arm, across the arm axis - so it never moves a vertex along the measuring plane's normal.
  That makes each tape measurement depend mostly on its own parameter, and makes the mesh an
  affine function of the girths and shoulder width, so morph targets are exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from functools import cache

import numpy as np

from workers.avatar.topology import ARM_HOLE, TORSO_N, Topology, topology

PARAM_NAMES = (
    "height", "crotch", "shoulder", "arm", "bust", "underbust",
    "waist", "hips", "neck", "thigh", "upper_arm", "calf",
)  # fmt: skip
GIRTHS = ("bust", "underbust", "waist", "hips", "neck", "thigh", "upper_arm", "calf")
P = {name: i for i, name in enumerate(PARAM_NAMES)}

REF_HEIGHT = 1.70  # head, hands and feet scale with height / REF_HEIGHT
UPPER_ARM_SHARE = 0.56  # shoulder->elbow share of the shoulder->wrist joint distance


@dataclass(frozen=True)
class Layout:
    masc: float  # 0 = feminine ... 1 = masculine proportions
    arm_angle: float  # degrees below horizontal
    arm_forward: float  # forward (z) component of the arm direction
    elbow_bend: float  # forward (z) component added to the forearm direction
    stance: float  # ankle spread beyond the hip, fraction of height
    head_forward: float  # metres, head and neck shift along z
    chest_forward: float  # metres, upper torso shift along z
    torso_square: float  # lowers the ring exponents: squarer, more muscular cross-sections
    breast: float  # metres, forward projection of the bust ring
    belly: float  # metres, forward projection of the waist rings
    leg_x: float  # metres, leg axis distance from the mid plane at the crotch
    chest_side: float  # metres, half width of the chest just under the armpits

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


POSTURES: dict[str, dict[str, float]] = {
    # Small pose and shape changes only; measurements are re-fitted whatever the posture.
    "relaxed": {"arm_angle": 43.0, "arm_forward": 0.06, "elbow_bend": 0.12, "stance": 0.022,
                "head_forward": 0.008, "chest_forward": -0.004, "torso_square": 0.0},
    "upright": {"arm_angle": 41.0, "arm_forward": 0.02, "elbow_bend": 0.06, "stance": 0.018,
                "head_forward": -0.006, "chest_forward": 0.008, "torso_square": 0.0},
    "athletic": {"arm_angle": 40.0, "arm_forward": 0.04, "elbow_bend": 0.10, "stance": 0.034,
                 "head_forward": 0.0, "chest_forward": 0.004, "torso_square": 0.07},
}  # fmt: skip

PRESENTATION_MASC = {"feminine": 0.0, "neutral": 0.5, "masculine": 1.0}


# Torso reference rings at the reference height, feminine / masculine:
# (height fraction between crotch and shoulder, half width, front depth, back depth,
#  centre z, squareness exponent). Depths are measured from the centre z.
_TORSO_REF = {
    "junction":     ((0.00, .172, .080, .098, -.008, .75), (0.00, .160, .082, .090, -.004, .75)),
    "hips":         ((0.15, .182, .085, .112, -.008, .80), (0.15, .168, .090, .098, -.004, .80)),
    "abdomen":      ((0.27, .172, .090, .098, -.004, .82), (0.27, .163, .096, .090, -.002, .82)),
    "high_hip":     ((0.37, .155, .086, .082, 0.000, .85), (0.37, .157, .098, .084, 0.000, .85)),
    "waist":        ((0.47, .136, .080, .074, 0.004, .88), (0.47, .154, .098, .082, 0.002, .85)),
    "ribs":         ((0.58, .138, .080, .080, 0.004, .88), (0.58, .160, .098, .088, 0.002, .85)),
    "underbust":    ((0.67, .140, .083, .084, 0.002, .88), (0.67, .166, .100, .094, 0.000, .85)),
    "bust":         ((0.75, .140, .087, .088, 0.000, .85), (0.75, .163, .106, .101, 0.000, .82)),
    "armpit":       ((0.86, .150, .086, .086, 0.000, .85), (0.86, .175, .100, .096, 0.000, .82)),
    "shoulder_mid": ((.935, .150, .078, .082, -.004, .85), (.935, .175, .088, .090, -.004, .82)),
    "shoulder":     ((1.00, .140, .060, .070, -.010, .85), (1.00, .160, .064, .076, -.010, .82)),
}  # fmt: skip

# Which parameters scale each torso ring (weights sum to 1). A pair scales the front and the
# back of the ring differently: a bust is mostly in front, so the back follows the underbust.
_TORSO_SCALE: dict[str, dict[str, float] | tuple[dict[str, float], dict[str, float]]] = {
    "junction": {"hips": 1.0},
    "hips": {"hips": 1.0},
    "abdomen": {"hips": 0.6, "waist": 0.4},
    "high_hip": {"hips": 0.3, "waist": 0.7},
    "waist": {"waist": 1.0},
    "ribs": {"waist": 0.45, "underbust": 0.55},
    "underbust": {"underbust": 1.0},
    "bust": ({"bust": 0.7, "underbust": 0.3}, {"bust": 0.3, "underbust": 0.7}),
    "armpit": ({"bust": 0.55, "h": 0.45}, {"underbust": 0.5, "bust": 0.1, "h": 0.4}),
    "shoulder_mid": {"bust": 0.35, "h": 0.65},
    "shoulder": {"bust": 0.25, "h": 0.75},
}

_BELLY = {"abdomen": 0.75, "high_hip": 1.0, "waist": 0.9, "ribs": 0.35}
_UNDER_ARM = {"underbust": 0.5, "bust": 1.0, "armpit": 1.0, "shoulder_mid": 1.0}
_BREAST = {"underbust": 0.3, "bust": 1.0, "armpit": 0.45}
# Per torso column (0 = front centre, 4 = left side, 8 = back centre, 12 = right side).
_MOUNDS = np.array([0.4, 1, 1, 0.45, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.45, 1, 1])
_MOUNDS_SAG = np.array([0, 1, 1, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.3, 1, 1])
_BUTTOCKS = np.array([0, 0, 0, 0, 0, 0.4, 1, 1, 0.55, 1, 1, 0.4, 0, 0, 0, 0])
_SHOULDER_RISE = np.array([4, 12, 9, 0, 0, 0, 9, 14, 14, 14, 9, 0, 0, 0, 9, 12]) / 1000

# Leg rings: (height, centre z, lateral, medial, front, back radii, scale weights).
# Heights: "C-" rings are below the crotch by a fraction of height; plain floats are fractions of
# the crotch height. Radii in metres at the reference body.
_LEG_REF = {
    "thigh":     (("C-", 0.036), 0.000, 0.086, 0.074, 0.084, 0.090, {"thigh": 1.0}),
    "mid_thigh": ((None, 0.78), 0.004, 0.072, 0.062, 0.074, 0.074, {"thigh": 0.85, "h": 0.15}),
    "knee":      ((None, 0.585), 0.010, 0.057, 0.058, 0.057, 0.054,
                  {"thigh": 0.3, "calf": 0.3, "h": 0.4}),
    "calf":      ((None, 0.42), -0.006, 0.054, 0.058, 0.044, 0.066, {"calf": 1.0}),
    "low_calf":  ((None, 0.235), -0.008, 0.043, 0.043, 0.037, 0.043, {"calf": 0.6, "h": 0.4}),
    "ankle":     ((None, 0.105), -0.006, 0.036, 0.036, 0.036, 0.033, {"h": 1.0}),
}  # fmt: skip

# Leg ring vertex angles (degrees, 0 = front, 90 = lateral). 0..8 sit under torso junction
# columns 0..8, 9..11 under the crotch seam (back to front).
_LEG_ANGLES = np.radians(np.r_[np.linspace(-45.0, 225.0, 9), 247.5, 270.0, 292.5])
_ARM_ANGLES = np.radians(135.0 + 45.0 * np.arange(8))  # 0 = up (u), 90 = front (w)


@dataclass(frozen=True)
class ArmFrame:
    joint: np.ndarray  # shoulder joint centre
    d_upper: np.ndarray  # unit direction shoulder -> elbow
    d_fore: np.ndarray  # unit direction elbow -> wrist
    elbow: np.ndarray
    wrist: np.ndarray


def layout_for(presentation: str, posture: str, cm: Mapping[str, float]) -> Layout:
    """The fixed part of the shape, from the presentation, posture and requested measurements."""
    masc = PRESENTATION_MASC[presentation]
    pose = POSTURES[posture]
    # Breasts carry most of the bust/underbust difference on a feminine body and little of it
    # on a masculine one (where it is mostly chest depth); the fit scales the rest.
    diff = max(cm["bust"] - cm["underbust"], 0.0) / 100.0
    breast = diff * (0.34 - 0.26 * masc)
    # A waist wider than the body's usual proportion to ribs and hips grows forward, as a belly.
    usual = 0.85 + 0.06 * masc
    excess = cm["waist"] / (0.5 * (cm["underbust"] + cm["hips"])) - usual - 0.03
    belly = max(excess, 0.0) * cm["waist"] / 100.0 * 0.5
    # Legs are spaced so that the thighs never touch at the thigh tape, whatever the hips.
    r_thigh = cm["thigh"] / 100.0 / (2 * np.pi)
    hip_half = cm["hips"] / 100.0 * (0.178 - 0.01 * masc)
    leg_x = max(hip_half - 0.95 * r_thigh, 0.90 * r_thigh + 0.012)
    # The chest's sides stay just inside the armpits (see _torso).
    chest_side = cm["shoulder_width"] / 200.0 - 0.052 * cm["height"] / 100.0 / REF_HEIGHT
    return Layout(masc=masc, breast=breast, belly=belly, leg_x=leg_x, chest_side=chest_side, **pose)


def _blend(fem: tuple[float, ...], masc: tuple[float, ...], t: float) -> np.ndarray:
    return (1 - t) * np.asarray(fem) + t * np.asarray(masc)


def _sgnpow(v: np.ndarray, e: float) -> np.ndarray:
    return np.sign(v) * np.abs(v) ** e


def _scale(p: np.ndarray, weights: dict[str, float]) -> float:
    h = p[P["height"]] / REF_HEIGHT
    return float(sum(w * (h if k == "h" else p[P[k]]) for k, w in weights.items()))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def arm_frame(p: np.ndarray, lay: Layout) -> ArmFrame:
    h = p[P["height"]] / REF_HEIGHT
    a = np.radians(lay.arm_angle)
    y_sh = _shoulder_y(p)
    # The shoulder joint sits under the acromion, slightly inside it.
    joint = np.array([p[P["shoulder"]] - 0.040 * h, y_sh - 0.046 * h, -0.012 + lay.chest_forward])
    d_upper = _unit(np.array([np.cos(a), -np.sin(a), lay.arm_forward]))
    d_fore = _unit(d_upper + np.array([0.0, 0.0, lay.elbow_bend]))
    elbow = joint + UPPER_ARM_SHARE * p[P["arm"]] * d_upper
    wrist = elbow + (1 - UPPER_ARM_SHARE) * p[P["arm"]] * d_fore
    return ArmFrame(joint, d_upper, d_fore, elbow, wrist)


def _shoulder_y(p: np.ndarray) -> float:
    return float(0.818 * p[P["height"]])


def _ring_frame(direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, w): u is 'up' across the tube, w = direction x u points forward for arm rings."""
    up = np.array([0.0, 1.0, 0.0])
    u = _unit(up - up.dot(direction) * direction)
    return u, np.cross(direction, u)


def _arm_ring(center: np.ndarray, direction: np.ndarray, ru: float, rw: float) -> np.ndarray:
    u, w = _ring_frame(direction)
    return center + np.outer(ru * np.cos(_ARM_ANGLES), u) + np.outer(rw * np.sin(_ARM_ANGLES), w)


def cage_positions(p: np.ndarray, lay: Layout) -> np.ndarray:
    """Control cage vertex positions (before the fine mesh is dropped onto the floor)."""
    topo = topology()
    pos = np.zeros((topo.n_cage, 3))
    _torso(pos, topo, p, lay)
    _neck_head(pos, topo, p, lay)
    _arm(pos, topo, p, lay)
    _leg(pos, topo, p, lay)
    mirrored = ~topo.primary
    pos[mirrored] = pos[topo.mirror[mirrored]] * np.array([-1.0, 1.0, 1.0])
    return pos


def _torso(pos: np.ndarray, topo: Topology, p: np.ndarray, lay: Layout) -> None:
    t = lay.masc
    crotch, y_sh = p[P["crotch"]], _shoulder_y(p)
    phi = 2 * np.pi * np.arange(TORSO_N) / TORSO_N
    s, c = np.sin(phi), np.cos(phi)
    front = np.clip(c, 0.0, 1.0) ** 0.7  # 1 at the front centre, 0 from the sides back
    for name, (fem, masc) in _TORSO_REF.items():
        f, a, bf, bb, cz, e = _blend(fem, masc, t)
        e -= lay.torso_square
        weights = _TORSO_SCALE[name]
        if isinstance(weights, tuple):
            k = front * _scale(p, weights[0]) + (1 - front) * _scale(p, weights[1])
        else:
            k = np.full(TORSO_N, _scale(p, weights))
        lift = max(f - 0.6, 0.0) / 0.4  # posture moves the upper torso only
        cz = cz + lift * lay.chest_forward
        x = k * a * _sgnpow(s, e)
        if name in _UNDER_ARM:
            # The sides of the chest stay just inside the armpits, where the arms hang; a bigger
            # girth there grows in front and behind instead of pushing into the arms. The side
            # comes from the requested shoulder width (a layout length, not the shoulder
            # parameter) so that the shoulder slider's morph does not reach into the chest.
            tie = _UNDER_ARM[name] * s**2
            x = (1 - tie) * x + tie * lay.chest_side * _sgnpow(s, e)
        z = cz + k * np.where(c >= 0, bf, bb) * _sgnpow(c, e)
        y = np.full(TORSO_N, crotch + f * (y_sh - crotch))
        if name in _BREAST:  # two mounds either side of the front centre, resting a little low
            z += _BREAST[name] * lay.breast * _MOUNDS
            y -= 0.25 * lay.breast * _MOUNDS_SAG
        elif name in ("hips", "junction"):  # buttocks: the back columns bulge out of the ellipse
            g = (0.018 if name == "hips" else 0.010) * (1.2 - 0.6 * t) * k
            z -= g * _BUTTOCKS
        if name in _BELLY:
            z += _BELLY[name] * lay.belly * front**1.5
        if name == "shoulder":  # the shoulder line rises towards the neck
            y += p[P["height"]] * _SHOULDER_RISE
        ring = topo.rings[name]
        ok = ring >= 0
        pos[ring[ok]] = np.stack([x, y, z], axis=1)[ok]

    # Crotch seam, front to back, under the junction ring.
    j = topo.rings["junction"]
    k = p[P["hips"]]
    front, back = pos[j[0], 2], pos[j[8], 2]
    h = p[P["height"]]
    pos[topo.seam] = np.array(
        [
            [0.0, crotch + 0.010 * h, 0.45 * front],
            [0.0, crotch - 0.004 * h, 0.5 * (0.45 * front + 0.5 * back) - 0.004 * k],
            [0.0, crotch + 0.012 * h, 0.5 * back],
        ]
    )  # fmt: skip

    # Arm hole: an ellipse around the shoulder joint, tilted half way down to the arm.
    arm = arm_frame(p, lay)
    hh = h / REF_HEIGHT
    ua = p[P["upper_arm"]]
    acromion = np.array([p[P["shoulder"]], y_sh, arm.joint[2]])
    beta = 0.5 * np.radians(lay.arm_angle)
    root_dir = np.array([np.cos(beta), -np.sin(beta), 0.0])
    ru, rw = 0.054 * hh, 0.050 * (0.5 * hh + 0.5 * ua)
    u, _ = _ring_frame(root_dir)
    centre = acromion - ru * u
    loop = _arm_ring(centre, root_dir, ru, rw)
    for (ring_name, col), xyz in zip(ARM_HOLE, loop, strict=True):
        pos[topo.rings[ring_name][col]] = xyz


def _neck_head(pos: np.ndarray, topo: Topology, p: np.ndarray, lay: Layout) -> None:
    h = p[P["height"]]
    hh = h / REF_HEIGHT
    n = p[P["neck"]]
    t = lay.masc
    phi = 2 * np.pi * np.arange(TORSO_N) / TORSO_N
    s, c = np.sin(phi), np.cos(phi)
    front = np.clip(c, 0, None)
    # (y / H, half width, front depth, back depth, centre z, scale by neck (else by height))
    rings = {
        "neck_base": (0.839, 0.080, 0.060, 0.066, -0.024, 0.5),
        "neck": (0.858, 0.052, 0.050, 0.052, -0.018, 1.0),
        "neck_top": (0.876, 0.053, 0.051, 0.055, -0.012, 0.75),
        "jaw": (0.893, 0.060, 0.078, 0.056, 0.000, 0.0),
        "mouth": (0.913, 0.068, 0.086, 0.088, -0.002, 0.0),
        "nose": (0.933, 0.074, 0.090, 0.098, -0.004, 0.0),
        "eyes": (0.954, 0.077, 0.086, 0.102, -0.005, 0.0),
        "forehead": (0.979, 0.072, 0.076, 0.094, -0.006, 0.0),
    }
    for name, (fy, a, bf, bb, cz, wn) in rings.items():
        k = wn * n + (1 - wn) * hh * (1.0 + 0.04 * (t - 0.5))
        x = k * a * _sgnpow(s, 0.9)
        z = cz * hh + lay.head_forward * (0.5 if name.startswith("neck") else 1.0)
        z = z + k * np.where(c >= 0, bf, bb) * _sgnpow(c, 0.9)
        y = np.full(TORSO_N, fy * h)
        if name == "jaw":  # chin hangs lower than the back of the jaw
            y -= 0.014 * h * front**2
        if name == "nose":
            z += 0.016 * hh * (np.abs(phi - np.pi) > 2.9)  # the front column only
        pos[topo.rings[name]] = np.stack([x, y, z], axis=1)
    pos[topo.caps["head"]] = [0.0, 1.0 * h, (-0.010 * hh + lay.head_forward)]


def _arm(pos: np.ndarray, topo: Topology, p: np.ndarray, lay: Layout) -> None:
    arm = arm_frame(p, lay)
    hh = p[P["height"]] / REF_HEIGHT
    ua = p[P["upper_arm"]]
    lu = UPPER_ARM_SHARE * p[P["arm"]]
    lf = (1 - UPPER_ARM_SHARE) * p[P["arm"]]
    hand = 0.108 * p[P["height"]]
    fore_k = 0.25 * ua + 0.75 * hh
    elbow_k = 0.5 * ua + 0.5 * hh
    # Radii of unfitted rings are ~10% over the intended size: subdivision shrinks an 8-sided
    # tube by about that much.
    specs = {  # centre, direction, radius across (u), radius along w
        "deltoid": (arm.joint + 0.16 * lu * arm.d_upper, arm.d_upper, 0.052 * ua, 0.051 * ua),
        "upper_arm": (arm.joint + 0.52 * lu * arm.d_upper, arm.d_upper, 0.046 * ua, 0.048 * ua),
        "elbow": (arm.elbow, _unit(arm.d_upper + arm.d_fore), 0.043 * elbow_k, 0.044 * elbow_k),
        "forearm": (arm.elbow + 0.33 * lf * arm.d_fore, arm.d_fore, 0.045 * fore_k, 0.049 * fore_k),
        "wrist": (arm.wrist, arm.d_fore, 0.024 * hh, 0.032 * hh),
        "palm": (arm.wrist + 0.40 * hand * arm.d_fore, arm.d_fore, 0.024 * hh, 0.050 * hh),
        "fingers": (arm.wrist + 0.74 * hand * arm.d_fore, arm.d_fore, 0.019 * hh, 0.046 * hh),
    }  # fmt: skip
    for name, (centre, direction, ru, rw) in specs.items():
        pos[topo.rings[f"{name}_l"]] = _arm_ring(centre, direction, ru, rw)
    pos[topo.caps["hand_l"]] = arm.wrist + 0.97 * hand * arm.d_fore


def leg_axis(p: np.ndarray, lay: Layout, down: float) -> float:
    """x of the left leg axis a fraction `down` of the way from the crotch (0) to the floor (1):
    the legs spread out in a straight line towards the ankles."""
    return float(lay.leg_x + lay.stance * p[P["height"]] * down)


def _leg(pos: np.ndarray, topo: Topology, p: np.ndarray, lay: Layout) -> None:
    h = p[P["height"]]
    hh = h / REF_HEIGHT
    crotch = p[P["crotch"]]
    s, c = np.sin(_LEG_ANGLES), np.cos(_LEG_ANGLES)
    for name, ((kind, fy), cz, r_lat, r_med, r_front, r_back, weights) in _LEG_REF.items():
        k = _scale(p, weights)
        y = crotch - fy * h if kind == "C-" else fy * crotch
        # Fraction of the way down the leg; the thigh ring's uses the typical crotch height
        # (0.46 H) so that the cage stays affine in the parameters.
        cx = leg_axis(p, lay, fy / 0.46 if kind == "C-" else 1.0 - fy)
        x = cx + k * np.where(s >= 0, r_lat, r_med) * s
        z = cz * hh + k * np.where(c >= 0, r_front, r_back) * c
        pos[topo.rings[f"{name}_l"]] = np.stack([x, np.full_like(x, y), z], axis=1)

    # Foot: the leg tube bends forward. Ring "front" (angle 0) turns from +z to +y (instep).
    ax = leg_axis(p, lay, 1.0) + 0.004 * hh
    az = -0.006 * hh
    feet = {  # bend (deg), centre (dx, y, dz) in units of hh, lateral, medial, front, back
        "heel": (50.0, (0.002, 0.031, 0.004), 0.037, 0.037, 0.049, 0.056),
        "midfoot": (90.0, (0.008, 0.029, 0.085), 0.048, 0.044, 0.036, 0.032),
        "ball": (90.0, (0.014, 0.020, 0.160), 0.054, 0.048, 0.023, 0.021),
    }
    for name, (bend, (dx, y, dz), r_lat, r_med, r_front, r_back) in feet.items():
        g = np.radians(bend)
        front_dir = np.array([0.0, np.sin(g), np.cos(g)])
        centre = np.array([ax + dx * hh, y * hh, az + dz * hh])
        lateral = np.where(s >= 0, r_lat, r_med) * s * hh
        along = np.where(c >= 0, r_front, r_back) * c * hh
        pos[topo.rings[f"{name}_l"]] = (
            centre + np.outer(lateral, [1.0, 0, 0]) + np.outer(along, front_dir)
        )
    pos[topo.caps["foot_l"]] = [ax + 0.016 * hh, 0.018 * hh, az + 0.222 * hh]


def fine_positions(cage: np.ndarray) -> np.ndarray:
    """Smooth mesh vertices, dropped so that the lowest point touches y = 0."""
    verts = topology().subdiv @ cage
    verts[:, 1] -= verts[:, 1].min()
    return verts


# Request-derived lengths the cage is affine in.
_LAYOUT_LENGTHS = ("breast", "belly", "leg_x", "chest_side")


def _coefficients(p: np.ndarray, lay: Layout) -> np.ndarray:
    return np.concatenate([[1.0], p, [getattr(lay, name) for name in _LAYOUT_LENGTHS]])


def _shape_key(lay: Layout) -> Layout:
    return replace(lay, **dict.fromkeys(_LAYOUT_LENGTHS, 0.0))


@cache
def _fine_basis(shape: Layout) -> np.ndarray:
    """(n_fine * 3, 17): fine vertices = basis @ [1, params, breast, belly, leg_x, chest_side].

    cage_positions is affine in the parameters (and in the request-derived layout lengths) for
    a given presentation and posture, so 17 evaluations pin it down exactly and a mesh
    evaluation becomes one small matrix-vector product.
    """
    p0 = reference_params("neutral")
    c0 = cage_positions(p0, shape)
    cols = []
    for j in range(len(p0)):
        q = p0.copy()
        q[j] += 1.0
        cols.append(cage_positions(q, shape) - c0)
    for name in _LAYOUT_LENGTHS:
        cols.append(cage_positions(p0, replace(shape, **{name: 1.0})) - c0)
    const = c0 - sum(p0[j] * cols[j] for j in range(len(p0)))
    cage_basis = np.stack([const, *cols], axis=-1)  # (n_cage, 3, 15)
    fine = topology().subdiv @ cage_basis.reshape(len(const), -1)
    return np.ascontiguousarray(fine.reshape(-1, cage_basis.shape[-1]))


def mesh_vertices(p: np.ndarray, lay: Layout) -> np.ndarray:
    """Same as fine_positions(cage_positions(p, lay)), about ten times faster."""
    basis = _fine_basis(_shape_key(lay))
    # einsum rather than BLAS: a threaded gemv stalls for milliseconds when the other core is busy.
    verts = np.einsum("ij,j->i", basis, _coefficients(p, lay)).reshape(-1, 3)
    verts[:, 1] -= verts[:, 1].min()
    return verts


def mesh_jacobian(lay: Layout) -> np.ndarray:
    """(n_fine, 3, 12): d(vertex position) / d(parameter), exact since the mesh is affine."""
    basis = _fine_basis(_shape_key(lay))
    return basis[:, 1 : 1 + len(PARAM_NAMES)].reshape(-1, 3, len(PARAM_NAMES))


def _shoulder_ref(masc: float) -> float:
    """Acromion half-width of the reference body, metres."""
    return 0.5 * (0.225 + 0.01 * masc) * REF_HEIGHT


def reference_cm(presentation: str) -> dict[str, float]:
    """Request-side measurements (cm) of the reference body, for its layout."""
    masc = PRESENTATION_MASC[presentation]
    return {"height": 100 * REF_HEIGHT, "bust": 92.0, "underbust": 80.0, "waist": 76.0,
            "hips": 100.0, "thigh": 56.0, "shoulder_width": 200 * _shoulder_ref(masc)}  # fmt: skip


def reference_params(presentation: str) -> np.ndarray:
    """A typical body of that presentation: the fit's starting point."""
    masc = PRESENTATION_MASC[presentation]
    p = np.ones(len(PARAM_NAMES))
    p[P["height"]] = REF_HEIGHT
    p[P["crotch"]] = 0.47 * REF_HEIGHT
    p[P["shoulder"]] = _shoulder_ref(masc)
    p[P["arm"]] = 0.315 * REF_HEIGHT
    return p


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    tri = verts[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n = np.zeros_like(verts)
    for k in range(3):
        n += np.stack([np.bincount(faces[:, k], fn[:, i], len(verts)) for i in range(3)], axis=1)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
