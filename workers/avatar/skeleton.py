"""The skeleton: a Mixamo-style humanoid (names and hierarchy), joint centres derived from the
fitted body, and skin weights.

Joints sit at the centres of the cage rings around them (knee ring -> knee, and so on), so they
follow every change of shape; the names and parent chain are Mixamo's (without the `mixamorig:`
prefix), so animation clips made for that rig retarget by name. Joints have no rotations: each
node is a translation from its parent, and every inverse bind matrix is a plain translation.
Weights are given per cage ring (a ring between two joints is shared between them) and then
averaged over the fine mesh by the same subdivision that smooths the surface, which gives soft
blends everywhere.
"""

from __future__ import annotations

from functools import cache
from itertools import pairwise

import numpy as np

from workers.avatar.body import Layout, P, arm_frame, leg_axis
from workers.avatar.topology import ARM_HOLE, TORSO_N, topology

_SPINE = ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "HeadTop_End")
_ARM = ("Shoulder", "Arm", "ForeArm", "Hand")
_LEG = ("UpLeg", "Leg", "Foot", "ToeBase", "Toe_End")
JOINT_NAMES = (
    *_SPINE,
    *(f"Left{n}" for n in _ARM), *(f"Right{n}" for n in _ARM),
    *(f"Left{n}" for n in _LEG), *(f"Right{n}" for n in _LEG),
)  # fmt: skip
J = {name: i for i, name in enumerate(JOINT_NAMES)}
_PARENT = {
    "Spine": "Hips", "Spine1": "Spine", "Spine2": "Spine1", "Neck": "Spine2", "Head": "Neck",
    "HeadTop_End": "Head",
    **{f"{s}Shoulder": "Spine2" for s in ("Left", "Right")},
    **{f"{s}{b}": f"{s}{a}" for s in ("Left", "Right") for a, b in pairwise(_ARM)},
    **{f"{s}UpLeg": "Hips" for s in ("Left", "Right")},
    **{f"{s}{b}": f"{s}{a}" for s in ("Left", "Right") for a, b in pairwise(_LEG)},
}  # fmt: skip
JOINT_PARENTS = tuple(J[_PARENT[n]] if n in _PARENT else -1 for n in JOINT_NAMES)
SIDED = tuple(n.removeprefix("Left") for n in JOINT_NAMES if n.startswith("Left"))


def joint_positions(p: np.ndarray, lay: Layout, cage: np.ndarray) -> np.ndarray:
    """Joint centres (fine-mesh frame) derived from the cage rings."""
    topo = topology()
    floor = (topo.subdiv @ cage[:, 1]).min()

    def centre(ring: str) -> np.ndarray:
        ids = topo.rings[ring]
        return cage[ids[ids >= 0]].mean(axis=0)

    def on_surface(vertex: int) -> np.ndarray:  # subdivision keeps a cage vertex's index
        return np.asarray(topo.subdiv[[vertex]] @ cage)[0]

    def mid(ring: str, dz: float) -> np.ndarray:
        return centre(ring) * [0, 1, 1] + [0, 0, dz]

    arm = arm_frame(p, lay)
    h = p[P["height"]]
    hh = h / 1.70
    hips = centre("hips")
    joints = np.zeros((len(JOINT_NAMES), 3))
    joints[J["Hips"]] = [0.0, hips[1], hips[2]]
    joints[J["Spine"]] = mid("high_hip", -0.03 * hh)
    joints[J["Spine1"]] = mid("ribs", -0.03 * hh)
    joints[J["Spine2"]] = mid("bust", -0.025 * hh)
    joints[J["Neck"]] = centre("neck_base")
    joints[J["Head"]] = centre("neck_top")
    joints[J["HeadTop_End"]] = on_surface(topo.caps["head"])
    # The clavicle starts beside the top of the sternum and ends at the shoulder joint.
    joints[J["LeftShoulder"]] = [0.28 * arm.joint[0], arm.joint[1] + 0.02 * hh, arm.joint[2]]
    joints[J["LeftArm"]] = arm.joint
    joints[J["LeftForeArm"]] = arm.elbow
    joints[J["LeftHand"]] = arm.wrist
    joints[J["LeftUpLeg"]] = [leg_axis(p, lay, -0.1), p[P["crotch"]] + 0.045 * h, hips[2] + 0.01]
    joints[J["LeftLeg"]] = centre("knee_l")
    joints[J["LeftFoot"]] = centre("ankle_l")
    joints[J["LeftToeBase"]] = centre("ball_l")
    joints[J["LeftToe_End"]] = on_surface(topo.caps["foot_l"])
    for name in SIDED:
        joints[J[f"Right{name}"]] = joints[J[f"Left{name}"]] * [-1, 1, 1]
    joints[:, 1] -= floor
    return joints


