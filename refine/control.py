"""Control videos from a shot's conditioning passes.

A shot's passes are ``shots/<shot>/<pass>/NNNN.png`` (1-based, four digits), one per frame:
``rgb`` (the preview), ``depth`` (8- or 16-bit, near = white, normalised over the shot),
``pose`` (OpenPose skeletons on black), ``edges`` (white on black), ``flow`` (``NNNN.exr``,
motion from the previous frame in pixels).

The control video is built from layers, bottom first: ``depth`` fills the frame, ``pose`` and
``edges`` are drawn over it wherever they are not black. ``auto`` is depth with the pose over it
for shots that have people in them. A missing pass falls back and says so: no depth means edges
computed from the rgb render with OpenCV's Canny detector; no edges pass means the same Canny
edges; no pose pass means the layer is left out.

The mask that goes with a control video follows VACE's convention: white (255) marks pixels to
generate, black (0) pixels to keep from the input video. Refining from control passes generates
every pixel, so the mask is all white.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import FilmCrewError
from .geometry import crop_box

PASSES = ("rgb", "depth", "normal", "segment", "pose", "edges", "flow")
LAYERS = ("depth", "pose", "edges")
GENERATE = 255
"""Mask value for pixels the model generates (VACE: white = generate, black = keep)."""
KEEP = 0


@dataclass
class ShotSource:
    """What refinement knows about one shot of the production folder."""

    shot: str
    frame_count: int
    folder: Path
    film_frames: tuple[int, int]
    resolution: tuple[int, int]
    passes: dict[str, list[Path]] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.passes


def frame_name(index: int) -> str:
    """File name of frame ``index`` (1-based) in a pass folder."""
    return f"{index:04d}.png"


def load_manifest(root: Path) -> dict:
    path = root / "manifest.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FilmCrewError("missing; run `filmcrew render` first", path=path) from None
    except json.JSONDecodeError as exc:
        raise FilmCrewError(f"not valid JSON (line {exc.lineno})", path=path) from None


def shot_sources(root: Path, manifest: dict) -> list[ShotSource]:
    """Every shot of the manifest, in film order, with the passes whose frames are all present.

    A pass counts when its folder holds every frame (``flow`` as float ``.exr`` or ``.npy``).
    Passes are found on disk, so a manifest from before the conditioning passes existed works.
    """
    resolution = tuple(manifest.get("resolution") or (0, 0))
    sources = []
    for entry in manifest.get("shots", []):
        shot = entry["id"]
        count = int(entry["frame_count"])
        folder = root / "shots" / shot
        film = entry.get("film_frames") or [0, count - 1]
        source = ShotSource(shot=shot, frame_count=count, folder=folder,
                            film_frames=(int(film[0]), int(film[1])), resolution=resolution)
        for name in PASSES:
            files = _pass_files(folder / name, name, count)
            if files:
                source.passes[name] = files
        sources.append(source)
    return sources


def _pass_files(folder: Path, name: str, count: int) -> list[Path]:
    if not folder.is_dir():
        return []
    if name == "flow":  # float motion (the flow PNGs are a visualisation)
        for suffix in (".exr", ".npy"):
            files = [folder / f"{i:04d}{suffix}" for i in range(1, count + 1)]
            if all(f.exists() for f in files):
                return files
        return []
    files = [folder / frame_name(i) for i in range(1, count + 1)]
    return files if all(f.exists() for f in files) else []


def read_image(path: Path) -> np.ndarray:
    """An image file as an array (8- or 16-bit, grey or colour), with a one-line error."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(image, dtype=np.uint16 if image.mode != "I" else np.int32)
            if image.mode not in ("L", "RGB"):
                image = image.convert("RGB")
            return np.asarray(image)
    except FileNotFoundError:
        raise FilmCrewError("frame is missing", path=path) from None
    except OSError as exc:
        raise FilmCrewError(f"cannot read image: {exc}", path=path) from None


