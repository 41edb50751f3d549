"""Quality figures of refined shots, computed without model weights.

Per shot, under ``report.json["refine"][<shot>]``:

- ``edge_f1``: fidelity to the control. Edges of every refined frame (OpenCV Canny) against the
  control's edges (the ``edges`` pass, or Canny on the rgb render where that pass is missing),
  both at the refined size; an edge pixel counts as matched when the other map has an edge
  within 2 pixels. Precision, recall and F1 over all pixels of the shot (``edge_precision``,
  ``edge_recall`` alongside).
- ``warp_error``: temporal stability against the render's motion. Each refined frame ``t-1`` is
  warped forward to frame ``t`` along the ``flow`` pass and compared with frame ``t``: mean
  absolute difference in 8-bit grey levels over the pixels whose source stays in frame. Absent
  when the shot has no flow pass (``warp_error_absent`` says why).
- ``flicker``: mean absolute difference between consecutive refined frames, in grey levels;
  ``flicker_render`` is the same for the render, and ``flicker_ratio`` their quotient (1.0 = as
  steady as the render; absent when the render is still).

Flow files are the render's ``shots/<shot>/flow/NNNN.exr`` (channels ``X`` right and ``Y``
down): for frame ``t``, the motion of each pixel's surface from frame ``t-1`` to frame ``t``, in
render pixels. ``.npy`` arrays (H, W, 2) in the same convention are read too. (The flow PNGs
are a colour visualisation and are not read.)

Run figures recorded by the refine run (seconds per frame, peak GPU memory, size) are merged in
from ``refined/<shot>.json`` where they were measured.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import FilmCrewError
from .control import (
    ShotSource,
    binarize,
    canny_edges,
    fit_frame,
    load_manifest,
    read_image,
    render_frames,
    shot_sources,
    to_rgb8,
)
from .geometry import crop_box
from .video import read_video

TOLERANCE_PX = 2
RUN_FIGURES = ("size", "steps", "seconds_per_frame", "peak_gpu_memory_gib", "backend")


def edge_f1(ours: np.ndarray, theirs: np.ndarray, *, tolerance: float = TOLERANCE_PX) -> tuple[float, float, float]:
    """Precision, recall and F1 of edge maps ``ours`` against ``theirs`` ((N, H, W) bool each)."""
    import cv2

    matched_ours = matched_theirs = 0
    for a, b in zip(ours, theirs):
        # distanceTransform: distance of each pixel to the nearest zero pixel (here: the nearest edge).
        dist_b = cv2.distanceTransform(np.where(b, 0, 255).astype(np.uint8), cv2.DIST_L2, 3)
        dist_a = cv2.distanceTransform(np.where(a, 0, 255).astype(np.uint8), cv2.DIST_L2, 3)
        matched_ours += int(np.count_nonzero(a & (dist_b <= tolerance)))
        matched_theirs += int(np.count_nonzero(b & (dist_a <= tolerance)))
    total_ours, total_theirs = int(np.count_nonzero(ours)), int(np.count_nonzero(theirs))
    precision = matched_ours / total_ours if total_ours else 0.0
    recall = matched_theirs / total_theirs if total_theirs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def grey(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 to (N, H, W) float32 luma (Rec. 601)."""
    return frames[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def flicker(frames: np.ndarray) -> float | None:
    """Mean absolute difference of consecutive frames' luma, in grey levels (None for one frame)."""
    if len(frames) < 2:
        return None
    luma = grey(frames)
    return float(np.mean(np.abs(np.diff(luma, axis=0))))


def read_flow(path: Path) -> np.ndarray:
    """(H, W, 2) float32 motion from the previous frame to this one, in pixels (x right, y down)."""
    if path.suffix.lower() == ".npy":
        try:
            return np.load(path).astype(np.float32)[..., :2]
        except (OSError, ValueError) as exc:
            raise FilmCrewError(f"cannot read flow: {exc}", path=path) from None
    from ..render.passes import read_exr

    channels = read_exr(path)
    by_suffix = {name.rsplit(".", 1)[-1]: values for name, values in channels.items()}
    if "X" not in by_suffix or "Y" not in by_suffix:
        raise FilmCrewError(f"flow EXR needs channels X and Y, has {', '.join(sorted(channels))}", path=path)
    return np.stack([by_suffix["X"], by_suffix["Y"]], axis=-1).astype(np.float32)


def warp_error(frames: np.ndarray, flows: list[np.ndarray], *, render_size: tuple[int, int]) -> float:
    """Mean |frame[t] - warp(frame[t-1], flow[t])| in grey levels over pixels whose source is in frame.

    ``flows[t]`` is the motion from frame ``t-1`` to ``t`` at the render's size (``render_size`` =
    (width, height)); it is cropped and scaled the way the control was, to the frames' size.
    A pixel ``p`` of frame ``t`` was at ``p - flow[t](p)`` in frame ``t-1``.
    """
    import cv2

    count, height, width = frames.shape[:3]
    box = crop_box(source=render_size, target=(width, height))
    sx, sy = width / (box[2] - box[0]), height / (box[3] - box[1])
    luma = grey(frames)
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    # Where each output pixel's centre falls in the render, to sample the render-size flow there.
    src_x = ((xs + 0.5) / sx + box[0] - 0.5).astype(np.float32)
    src_y = ((ys + 0.5) / sy + box[1] - 0.5).astype(np.float32)
    errors, pixels = 0.0, 0
    for t in range(1, min(count, len(flows))):
        flow = np.nan_to_num(flows[t], nan=np.inf)
        fx = cv2.remap(np.ascontiguousarray(flow[..., 0]), src_x, src_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE) * sx
        fy = cv2.remap(np.ascontiguousarray(flow[..., 1]), src_x, src_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE) * sy
        map_x, map_y = xs - fx, ys - fy
        valid = np.isfinite(map_x) & np.isfinite(map_y) & (map_x >= 0) & (map_x <= width - 1) & \
            (map_y >= 0) & (map_y <= height - 1)
        warped = cv2.remap(luma[t - 1], np.where(valid, map_x, 0).astype(np.float32),
                           np.where(valid, map_y, 0).astype(np.float32), cv2.INTER_LINEAR)
        errors += float(np.abs(warped - luma[t])[valid].sum())
        pixels += int(valid.sum())
    return errors / pixels if pixels else float("nan")


def control_edges(source: ShotSource, size: tuple[int, int]) -> np.ndarray:
    """(N, H, W) bool edges of the control at ``size``: the edges pass, else Canny on the render."""
    if source.has("edges"):
        return np.stack([binarize(fit_frame(to_rgb8(read_image(p)), size)) > 0
                         for p in source.passes["edges"]])
    return np.stack([canny_edges(frame) > 0 for frame in render_frames(source, size)])


def shot_metrics(source: ShotSource, clip: Path) -> dict:
    """The quality figures of one refined shot (see the module docstring)."""
    frames = read_video(clip)
    if len(frames) != source.frame_count:
        raise FilmCrewError(f"refined clip has {len(frames)} frames, the shot {source.frame_count}", path=clip)
    size = (frames.shape[2], frames.shape[1])
    ours = np.stack([canny_edges(frame) > 0 for frame in frames])
    precision, recall, f1 = edge_f1(ours, control_edges(source, size))
    figures: dict = {"edge_f1": round(f1, 4), "edge_precision": round(precision, 4),
                     "edge_recall": round(recall, 4)}
    if source.has("flow"):
        flows = [read_flow(p) for p in source.passes["flow"]]
        height, width = flows[0].shape[:2]
        value = warp_error(frames, flows, render_size=(width, height))
        if np.isfinite(value):
            figures["warp_error"] = round(value, 3)
        else:
            figures["warp_error_absent"] = "no pixel stays in frame along the flow"
    else:
        figures["warp_error_absent"] = "shot has no flow pass"
    value = flicker(frames)
    if value is not None:
        figures["flicker"] = round(value, 3)
        if "rgb" in source.passes:
            render = flicker(render_frames(source, size))
            figures["flicker_render"] = round(render, 3)
            if render > 0.05:
                figures["flicker_ratio"] = round(value / render, 3)
    return figures


def refine_metrics(out: Path) -> dict:
    """Quality figures of every refined shot of the production folder ``out``.

    Returns ``{shot: figures}`` for each shot with a finished ``refined/<shot>.mp4`` (see the
    module docstring for the keys); shots that are not refined are left out. Needs no weights
    and no GPU. ``filmcrew check`` calls this; ``merge_report`` writes it into report.json.
    """
    out = Path(out)
    figures: dict = {}
    for source in shot_sources(out, load_manifest(out)):
        clip = out / "refined" / f"{source.shot}.mp4"
        state = _state(out, source.shot)
        if not clip.exists() or not state.get("complete"):
            continue
        figures[source.shot] = shot_metrics(source, clip)
        figures[source.shot].update({k: state[k] for k in RUN_FIGURES if k in state})
    return figures


def _state(out: Path, shot: str) -> dict:
    try:
        return json.loads((out / "refined" / f"{shot}.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def merge_report(out: Path, refine: dict) -> None:
    """Merge ``{shot: figures}`` into ``report.json["refine"]``, keeping every other key."""
    from ..production import merge_report as merge_sections

    merge_sections(Path(out) / "report.json", {"refine": refine})
