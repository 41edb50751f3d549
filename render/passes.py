"""Conditioning passes from one render's data passes: pure numpy writers (no bpy).

A shot renders once per frame with Blender's view-layer data passes (depth, normal, object
index, vector) on; the render is saved as one multilayer EXR, read here, and turned into the
per-pass files of the production folder:

- ``depth/NNNN.exr``: planar depth in metres (float32, channel ``Z``; no surface = +inf), and
  ``depth/NNNN.png``: 8-bit disparity (1/depth) normalised over the whole shot, near = white,
  no surface = black (written once the shot is complete, so it does not flicker);
- ``normal/NNNN.png``: camera-space normals (x right, y up, z towards the camera) as
  ``(n + 1) / 2 * 255``; no surface = black;
- ``segment/NNNN.png``: one colour per character and per prop class, the same in every shot
  (derived from the id: ``segment_colour``); background black;
- ``edges/NNNN.png``: white 1-pixel geometric edges on black (``geometric_edges``);
- ``flow/NNNN.exr``: the motion of each pixel's surface from the previous frame to this one,
  in pixels (channels ``X`` right, ``Y`` down), and ``flow/NNNN.png``: the same in the
  Middlebury colour code at a fixed scale (``FLOW_SCALE`` of the image width = full colour).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import FilmCrewError
from .shots import ALL_PASSES

PASSES = ALL_PASSES
"""Every pass a shot can have, in the order they are listed everywhere."""
DATA_PASSES = {"depth": {"depth"}, "normal": {"normal"}, "segment": {"index"}, "pose": {"depth"},
               "edges": {"depth", "normal", "index"}, "flow": {"vector"}}
"""The render's data passes each output pass is made from."""
FLOW_SCALE = 0.02
"""Flow PNG: a motion of this fraction of the image width per frame is full saturation."""
NO_SURFACE = 1.0e9
"""Blender writes 1e10 as the depth of pixels that hit nothing; beyond this is no surface."""


