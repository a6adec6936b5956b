"""Render the README's three.js and Filament pictures of the avatars in headless Chromium
(tools/render; needs `make test`'s npm and Chromium installs):
python docs/avatars/make_renders.py"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "docs")]

from make_avatar_previews import BODIES  # noqa: E402

from tests.avatar import browser  # noqa: E402
from workers.avatar import build_avatar  # noqa: E402

if __name__ == "__main__":
    out = Path(__file__).resolve().parent
    glbs = {name: build_avatar(m, c).glb for name, (m, c) in BODIES.items()}
    renders = browser.render(glbs)
    for engine in ("three", "filament"):
        row = np.concatenate([renders[(name, engine)].image for name in BODIES], axis=1)
        Image.fromarray(row).save(out / f"{engine}.png", optimize=True)
        ms = [renders[(name, engine)].decode_ms for name in BODIES]
        print(f"{engine}: docs/avatars/{engine}.png, decode {', '.join(f'{t:.0f}' for t in ms)} ms")
