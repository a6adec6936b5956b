"""The avatar in real renderers, inside headless Chromium: three.js (GLTFLoader with its meshopt
decoder, camera framed on Box3) and Filament (gltfio, fitIntoUnitCube on the asset's bounding
box, as its viewer does). Both must show a whole standing body covering a plausible share of
the picture - which a body 65 km tall, or squashed to a point, does not."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tests.avatar import browser
from workers.avatar import AvatarBuild


@pytest.fixture(scope="module")
def renders(avatars: Callable[[int], AvatarBuild]) -> dict[tuple[str, str], browser.Render]:
    why = browser.ready()
    if why:
        pytest.skip(why)
    a = avatars(0)
    return browser.render({"meshopt": a.glb, "plain": a.glb_plain, "lod": a.glb_lod})


@pytest.mark.parametrize("engine", ["three", "filament"])
@pytest.mark.parametrize("kind", ["meshopt", "plain", "lod"])
def test_body_fills_a_plausible_share_of_the_picture(
    renders: dict[tuple[str, str], browser.Render],
    avatars: Callable[[int], AvatarBuild],
    kind: str,
    engine: str,
) -> None:
    r = renders[(kind, engine)]
    body = r.body_mask()
    assert 0.05 < body.mean() < 0.5, body.mean()
    rows, cols = np.flatnonzero(body.any(axis=1)), np.flatnonzero(body.any(axis=0))
    tall, wide = rows.max() - rows.min(), cols.max() - cols.min()
    assert 0.5 * len(body) < tall < len(body) - 4  # head to toe inside the frame, and big
    assert 0.3 < wide / tall < 1.2  # an A-pose, not a sliver or a blob
    assert body[rows.min() : rows.max(), cols.min() : cols.max()].mean() < 0.6  # arms apart
    # The engine's own bounding box is the body's, in metres.
    lo, hi = np.array(r.bounds)
    height = avatars(0).requested["height"] / 100
    assert abs((hi[1] - lo[1]) / height - 1) < 0.05, (lo, hi)
    # Lit skin: pixels in the skin tone's hue, not black or the background.
    lit = r.image[body].astype(float)
    assert lit.mean(axis=0)[0] > lit.mean(axis=0)[2]  # warm skin, red above blue
