"""Front and side views of the body as one PNG: a numpy z-buffer rasteriser with Lambert shading.

Triangles are a few pixels wide at this size, so all of them are scan-converted at once: each is
expanded into the pixel rows it covers, each row into the pixel centres of its span, in
vectorised passes, and the z-buffer is resolved with a single `np.minimum.at` over
(depth, candidate) keys. The image is rendered at 2x and box-filtered down.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from drape.colorspace import hex_to_rgb, linear_to_srgb, srgb_to_linear
from workers.avatar.body import vertex_normals

BACKGROUND = np.array([241, 242, 245], dtype=np.float64)
SUPERSAMPLE = 2
MARGIN = 0.04  # of the image height, above and below the body


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts [2, 3]: owner [0, 0, 1, 1, 1] and rank within owner [0, 1, 0, 1, 2]."""
    owner = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    rank = np.arange(len(owner), dtype=np.int32) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, rank


def _rasterise(
    xy: np.ndarray, depth: np.ndarray, shade: np.ndarray, faces: np.ndarray, w: int, h: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gouraud-shaded intensity image (h, w) and coverage mask; larger depth is nearer.

    Triangles -> pixel rows they cover -> the pixel centres inside each row's span; every
    candidate then takes its depth and shade from the triangle's plane equations.
    """
    a, b, c = xy[faces[:, 0]], xy[faces[:, 1]], xy[faces[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    # Screen y points down, so faces wound counter-clockwise seen from the camera have area < 0.
    front = area < -1e-9
    faces, a, b, c, area = faces[front], a[front], b[front], c[front], area[front]

    # Rows: pixel centres y0 + 0.5 ... y1 + 0.5 inside the triangle's vertical extent.
    ys = np.stack([a[:, 1], b[:, 1], c[:, 1]], axis=1)
    y0 = np.clip(np.ceil(ys.min(axis=1) - 0.5), 0, h).astype(np.int32)
    y1 = np.clip(np.floor(ys.max(axis=1) - 0.5), -1, h - 1).astype(np.int32)
    row_tri, row_rank = _expand(np.maximum(y1 - y0 + 1, 0))
    row_y = y0[row_tri] + row_rank
    yc = row_y + 0.5
    # Span of each row: where the scanline crosses the three edges.
    lo = np.full(len(row_tri), np.inf)
    hi = np.full(len(row_tri), -np.inf)
    for p, q in ((a, b), (b, c), (c, a)):
        py, qy = p[row_tri, 1], q[row_tri, 1]
        on = (np.minimum(py, qy) <= yc) & (yc <= np.maximum(py, qy)) & (py != qy)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = p[row_tri, 0] + (yc - py) * (q[row_tri, 0] - p[row_tri, 0]) / (qy - py)
        lo = np.where(on, np.minimum(lo, x), lo)
        hi = np.where(on, np.maximum(hi, x), hi)
    x0 = np.clip(np.ceil(lo - 0.5), 0, w)
    x1 = np.clip(np.floor(hi - 0.5), -1, w - 1)
    span = np.where(np.isfinite(x0) & np.isfinite(x1), x1 - x0 + 1, 0).clip(0).astype(np.int32)
    cand_row, cand_rank = _expand(span)
    px = x0.astype(np.int32)[cand_row] + cand_rank
    tri = row_tri[cand_row]
    py = row_y[cand_row]

    # Depth and shade as planes over the screen: value = u * x + v * y + k per triangle.
    inv = 1.0 / area
    out = []
    for values in (depth, shade):
        va, vb, vc = values[faces[:, 0]], values[faces[:, 1]], values[faces[:, 2]]
        u = ((vb - va) * (c[:, 1] - a[:, 1]) - (vc - va) * (b[:, 1] - a[:, 1])) * inv
        v = ((vc - va) * (b[:, 0] - a[:, 0]) - (vb - va) * (c[:, 0] - a[:, 0])) * inv
        k = va - u * a[:, 0] - v * a[:, 1]
        out.append(u[tri] * (px + 0.5) + v[tri] * (py + 0.5) + k[tri])
    z, s = out

    # Nearest candidate per pixel: minimise (quantised distance, candidate index) packed in int64.
    zq = ((z.max() - z) / max(float(np.ptp(z)), 1e-9) * (2**30 - 1)).astype(np.int64)
    key = (zq << 24) | np.arange(len(z), dtype=np.int64)
    none = np.iinfo(np.int64).max
    buf = np.full(w * h, none, dtype=np.int64)
    np.minimum.at(buf, py * w + px, key)
    hit = buf != none
    image = np.zeros(w * h, dtype=np.float32)
    image[hit] = s[buf[hit] & ((1 << 24) - 1)]
    return image.reshape(h, w), hit.reshape(h, w)


def _box_sum(img: np.ndarray, ss: int) -> np.ndarray:
    """Sum of each ss x ss block (strided adds beat a reduction over two axes)."""
    out = img[0::ss, 0::ss].copy()
    for dy in range(ss):
        for dx in range(ss):
            if dy or dx:
                out += img[dy::ss, dx::ss]
    return out


def render_preview(
    verts: np.ndarray,
    faces: np.ndarray,
    skin_tone: str,
    size: tuple[int, int] = (512, 512),
    vertex_rgb: np.ndarray | None = None,
) -> bytes:
    """PNG bytes: the body seen from the front (left) and from its right side (right); with
    `vertex_rgb` ((V, 3) linear) coloured per vertex instead of in the skin tone."""
    width, height = size
    ss = SUPERSAMPLE
    normals = vertex_normals(verts, faces)
    # Views: (screen x, depth towards the camera) as linear maps of (x, z).
    views = [
        (verts[:, 0], verts[:, 2], normals[:, [0, 1, 2]]),  # from +z
        (verts[:, 2], -verts[:, 0], np.stack([normals[:, 2], normals[:, 1], -normals[:, 0]], 1)),
    ]
    extents = [float(np.ptp(sx)) for sx, _, _ in views]
    body_h = float(np.ptp(verts[:, 1]))
    usable_h = height * (1 - 2 * MARGIN)
    scale = min(usable_h / body_h, 0.92 * width / (sum(extents) * 1.12))
    panel_w = [round(width * e / sum(extents)) for e in extents]
    panel_w[1] = width - panel_w[0]

    light = np.array([-0.35, 0.45, 0.82])
    light /= np.linalg.norm(light)
    base = srgb_to_linear(hex_to_rgb(skin_tone) / 255.0)
    lut = linear_to_srgb(np.linspace(0.0, 1.0, 1024)[:, None] * base) * 255.0
    panels = []
    for (sx, depth, n_view), pw in zip(views, panel_w, strict=True):
        w, h = pw * ss, height * ss
        k = scale * ss
        xy = np.stack(
            [(sx - (sx.max() + sx.min()) / 2) * k + w / 2, (verts[:, 1].max() - verts[:, 1]) * k],
            axis=1,
        )
        xy[:, 1] += (h - body_h * k) / 2
        shade = 0.30 + 0.70 * np.clip(np.einsum("ij,j->i", n_view, light), 0.0, 1.0)
        if vertex_rgb is not None:
            panels.append(_coloured(xy, depth, shade, faces, w, h, vertex_rgb))
            continue
        inten, mask = _rasterise(xy, depth, shade, faces, w, h)
        # Box-filter to the output size, then colour through a lookup table in sRGB.
        hits = _box_sum(mask.astype(np.float32), ss)
        cover = hits / (ss * ss)
        level = _box_sum(inten, ss) / np.maximum(hits, 1.0)
        rgb = lut[np.clip((level * (len(lut) - 1)).astype(np.int64), 0, len(lut) - 1)]
        panels.append(cover[..., None] * rgb + (1.0 - cover[..., None]) * BACKGROUND)
    out = np.clip(np.concatenate(panels, axis=1).round(), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(out, "RGB").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _coloured(
    xy: np.ndarray,
    depth: np.ndarray,
    shade: np.ndarray,
    faces: np.ndarray,
    w: int,
    h: int,
    vertex_rgb: np.ndarray,
) -> np.ndarray:
    """One panel with per-vertex linear colours, shaded: one raster pass per channel."""
    ss = SUPERSAMPLE
    channels = []
    for c in range(3):
        inten, mask = _rasterise(xy, depth, shade * vertex_rgb[:, c], faces, w, h)
        hits = _box_sum(mask.astype(np.float32), ss)
        channels.append(_box_sum(inten, ss) / np.maximum(hits, 1.0))
    cover = (hits / (ss * ss))[..., None]
    rgb = linear_to_srgb(np.clip(np.stack(channels, axis=-1), 0.0, 1.0)) * 255.0
    return cover * rgb + (1.0 - cover) * BACKGROUND