def to_rgb8(array: np.ndarray) -> np.ndarray:
    """Grey or colour, 8- or 16-bit, to (H, W, 3) uint8 (16-bit scales by 257)."""
    if array.dtype != np.uint8:
        array = np.clip(np.rint(array.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return array[:, :, :3]


def fit_frame(array: np.ndarray, size: tuple[int, int], *, nearest: bool = False) -> np.ndarray:
    """Crop ``array`` (H, W, 3) uint8 to the aspect of ``size`` (centred) and resize it to it."""
    height, width = array.shape[:2]
    box = crop_box(source=(width, height), target=size)
    resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(array).resize(size, resample=resample, box=box))


def canny_edges(rgb: np.ndarray) -> np.ndarray:
    """Binary edges (H, W) uint8 0/255 of an RGB frame: OpenCV Canny on a lightly blurred grey."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    grey = cv2.GaussianBlur(grey, (3, 3), 0)
    return cv2.Canny(grey, 50, 150)


def binarize(array: np.ndarray, threshold: int = 64) -> np.ndarray:
    """(H, W[, 3]) to (H, W) uint8 0/255: on where the brightest channel reaches ``threshold``."""
    grey = array.max(axis=2) if array.ndim == 3 else array
    return np.where(grey >= threshold, 255, 0).astype(np.uint8)


@dataclass
class Control:
    """A shot's control video at the model size, at the plan's frame rate."""

    frames: np.ndarray  # (N, H, W, 3) uint8
    layers: list[str]  # what was drawn, bottom first (e.g. ["depth", "pose"])
    notes: list[str]  # fallbacks taken, one line each

    def mask(self) -> np.ndarray:
        """(N, H, W) uint8 all GENERATE: every pixel is generated from the control."""
        return np.full(self.frames.shape[:3], GENERATE, dtype=np.uint8)


def parse_layers(spec: str) -> list[str]:
    """``auto`` or a comma list of layers bottom first, e.g. ``depth,pose`` or ``edges``."""
    if spec == "auto":
        return ["auto"]
    layers = [part.strip() for part in spec.split(",") if part.strip()]
    unknown = [layer for layer in layers if layer not in LAYERS]
    if not layers or unknown:
        raise FilmCrewError(f"--control takes auto or a comma list of {', '.join(LAYERS)}, "
                            f"not '{spec}'")
    return layers


def has_people(source: ShotSource, subjects: list[str]) -> bool:
    """Whether a shot shows people: the plan names subjects, or the pose pass draws anything."""
    if subjects:
        return True
    if not source.has("pose"):
        return False
    step = max(1, source.frame_count // 8)
    return any(to_rgb8(read_image(path)).max() > 0 for path in source.passes["pose"][::step])


def build_control(source: ShotSource, *, size: tuple[int, int], spec: str = "auto",
                  subjects: list[str] | None = None) -> Control:
    """The control video of one shot at ``size`` (width, height).

    Args:
        source: the shot and its passes.
        size: model (width, height), multiples of 16.
        spec: ``auto`` or layers bottom first (``depth``, ``pose``, ``edges``).
        subjects: the plan's subjects of the shot (for ``auto``: pose only where there are people).
    """
    layers = parse_layers(spec)
    notes: list[str] = []
    if layers == ["auto"]:
        layers = ["depth"]
        if source.has("pose") and has_people(source, subjects or []):
            layers.append("pose")
    if "rgb" not in source.passes and not source.has("depth"):
        raise FilmCrewError("shot has neither rgb nor depth frames; run `filmcrew render` first",
                            path=source.folder)
    plan: list[tuple[str, str]] = []  # (layer, where it comes from)
    for layer in layers:
        if layer == "depth":
            if source.has("depth"):
                plan.append(("depth", "depth"))
            else:
                notes.append(f"{source.shot}: no depth pass; control from Canny edges of the rgb render")
                plan.append(("edges", "canny"))
        elif layer == "edges":
            if source.has("edges"):
                plan.append(("edges", "edges"))
            else:
                notes.append(f"{source.shot}: no edges pass; edges computed from the rgb render (Canny)")
                plan.append(("edges", "canny"))
        elif source.has("pose"):
            plan.append(("pose", "pose"))
        else:
            notes.append(f"{source.shot}: no pose pass; pose layer left out")
    if not plan:
        raise FilmCrewError(f"no control layer available for shot {source.shot}", path=source.folder)
    if any(origin == "canny" for _, origin in plan) and "rgb" not in source.passes:
        raise FilmCrewError("no rgb frames to compute edges from", path=source.folder / "rgb")
    width, height = size
    frames = np.zeros((source.frame_count, height, width, 3), dtype=np.uint8)
    for position, (_layer, origin) in enumerate(plan):
        for i in range(source.frame_count):
            picture = _layer_frame(source, origin, i, size)
            if position == 0:
                frames[i] = picture
            else:
                on = picture.max(axis=2) > 0
                frames[i][on] = picture[on]
    drawn = [layer if origin != "canny" else "edges(canny)" for layer, origin in plan]
    return Control(frames=frames, layers=drawn, notes=notes)


def _layer_frame(source: ShotSource, origin: str, index: int, size: tuple[int, int]) -> np.ndarray:
    if origin == "depth":
        return fit_frame(to_rgb8(read_image(source.passes["depth"][index])), size)
    if origin == "pose":
        # Nearest keeps the OpenPose colours exact (no blends with the black background).
        return fit_frame(to_rgb8(read_image(source.passes["pose"][index])), size, nearest=True)
    if origin == "edges":
        edges = binarize(fit_frame(to_rgb8(read_image(source.passes["edges"][index])), size))
    else:  # canny on the rgb render, at the model size so edges are one pixel wide there
        edges = canny_edges(fit_frame(to_rgb8(read_image(source.passes["rgb"][index])), size))
    return np.repeat(edges[:, :, None], 3, axis=2)


def render_frames(source: ShotSource, size: tuple[int, int]) -> np.ndarray:
    """The shot's rgb render at ``size`` (N, H, W, 3) uint8, cropped like the control."""
    if "rgb" not in source.passes:
        raise FilmCrewError("shot has no rgb frames", path=source.folder / "rgb")
    return np.stack([fit_frame(to_rgb8(read_image(p)), size) for p in source.passes["rgb"]])
