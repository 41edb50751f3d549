"""Sizes, frame rates and windows for video models (pure numpy).

Video diffusion models of the Wan and CogVideoX families compress time by 4 and space by 8,
then patch latents by 2: a clip they accept has ``4k+1`` frames and sides that are multiples
of 16. A shot rarely fits, so its size is snapped (keeping the aspect), its frame rate is
resampled to the model's and back, and a long shot is cut into overlapping windows whose
outputs are blended across the overlaps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import FilmCrewError


def snap_size(*, source: tuple[int, int], requested: tuple[int, int], multiple: int = 16) -> tuple[int, int]:
    """The model size for a shot: the source aspect fitted in ``requested``, sides multiples of 16.

    Args:
        source: the render's (width, height).
        requested: the largest (width, height) wanted, e.g. (832, 480).
        multiple: what both sides must be multiples of.

    Returns:
        (width, height), each a multiple of ``multiple``, at least ``multiple`` and no larger than
        ``requested`` rounded down to a multiple.
    """
    sw, sh = source
    rw, rh = requested
    if min(sw, sh, rw, rh) <= 0:
        raise FilmCrewError(f"sizes must be positive, not {source} and {requested}")
    scale = min(rw / sw, rh / sh)
    max_w = max(multiple, rw // multiple * multiple)
    max_h = max(multiple, rh // multiple * multiple)
    width = min(max_w, max(multiple, round(sw * scale / multiple) * multiple))
    height = min(max_h, max(multiple, round(sh * scale / multiple) * multiple))
    return width, height


def crop_box(*, source: tuple[int, int], target: tuple[int, int]) -> tuple[float, float, float, float]:
    """The centred (left, top, right, bottom) box of ``source`` with the aspect of ``target``.

    Resizing this box (not the whole frame) to ``target`` keeps circles round; after snapping to
    multiples of 16 the box trims at most a few percent from one pair of sides.
    """
    sw, sh = source
    tw, th = target
    if sw * th > tw * sh:  # source is wider: trim left and right
        width = sh * tw / th
        left = (sw - width) / 2
        return (left, 0.0, left + width, float(sh))
    height = sw * th / tw
    top = (sh - height) / 2
    return (0.0, top, float(sw), top + height)


def snap_frames_up(count: int, *, factor: int = 4) -> int:
    """The smallest ``factor*k + 1`` frame count that holds ``count`` frames."""
    if count < 1:
        raise FilmCrewError(f"a clip needs at least one frame, not {count}")
    return factor * math.ceil((count - 1) / factor) + 1


def resample_indices(count: int, *, src_fps: float, dst_fps: float, n_dst: int | None = None) -> np.ndarray:
    """For each frame at ``dst_fps``, the index of the ``src_fps`` frame showing the same moment.

    Frame ``i`` at rate ``r`` covers ``[i/r, (i+1)/r)``; each destination frame takes the source
    frame under its centre (nearest in time, no blending, so no ghosting). The destination has
    ``n_dst`` frames, by default ``round(count * dst_fps / src_fps)`` (at least one); equal rates
    give the identity.
    """
    if count < 1:
        raise FilmCrewError(f"cannot resample {count} frames")
    if src_fps <= 0 or dst_fps <= 0:
        raise FilmCrewError(f"frame rates must be positive, not {src_fps} and {dst_fps}")
    if n_dst is None:
        n_dst = max(1, round(count * dst_fps / src_fps))
    centres = (np.arange(n_dst) + 0.5) / dst_fps
    return np.clip(np.floor(centres * src_fps + 1e-9).astype(np.int64), 0, count - 1)


@dataclass(frozen=True)
class Window:
    """``length`` model frames from ``start``; ``length`` is ``4k+1``. Frames past the end of the
    shot (only in a single short window) repeat its last control frame and are dropped after."""

    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


def plan_windows(count: int, *, window: int = 81, overlap: int = 16, factor: int = 4) -> list[Window]:
    """Cut ``count`` model frames into as few ``window``-frame windows as cover them with at least
    ``overlap`` frames shared between neighbours, spread evenly.

    A shot no longer than ``window`` is one window of the smallest ``4k+1`` length that holds it.

    Raises:
        FilmCrewError: ``window`` is not ``4k+1`` or ``overlap`` does not leave room to advance.
    """
    if window < 1 or (window - 1) % factor:
        raise FilmCrewError(f"window must be {factor}k+1 frames (17, 33, 49, 81...), not {window}")
    if not 0 <= overlap < window - 1:
        raise FilmCrewError(f"overlap must be between 0 and {window - 2} frames, not {overlap}")
    if count <= window:
        return [Window(0, snap_frames_up(count, factor=factor))]
    windows = math.ceil((count - overlap) / (window - overlap))
    starts = [round(i * (count - window) / (windows - 1)) for i in range(windows)]
    return [Window(start, window) for start in starts]


def blend_weights(windows: list[Window], count: int) -> list[np.ndarray]:
    """Per window, the weight of each of its frames in the blend (trapezoids, summing to 1).

    A window's weight ramps up linearly over the frames it shares with the window before and down
    over those it shares with the window after, so a crossfade runs across every overlap; frames
    outside ``count`` (padding) get weight 0.
    """
    weights = []
    for index, win in enumerate(windows):
        frames = np.arange(win.start, win.end)
        left = windows[index - 1].end - win.start if index > 0 else 0
        right = win.end - windows[index + 1].start if index + 1 < len(windows) else 0
        w = np.ones(win.length, dtype=np.float64)
        if left > 0:
            w = np.minimum(w, (frames - win.start + 1) / (left + 1))
        if right > 0:
            w = np.minimum(w, (win.end - frames) / (right + 1))
        w[frames >= count] = 0.0
        weights.append(w)
    total = np.zeros(count)
    for win, w in zip(windows, weights):
        valid = min(win.end, count) - win.start
        total[win.start:win.start + valid] += w[:valid]
    if np.any(total <= 0):
        raise FilmCrewError("windows leave frames uncovered")
    return [w / np.concatenate([total[win.start:min(win.end, count)],
                                np.ones(max(0, win.end - count))]) for win, w in zip(windows, weights)]


def blend_windows(windows: list[Window], outputs: list[np.ndarray], count: int) -> np.ndarray:
    """Blend the windows' outputs ((length, H, W, 3) uint8 each) into ``count`` uint8 frames."""
    if len(windows) != len(outputs):
        raise FilmCrewError(f"{len(windows)} windows but {len(outputs)} outputs")
    shape = outputs[0].shape[1:]
    acc = np.zeros((count, *shape), dtype=np.float32)
    for win, w, frames in zip(windows, blend_weights(windows, count), outputs):
        valid = min(win.end, count) - win.start
        acc[win.start:win.start + valid] += frames[:valid].astype(np.float32) * \
            w[:valid, None, None, None].astype(np.float32)
    return np.clip(np.rint(acc), 0, 255).astype(np.uint8)
