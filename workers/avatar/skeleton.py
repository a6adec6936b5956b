"""The skeleton: joint centres derived from the fitted body, and skin weights.

Joints sit at the centres of the cage rings around them (knee ring -> knee, and so on), so they
follow every change of shape. Weights are given per cage ring (a ring between two joints is
shared between them) and then averaged over the fine mesh by the same subdivision that smooths
the surface, which gives soft blends everywhere.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from workers.avatar.body import Layout, P, arm_frame, leg_axis
from workers.avatar.topology import ARM_HOLE, topology

JOINT_NAMES = (
    "hips", "spine", "chest", "neck", "head",
    "shoulder_l", "elbow_l", "wrist_l", "shoulder_r", "elbow_r", "wrist_r",
    "hip_l", "knee_l", "ankle_l", "hip_r", "knee_r", "ankle_r",
)  # fmt: skip
JOINT_PARENTS = (-1, 0, 1, 2, 3, 2, 5, 6, 2, 8, 9, 0, 11, 12, 0, 14, 15)
J = {name: i for i, name in enumerate(JOINT_NAMES)}


def joint_positions(p: np.ndarray, lay: Layout, cage: np.ndarray) -> np.ndarray:
    """Joint centres (fine-mesh frame) derived from the cage rings."""
    topo = topology()
    floor = (topo.subdiv @ cage[:, 1]).min()

    def centre(ring: str) -> np.ndarray:
        ids = topo.rings[ring]
        return cage[ids[ids >= 0]].mean(axis=0)

    arm = arm_frame(p, lay)
    h = p[P["height"]]
    hips = centre("hips")
    joints = np.zeros((len(JOINT_NAMES), 3))
    joints[J["hips"]] = [0.0, hips[1], hips[2]]
    joints[J["spine"]] = centre("waist") - [0, 0, 0.03]
    joints[J["chest"]] = centre("underbust") * [0, 1, 1] + [0, 0, -0.02]
    joints[J["neck"]] = centre("neck_base")
    joints[J["head"]] = centre("neck_top")
    joints[J["shoulder_l"]] = arm.joint
    joints[J["elbow_l"]] = arm.elbow
    joints[J["wrist_l"]] = arm.wrist
    crotch = p[P["crotch"]]
    hip_y = crotch + 0.045 * h
    joints[J["hip_l"]] = [leg_axis(p, lay, -0.1), hip_y, hips[2] + 0.01]
    joints[J["knee_l"]] = centre("knee_l")
    joints[J["ankle_l"]] = centre("ankle_l")
    for side in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
        joints[J[f"{side}_r"]] = joints[J[f"{side}_l"]] * [-1, 1, 1]
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
    put(r["junction"], hips=1.0)
    put(r["hips"], hips=1.0)
    put(r["abdomen"], hips=0.6, spine=0.4)
    put(r["high_hip"], hips=0.3, spine=0.7)
    put(r["waist"], spine=1.0)
    put(r["ribs"], spine=0.5, chest=0.5)
    for name in ("underbust", "bust", "armpit", "shoulder_mid", "shoulder"):
        put(r[name], chest=1.0)
    put(r["neck_base"], chest=0.4, neck=0.6)
    put(r["neck"], neck=1.0)
    put(r["neck_top"], neck=0.4, head=0.6)
    for name in ("jaw", "mouth", "nose", "eyes", "forehead"):
        put(r[name], head=1.0)
    put(np.array([topo.caps["head"]]), head=1.0)
    put(topo.seam, hips=0.6, hip_l=0.2, hip_r=0.2)

    for side in ("l", "r"):
        junction = r["junction"]
        half = junction[1:8] if side == "l" else junction[9:16]
        put(half, hips=0.6, **{f"hip_{side}": 0.4})
        hole = np.array([r[name][col] for name, col in ARM_HOLE])
        if side == "r":
            hole = topo.mirror[hole]
        put(hole, chest=0.5, **{f"shoulder_{side}": 0.5})
        leg = {
            "thigh": {"hip": 1.0}, "mid_thigh": {"hip": 1.0}, "knee": {"hip": 0.5, "knee": 0.5},
            "calf": {"knee": 1.0}, "low_calf": {"knee": 1.0}, "ankle": {"knee": 0.5, "ankle": 0.5},
            "heel": {"ankle": 1.0}, "midfoot": {"ankle": 1.0}, "ball": {"ankle": 1.0},
        }  # fmt: skip
        arm = {
            "deltoid": {"shoulder": 0.85, "chest": 0.15}, "upper_arm": {"shoulder": 1.0},
            "elbow": {"shoulder": 0.5, "elbow": 0.5}, "forearm": {"elbow": 1.0},
            "wrist": {"elbow": 0.5, "wrist": 0.5}, "palm": {"wrist": 1.0},
            "fingers": {"wrist": 1.0},
        }  # fmt: skip
        for name, joints in {**leg, **arm}.items():
            put(
                r[f"{name}_{side}"],
                **{(j if j == "chest" else f"{j}_{side}"): v for j, v in joints.items()},
            )
        put(np.array([topo.caps[f"foot_{side}"]]), **{f"ankle_{side}": 1.0})
        put(np.array([topo.caps[f"hand_{side}"]]), **{f"wrist_{side}": 1.0})
    return w


@cache
def skin_weights() -> tuple[np.ndarray, np.ndarray]:
    """(joints, weights) per fine vertex: the 4 strongest joints, weights in 1/255 summing to 255.

    The cage's per-ring weights are averaged by the same subdivision as the positions, which
    gives smooth blends across every joint. Unused slots get joint 0 with weight 0.
    """
    full = topology().subdiv @ cage_weights()
    top = np.argsort(-full, axis=1)[:, :4]
    w = np.take_along_axis(full, top, axis=1)
    w /= w.sum(axis=1, keepdims=True)
    scaled = w * 255.0
    q = np.floor(scaled).astype(np.int64)
    short = 255 - q.sum(axis=1)
    order = np.argsort(-(scaled - q), axis=1)  # hand the rounding leftovers to the largest parts
    for k in range(4):
        q[np.arange(len(q)), order[:, k]] += short > k
    top[q == 0] = 0
    return top.astype(np.uint8), q.astype(np.uint8)