@cache
def cage_weights() -> np.ndarray:
    """Skin weights per cage vertex (n_cage, n_joints); the fine mesh averages them."""
    topo = topology()
    w = np.zeros((topo.n_cage, len(JOINT_NAMES)))

    def put(ids: np.ndarray, **joints: float) -> None:
        ids = ids[ids >= 0]
        w[ids] = 0.0
        for name, value in joints.items():
            w[ids, J[name]] = value

    r = topo.rings
    put(r["junction"], Hips=1.0)
    put(r["hips"], Hips=1.0)
    put(r["abdomen"], Hips=0.6, Spine=0.4)
    put(r["high_hip"], Hips=0.2, Spine=0.8)
    put(r["waist"], Spine=0.6, Spine1=0.4)
    put(r["ribs"], Spine1=1.0)
    put(r["underbust"], Spine1=0.5, Spine2=0.5)
    for name in ("bust", "armpit", "shoulder_mid"):
        put(r[name], Spine2=1.0)
    # The top of the shoulders follows the clavicles, most towards the arms.
    shoulder = r["shoulder"]
    side = np.abs(np.sin(2 * np.pi * np.arange(TORSO_N) / TORSO_N))
    for col in range(TORSO_N):
        share = 0.6 * side[col] ** 2
        clavicle = "LeftShoulder" if 0 < col < TORSO_N // 2 else "RightShoulder"
        put(shoulder[col : col + 1], Spine2=1.0 - share, **({clavicle: share} if share else {}))
    put(r["neck_base"], Spine2=0.4, Neck=0.6)
    put(r["neck"], Neck=1.0)
    put(r["neck_top"], Neck=0.4, Head=0.6)
    for name in ("jaw", "mouth", "nose", "eyes", "forehead"):
        put(r[name], Head=1.0)
    put(np.array([topo.caps["head"]]), Head=1.0)
    put(topo.seam, Hips=0.6, LeftUpLeg=0.2, RightUpLeg=0.2)

    leg = {
        "thigh": {"UpLeg": 1.0}, "mid_thigh": {"UpLeg": 1.0}, "knee": {"UpLeg": 0.5, "Leg": 0.5},
        "calf": {"Leg": 1.0}, "low_calf": {"Leg": 1.0}, "ankle": {"Leg": 0.5, "Foot": 0.5},
        "heel": {"Foot": 1.0}, "midfoot": {"Foot": 1.0}, "ball": {"Foot": 0.5, "ToeBase": 0.5},
    }  # fmt: skip
    arm = {
        "deltoid": {"Arm": 0.75, "Shoulder": 0.25}, "upper_arm": {"Arm": 0.95, "Shoulder": 0.05},
        "elbow": {"Arm": 0.5, "ForeArm": 0.5}, "forearm": {"ForeArm": 1.0},
        "wrist": {"ForeArm": 0.5, "Hand": 0.5}, "palm": {"Hand": 1.0}, "fingers": {"Hand": 1.0},
    }  # fmt: skip
    for side_name, s in (("Left", "l"), ("Right", "r")):
        junction = r["junction"]
        half = junction[1:8] if s == "l" else junction[9:16]
        put(half, Hips=0.6, **{f"{side_name}UpLeg": 0.4})
        hole = np.array([r[name][col] for name, col in ARM_HOLE])
        if s == "r":
            hole = topo.mirror[hole]
        put(hole, Spine2=0.1, **{f"{side_name}Shoulder": 0.45, f"{side_name}Arm": 0.45})
        # Beside and under the arm hole the torso follows the arm a little: a wider blend
        # folds later when the arm is raised (linear blend skinning collapses sharp ones).
        cols = (3, 5) if s == "l" else (13, 11)
        for ring, (sh, ar) in (("bust", (0.05, 0.03)), ("armpit", (0.15, 0.12)),
                               ("shoulder_mid", (0.3, 0.18))):  # fmt: skip
            ids = r[ring][list(cols)]
            put(ids, Spine2=1 - sh - ar, **{f"{side_name}Shoulder": sh, f"{side_name}Arm": ar})
        for name, joints in {**leg, **arm}.items():
            put(r[f"{name}_{s}"], **{f"{side_name}{j}": v for j, v in joints.items()})
        put(np.array([topo.caps[f"foot_{s}"]]), **{f"{side_name}ToeBase": 1.0})
        put(np.array([topo.caps[f"hand_{s}"]]), **{f"{side_name}Hand": 1.0})
    return w


def skin_weights_for(subdiv: object) -> tuple[np.ndarray, np.ndarray]:
    """(joints, weights) per vertex of `subdiv @ cage`: the 4 strongest joints, weights in
    1/255 summing to 255. Unused slots get joint 0 with weight 0."""
    full = np.asarray(subdiv @ cage_weights())
    top = np.argsort(-full, axis=1, kind="stable")[:, :4]
    w = np.take_along_axis(full, top, axis=1)
    w /= w.sum(axis=1, keepdims=True)
    scaled = w * 255.0
    q = np.floor(scaled).astype(np.int64)
    short = 255 - q.sum(axis=1)
    order = np.argsort(-(scaled - q), axis=1, kind="stable")  # leftovers to the largest parts
    for k in range(4):
        q[np.arange(len(q)), order[:, k]] += short > k
    top[q == 0] = 0
    return top.astype(np.uint8), q.astype(np.uint8)


@cache
def skin_weights() -> tuple[np.ndarray, np.ndarray]:
    """(joints, weights) per fine vertex; the cage's per-ring weights averaged by the same
    subdivision as the positions, which gives smooth blends across every joint."""
    return skin_weights_for(topology().subdiv)