def parse_passes(text: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """The pass list of ``--passes`` (comma-separated or a list), in canonical order, rgb included.

    ``None``, ``"all"`` and an empty string mean every pass. RGB is always rendered: the
    animatic is cut from it.

    Raises:
        FilmCrewError: an unknown pass name.
    """
    if text is None:
        return PASSES
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    if not names or names == ["all"]:
        return PASSES
    unknown = [n for n in names if n not in PASSES]
    if unknown:
        raise FilmCrewError(f"--passes: unknown pass '{unknown[0]}' (choose from {', '.join(PASSES)})")
    return tuple(p for p in PASSES if p in names or p == "rgb")


def data_passes(passes: tuple[str, ...]) -> set[str]:
    """The render data passes needed for ``passes``."""
    needed: set[str] = set()
    for name in passes:
        needed |= DATA_PASSES.get(name, set())
    return needed


# --------------------------------------------------------------------------- files

def frame_files(passes: tuple[str, ...], number: int) -> dict[str, list[str]]:
    """Per-frame files of each pass, relative to the shot folder (depth PNGs come at the shot's end)."""
    stem = f"{number:04d}"
    files = {"rgb": [f"rgb/{stem}.png"], "depth": [f"depth/{stem}.exr"], "normal": [f"normal/{stem}.png"],
             "segment": [f"segment/{stem}.png"], "pose": [f"pose/{stem}.png"],
             "edges": [f"edges/{stem}.png"], "flow": [f"flow/{stem}.exr", f"flow/{stem}.png"]}
    return {p: files[p] for p in passes}


def shot_files(passes: tuple[str, ...], number: int) -> dict[str, list[str]]:
    """Every file of a finished frame, per pass (the depth PNG included)."""
    files = frame_files(passes, number)
    if "depth" in files:
        files["depth"] = files["depth"] + [f"depth/{number:04d}.png"]
    return files


def frame_file_map(passes: tuple[str, ...], number: int) -> dict[str, str]:
    """Every file of a finished frame by label: the pass name for its PNG (rgb, depth, normal,
    segment, pose, edges, flow_png), ``depth_exr`` and ``flow`` for the float files."""
    labels = {}
    for name, group in shot_files(passes, number).items():
        for rel in group:
            if name in ("depth", "flow"):
                label = {"depth.png": "depth", "depth.exr": "depth_exr", "flow.exr": "flow",
                         "flow.png": "flow_png"}[f"{name}.{rel.rsplit('.', 1)[1]}"]
            else:
                label = name
            labels[label] = rel
    return labels


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


def write_png(path: Path, pixels: np.ndarray) -> None:
    """Write an 8-bit PNG (H,W) or (H,W,3) through a temporary name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(tmp, compress_level=1)
    os.replace(tmp, path)


def write_exr(path: Path, channels: dict[str, np.ndarray]) -> None:
    """Write float32 channels (each (H,W)) to a ZIP-compressed scanline EXR, atomically."""
    import OpenEXR

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    header = {"type": OpenEXR.scanlineimage, "compression": OpenEXR.ZIP_COMPRESSION}
    data = {name: np.ascontiguousarray(values, dtype=np.float32) for name, values in channels.items()}
    with OpenEXR.File(header, data) as exr:
        exr.write(str(tmp))
    os.replace(tmp, path)


def read_exr(path: Path) -> dict[str, np.ndarray]:
    """Every channel of an EXR (all parts of a multipart file), by full channel name."""
    import OpenEXR

    try:
        exr = OpenEXR.File(str(path), separate_channels=True)
    except Exception as exc:  # OpenEXR raises a bare RuntimeError on unreadable files
        raise FilmCrewError(f"cannot read EXR: {exc}", path=path) from None
    channels: dict[str, np.ndarray] = {}
    with exr:
        for part in exr.parts:
            for name, channel in part.channels.items():
                channels[name] = np.asarray(channel.pixels)
    return channels


# --------------------------------------------------------------------------- data passes

@dataclass
class FrameData:
    """One frame's data passes, top row first."""

    depth: np.ndarray | None = None   # (H,W) planar depth, +inf where nothing was hit
    normal: np.ndarray | None = None  # (H,W,3) world-space unit normals, 0 where nothing was hit
    index: np.ndarray | None = None   # (H,W) int32 object pass index, 0 = background
    vector: np.ndarray | None = None  # (H,W,4) Blender's motion vectors, pixels


def _channel(channels: dict[str, np.ndarray], pass_name: str, suffixes: str) -> np.ndarray | None:
    found = []
    for suffix in suffixes:
        hits = [v for k, v in channels.items() if k.rsplit(".", 2)[-2:] == [pass_name, suffix]]
        if not hits:
            return None
        found.append(hits[0])
    return np.stack(found, axis=-1) if len(found) > 1 else found[0]


def frame_data(channels: dict[str, np.ndarray]) -> FrameData:
    """Pick the data passes out of a Blender multilayer EXR's channels."""
    depth = _channel(channels, "Depth", "Z")
    if depth is not None:
        depth = np.where(depth < NO_SURFACE, depth, np.inf).astype(np.float32)
    index = _channel(channels, "Object Index", "X")
    return FrameData(depth=depth, normal=_channel(channels, "Normal", "XYZ"),
                     index=None if index is None else np.rint(index).astype(np.int32),
                     vector=_channel(channels, "Vector", "XYZW"))


# --------------------------------------------------------------------------- depth

def shot_depth_range(depths: list[np.ndarray]) -> tuple[float, float] | None:
    """Nearest and farthest surface over a whole shot (None when no pixel hit anything)."""
    near, far = np.inf, 0.0
    for depth in depths:
        valid = depth[np.isfinite(depth) & (depth > 0)]
        if valid.size:
            near, far = min(near, float(valid.min())), max(far, float(valid.max()))
    return None if not np.isfinite(near) else (near, far)


def depth_to_png(depth: np.ndarray, near: float, far: float) -> np.ndarray:
    """8-bit disparity: 255 at ``near``, 0 at ``far`` and where nothing was hit.

    Disparity (1/depth), like the relative depth of MiDaS and Depth Anything that depth-conditioned
    video models are trained on: linear in screen space on a plane, with more levels up close.
    """
    valid = np.isfinite(depth) & (depth > 0)
    out = np.zeros(depth.shape, dtype=np.uint8)
    if far <= near:
        out[valid] = 255
        return out
    with np.errstate(divide="ignore"):
        disparity = 1.0 / depth[valid]
    scaled = (disparity - 1.0 / far) / (1.0 / near - 1.0 / far)
    out[valid] = np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)
    return out


# --------------------------------------------------------------------------- normals

def camera_normals(normal_world: np.ndarray, camera_rotation: np.ndarray) -> np.ndarray:
    """World-space normals to camera space (x right, y up, z towards the camera)."""
    return normal_world @ np.asarray(camera_rotation, dtype=np.float32)


