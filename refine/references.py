"""Reference images of the characters, for identity: a front view drawn from each character kit.

Why the kit and not a crop of the render: the front view is the same picture in every shot and
every window (identity needs one stable reference), it shows the whole body unoccluded and
uncut by the shot's framing, it carries exactly the planned outfit colours and body shape, it
sits on the white background that VACE's reference images are trained with (diffusers pads
references onto a white canvas), and it needs no segmentation pass and no Blender: a small
z-buffered rasteriser over the kit's mesh, in numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..characters.kit import (
    BOTTOM,
    EYES,
    HAIR,
    REGIONS,
    SHOES,
    SKIN,
    TOP,
    CharacterKit,
    kit_path,
    load_kit,
)
from ..errors import FilmCrewError
from ..fsutil import atomic_write_bytes, sha256_bytes
from ..plan.model import Character

LIGHT = np.array([0.35, -1.0, 0.55]) / np.linalg.norm([0.35, -1.0, 0.55])
"""Key light from the front, a little to the right and above (the kit faces -Y)."""


def _hex(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


def region_colours(character: Character) -> np.ndarray:
    """(len(REGIONS), 3) sRGB colours of the kit's regions for ``character``."""
    outfit = character.appearance.outfit
    colours = np.zeros((len(REGIONS), 3))
    colours[SKIN] = _hex(character.appearance.skin_tone)
    colours[TOP] = _hex(outfit.top)
    colours[BOTTOM] = _hex(outfit.bottom)
    colours[SHOES] = _hex(outfit.shoes)
    colours[HAIR] = _hex(outfit.hair)
    colours[EYES] = (32, 28, 26)
    return colours


def front_view(kit: CharacterKit, colours: np.ndarray, *, height: int = 512) -> Image.Image:
    """The kit in its rest pose seen from the front (orthographic), flat-lit, on white.

    Args:
        kit: the character's kit (metres, Z up, facing -Y).
        colours: (len(REGIONS), 3) sRGB colour per region.
        height: image height in pixels; the width follows the body with a margin.
    """
    vertices = kit.vertices.astype(np.float64)
    faces = kit.faces.astype(np.int64)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    margin = 0.06 * (hi[2] - lo[2])
    scale = (height - 1) / (hi[2] - lo[2] + 2 * margin)
    width = int(np.ceil((hi[0] - lo[0] + 2 * margin) * scale)) + 1
    width += width % 2
    # Image coordinates: x right (+X), y down (-Z), depth along +Y (smaller = nearer the viewer).
    px = (vertices[:, 0] - lo[0] + margin) * scale
    py = (hi[2] + margin - vertices[:, 2]) * scale
    pz = vertices[:, 1]
    tri = vertices[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    keep = (lengths > 0) & (normals[:, 1] < 0)  # faces turned towards the viewer (at -Y)
    faces, normals = faces[keep], normals[keep] / lengths[keep, None]
    shade = 0.4 + 0.6 * np.clip(normals @ LIGHT, 0.0, 1.0)
    region = kit.region.astype(np.int64)[faces]
    face_region = np.where(region[:, 0] == region[:, 1], region[:, 0], region[:, 2])
    face_colour = np.clip(colours[face_region] * shade[:, None], 0, 255)
    depth = np.full(height * width, np.inf)
    image = np.full((height * width, 3), 255.0)
    x, y, z = px[faces], py[faces], pz[faces]
    x0 = np.floor(x.min(axis=1)).astype(np.int64)
    y0 = np.floor(y.min(axis=1)).astype(np.int64)
    span = np.maximum(np.ceil(x.max(axis=1)) - x0, np.ceil(y.max(axis=1)) - y0).astype(np.int64) + 1
    bucket = (2 ** np.ceil(np.log2(np.maximum(span, 1)))).astype(np.int64)  # triangles by box size
    for size in np.unique(bucket):
        group = np.nonzero(bucket == size)[0]
        for chunk in np.array_split(group, len(group) * int(size) ** 2 // 2_000_000 + 1):
            _raster(chunk, size, x, y, z, x0, y0, face_colour, width, height, depth, image)
    return Image.fromarray(image.reshape(height, width, 3).round().astype(np.uint8))


def _raster(chunk, size, x, y, z, x0, y0, face_colour, width, height, depth, image) -> None:
    """Draw triangles ``chunk`` whose bounding boxes fit in ``size`` pixels (z-buffered)."""
    if len(chunk) == 0:
        return
    off = np.arange(size)
    gx = x0[chunk, None, None] + off[None, None, :]  # (n, 1, size)
    gy = y0[chunk, None, None] + off[None, :, None]  # (n, size, 1)
    cx, cy = gx + 0.5, gy + 0.5
    ax, ay = x[chunk, 0, None, None], y[chunk, 0, None, None]
    bx, by = x[chunk, 1, None, None], y[chunk, 1, None, None]
    qx, qy = x[chunk, 2, None, None], y[chunk, 2, None, None]
    area = (bx - ax) * (qy - ay) - (qx - ax) * (by - ay)
    with np.errstate(divide="ignore", invalid="ignore"):
        w1 = ((cx - ax) * (qy - ay) - (qx - ax) * (cy - ay)) / area
        w2 = ((bx - ax) * (cy - ay) - (cx - ax) * (by - ay)) / area
    w0 = 1.0 - w1 - w2
    inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (np.abs(area) > 1e-12)
    inside &= (gx >= 0) & (gx < width) & (gy >= 0) & (gy < height)
    tri, row, col = np.nonzero(inside)
    if len(tri) == 0:
        return
    zc = z[chunk]
    pz = (w0[tri, row, col] * zc[tri, 0] + w1[tri, row, col] * zc[tri, 1] + w2[tri, row, col] * zc[tri, 2])
    pixel = (gy[tri, row, 0] * width + gx[tri, 0, col])
    order = np.lexsort((-pz, pixel))  # per pixel, farthest first: the last write is the nearest
    pixel, pz, tri = pixel[order], pz[order], tri[order]
    last = np.r_[pixel[1:] != pixel[:-1], True]
    pixel, pz, tri = pixel[last], pz[last], tri[last]
    nearer = pz < depth[pixel]
    depth[pixel[nearer]] = pz[nearer]
    image[pixel[nearer]] = face_colour[chunk[tri[nearer]]]


def character_reference(*, character: Character, characters_dir: Path, cache_dir: Path,
                        height: int = 512) -> Path:
    """The front view of ``character``, drawn once into ``cache_dir/<id>.png`` and reused.

    The file name carries the kit and the colours, so a change of outfit redraws it.

    Raises:
        FilmCrewError: the character's kit is missing (run `filmcrew stage`).
    """
    kit_file = kit_path(appearance=character.appearance, cache_dir=characters_dir)
    if not kit_file.exists():
        raise FilmCrewError(f"character kit of {character.id} is missing; run `filmcrew stage` first",
                            path=kit_file)
    colours = region_colours(character)
    tag = sha256_bytes(kit_file.stem.encode() + colours.astype(np.uint8).tobytes() + bytes([height % 256]))
    target = cache_dir / f"{character.id}.{tag[:12]}.png"
    if target.exists():
        return target
    image = front_view(load_kit(kit_file), colours, height=height)
    from io import BytesIO

    buffer = BytesIO()
    image.save(buffer, format="PNG")
    for stale in cache_dir.glob(f"{character.id}.*.png"):
        stale.unlink()
    atomic_write_bytes(target, buffer.getvalue())
    return target
