"""Render the README's avatar previews with the project's own body model:
python docs/make_avatar_previews.py"""

from __future__ import annotations

from pathlib import Path

from workers.avatar import build_avatar

BODIES = {
    "feminine": (
        {"height": 165, "bust": 94, "underbust": 76, "waist": 70, "hips": 100},
        {"body_shape": "feminine", "skin_tone": "#e0ac8a", "posture": "relaxed"},
    ),
    "masculine": (
        {"height": 184, "bust": 104, "waist": 88, "hips": 100, "shoulder_width": 46},
        {"body_shape": "masculine", "skin_tone": "#8d5524", "posture": "upright"},
    ),
    "neutral": (
        {"height": 172, "bust": 112, "waist": 104, "hips": 114, "thigh": 66},
        {"body_shape": "neutral", "skin_tone": "#c68e6a", "posture": "athletic"},
    ),
}

if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "avatars"
    out.mkdir(exist_ok=True)
    for name, (measurements, customization) in BODIES.items():
        built = build_avatar(measurements, customization)
        (out / f"{name}.png").write_bytes(built.preview_png)
        worst = max(abs(built.measured[k] / v - 1) for k, v in built.requested.items())
        print(f"{name}: {len(built.glb)} B GLB, worst measurement error {worst:.3%}")
