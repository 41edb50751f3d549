"""Camera movement: per-frame camera tracks from a shot's first pose and its subject's path.

Subject paths are smoothed forward and backward (critically damped, no lag, no jitter) before
the camera follows them; every move eases in and out.
"""

from __future__ import annotations

import math

import numpy as np

from .cameras import CameraPose, aim_at, fov, look_rotation, project, track_row

DAMPING_SECONDS = 0.35


def ease(t: np.ndarray) -> np.ndarray:
    """Smoothstep: zero velocity at both ends of a move."""
    return t * t * (3.0 - 2.0 * t)


def smooth_path(points: np.ndarray, fps: int, seconds: float = DAMPING_SECONDS) -> np.ndarray:
    """Exponential smoothing run forward then backward: damped and without lag."""
    if len(points) < 3:
        return points.copy()
    alpha = 1.0 - math.exp(-1.0 / max(seconds * fps, 1e-6))
    out = points.astype(float).copy()
    for order in (range(1, len(out)), range(len(out) - 2, -1, -1)):
        step = -1 if order.step < 0 else 1
        for i in order:
            out[i] = out[i - step] + alpha * (out[i] - out[i - step])
    return out


def _screen_point(base: CameraPose, target: np.ndarray, aspect: float) -> tuple[float, float]:
    x, y, _ = project(base, target[None], aspect)[0]
    return float(np.clip(x, -0.8, 0.8)), float(np.clip(y, -0.8, 0.8))


def _handheld_offsets(count: int, seed: int, fps: int) -> np.ndarray:
    """Smooth, small, deterministic wobble: (count, 3) metres."""
    rng = np.random.default_rng(seed)
    knots = max(2, int(count / fps * 3) + 2)
    values = rng.normal(0.0, 0.012, size=(knots, 3))
    t = np.linspace(0, knots - 1, count)
    return np.stack([np.interp(t, np.arange(knots), values[:, k]) for k in range(3)], axis=1)


def camera_track(*, base: CameraPose, movement: str, heads: np.ndarray, aspect: float, fps: int,
                 seed: int = 0, bounds=None) -> CameraPose:
    """The base pose with a per-frame track for ``movement`` (static returns ``base``).

    Args:
        base: the solved pose at the shot's first frame (aimed at the subject).
        movement: one of the plan's MOVEMENTS.
        heads: (F, 3) the main subject's head over the shot's frames.
        aspect: frame width / height.
        fps: frames per second, for damping and wobble.
        seed: makes handheld wobble repeatable per shot.
        bounds: optional callable clamping a camera position (walls).
    """
    count = len(heads)
    if movement == "static" or count < 2:
        return base
    path = smooth_path(heads, fps)
    start = np.array(base.position)
    screen = _screen_point(base, path[0], aspect)
    t = ease(np.linspace(0.0, 1.0, count))
    distance = float(np.linalg.norm(path[0] - start))
    forward = -np.array(base.rotation)[:, 2]
    right = np.array(base.rotation)[:, 0]
    positions = np.repeat(start[None], count, axis=0)
    if movement == "follow":
        positions = start + (path - path[0]) * np.array([1.0, 1.0, 0.0])
    elif movement in ("dolly_in", "dolly_out"):
        sign = 1.0 if movement == "dolly_in" else -1.0
        positions = start + np.outer(t, forward) * sign * 0.25 * distance
    elif movement == "truck":
        positions = start + np.outer(t, right) * min(1.0, 0.4 * distance)
    elif movement == "crane":
        positions = start + np.outer(t, [0.0, 0.0, 0.9])
    elif movement == "orbit":
        positions = _orbit(start, path[0], t, degrees=25.0)
    elif movement == "handheld":
        positions = start + _handheld_offsets(count, seed, fps)
    if bounds is not None:
        positions = np.array([bounds(p) for p in positions])
    rows = []
    for i in range(count):
        if movement == "tilt":
            pose = _tilt_only(base, positions[i], path[i], screen, aspect)
        else:
            pose = aim_at(positions[i], path[i], screen, base.focal_mm, aspect)
        rows.append(track_row(pose))
    return CameraPose(tuple(rows[0][:3]), tuple(tuple(rows[0][3 + 3 * r:6 + 3 * r]) for r in range(3)),
                      base.focal_mm, base.sensor_mm, base.focus_m, base.fstop, tuple(rows))


def _orbit(start: np.ndarray, centre: np.ndarray, t: np.ndarray, degrees: float) -> np.ndarray:
    rel = start[:2] - centre[:2]
    angles = np.radians(degrees) * t
    cos, sin = np.cos(angles), np.sin(angles)
    xy = np.stack([rel[0] * cos - rel[1] * sin, rel[0] * sin + rel[1] * cos], axis=1) + centre[:2]
    return np.concatenate([xy, np.full((len(t), 1), start[2])], axis=1)


def _tilt_only(base: CameraPose, position: np.ndarray, target: np.ndarray, screen, aspect: float) -> CameraPose:
    """Keep the base yaw, change only the pitch so the target stays at its screen height."""
    forward = -np.array(base.rotation)[:, 2]
    yaw = math.atan2(forward[1], forward[0])
    delta = target - position
    pitch = math.atan2(delta[2], math.hypot(delta[0], delta[1])) - math.atan(screen[1] * fov(base.focal_mm, aspect)[1])
    return CameraPose(tuple(position), tuple(map(tuple, look_rotation(yaw, pitch))), base.focal_mm)