def normal_to_png(normal_camera: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(normal_camera, axis=-1, keepdims=True)
    valid = length[..., 0] > 0.5
    unit = np.divide(normal_camera, length, out=np.zeros_like(normal_camera), where=length > 0)
    out = np.clip(np.rint((unit + 1.0) * 127.5), 0, 255).astype(np.uint8)
    out[~valid] = 0
    return out


# --------------------------------------------------------------------------- segmentation

def segment_colour(kind: str, name: str) -> tuple[int, int, int]:
    """The colour of a character (kind ``character``, its id) or a prop class (kind ``prop``).

    Derived from the id alone, so it is the same in every shot and every production; each
    channel lies in 48..255, so no label is near the black background.
    """
    digest = hashlib.sha256(f"{kind}:{name}".encode()).digest()
    return tuple(48 + b % 208 for b in digest[:3])


def colour_hex(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def segment_to_png(index: np.ndarray, colours: dict[int, tuple[int, int, int]]) -> np.ndarray:
    """Object pass indices to colours; unknown indices and 0 are black."""
    size = max([0, *colours, int(index.max(initial=0))]) + 1
    table = np.zeros((size, 3), dtype=np.uint8)
    for value, colour in colours.items():
        table[value] = colour
    return table[np.clip(index, 0, size - 1)]


# --------------------------------------------------------------------------- edges

CREASE_DEGREES = 35.0
DEPTH_JUMP = 0.03


def geometric_edges(*, depth: np.ndarray, normal: np.ndarray | None, index: np.ndarray | None) -> np.ndarray:
    """1-pixel edges where the geometry breaks, on the nearer side of the break.

    Edges are object boundaries (object index changes), depth discontinuities (a jump in
    disparity that is large against its neighbours' steps: on a plane disparity steps are
    constant, so grazing floors give no false edges) and creases (camera normals turning by
    more than ``CREASE_DEGREES``). Unlike Canny on a 4-sample denoised preview, these are free
    of render noise, steady from frame to frame and the same for every engine.

    Returns:
        (H,W) uint8, 255 on edges.
    """
    valid = np.isfinite(depth) & (depth > 0)
    disparity = np.where(valid, 1.0 / np.where(valid, depth, 1.0), 0.0)
    edges = np.zeros(depth.shape, dtype=bool)
    for axis in (0, 1):
        d = np.moveaxis(disparity, axis, 0)
        ok = np.moveaxis(valid, axis, 0)
        step = d[1:] - d[:-1]                        # (n-1, m)
        mag = np.abs(step)
        edge_row = np.full_like(mag[:1], np.inf)
        before = np.concatenate([edge_row, mag[:-1]])
        after = np.concatenate([mag[1:], edge_row])
        steady = np.minimum(before, after)
        scale = np.maximum(d[1:], d[:-1])
        jump = (mag > DEPTH_JUMP * scale) & (mag > 3.0 * steady)
        jump |= ok[1:] != ok[:-1]                     # surface against nothing
        if index is not None:
            ids = np.moveaxis(index, axis, 0)
            jump |= ids[1:] != ids[:-1]
        if normal is not None:
            n = np.moveaxis(normal, axis, 0)
            both = ok[1:] & ok[:-1]
            cos = np.sum(n[1:] * n[:-1], axis=-1)
            jump |= both & (cos < np.cos(np.radians(CREASE_DEGREES)))
        # Mark the pixel of each pair that is nearer the camera (larger disparity).
        first_nearer = d[:-1] >= d[1:]
        mark = np.zeros(d.shape, dtype=bool)
        mark[:-1] |= jump & first_nearer
        mark[1:] |= jump & ~first_nearer
        edges |= np.moveaxis(mark, 0, axis)
    # Lone pixels are sampling noise on thin geometry (one sample per pixel), not edges.
    padded = np.pad(edges, 1)
    neighbours = sum(np.roll(np.roll(padded, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                     if dy or dx)[1:-1, 1:-1]
    edges &= neighbours > 0
    return np.where(edges, 255, 0).astype(np.uint8)


# --------------------------------------------------------------------------- flow

def backward_flow(vector: np.ndarray) -> np.ndarray:
    """Blender's vector pass to the motion from the previous frame to this one, (H,W,2) pixels.

    Blender stores, per pixel, the screen offset to where the surface was in the previous
    frame (X, Y) and will be in the next (Z, W), in pixels with Y up. The motion from the
    previous frame is minus the first, with Y flipped to point down.
    """
    return np.stack([-vector[..., 0], vector[..., 1]], axis=-1).astype(np.float32)


def _colour_wheel() -> np.ndarray:
    """The Middlebury flow colour wheel (Baker et al. 2011): 55 hues, RGB 0..255."""
    segments = [(15, (255, 0, 0), (255, 255, 0)), (6, (255, 255, 0), (0, 255, 0)),
                (4, (0, 255, 0), (0, 255, 255)), (11, (0, 255, 255), (0, 0, 255)),
                (13, (0, 0, 255), (255, 0, 255)), (6, (255, 0, 255), (255, 0, 0))]
    rows = []
    for count, start, end in segments:
        t = np.arange(count)[:, None] / count
        rows.append(np.array(start) * (1 - t) + np.array(end) * t)
    return np.concatenate(rows)


_WHEEL = _colour_wheel()


def flow_to_png(flow: np.ndarray, *, scale: float) -> np.ndarray:
    """Middlebury colour code: hue = direction, saturation = speed / ``scale``; still = white."""
    u, v = flow[..., 0], flow[..., 1]
    radius = np.sqrt(u * u + v * v) / max(scale, 1e-9)
    angle = np.arctan2(-v, -u) / np.pi                 # -1..1
    position = (angle + 1.0) / 2.0 * (len(_WHEEL) - 1)
    low = np.floor(position).astype(int)
    high = (low + 1) % len(_WHEEL)
    frac = (position - low)[..., None]
    colour = ((1 - frac) * _WHEEL[low] + frac * _WHEEL[high]) / 255.0
    saturation = np.clip(radius, 0.0, 1.0)[..., None]
    out = 1.0 - saturation * (1.0 - colour)
    faded = radius > 1.0
    out[faded] *= 0.75
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
