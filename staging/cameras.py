"""First cameras: one static camera per shot that frames its subjects (pure numpy).

A camera looks down its local -Z with +Y up (Blender's convention); ``rotation`` maps camera
axes to world axes. Singles put the subject's head on the upper third with lead room in the
direction they face; wider framings fit every subject's head and feet. All cameras of a scene
stay on one side of the line between its two main characters (the 180-degree rule), and are
kept inside the walls of interior sets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..plan.model import Plan, SetSpec, Shot
from .blocking import Blocking
from .timeline import ShotRange, Timeline

SENSOR_WIDTH = 36.0  # mm, Blender's default; sensor fit is horizontal
SIZE_SPAN = {"ECU": 0.22, "CU": 0.42, "MCU": 0.65, "MS": 0.95, "MLS": 1.35}  # metres below the head top
SIZE_LENS = {"ECU": 85.0, "CU": 65.0, "MCU": 50.0, "MS": 40.0, "MLS": 35.0, "FS": 28.0, "LS": 24.0,
             "ELS": 18.0}
SINGLE_ANGLE = 28.0  # degrees off the line between speaker and listener
WALL_MARGIN = 0.35


@dataclass(frozen=True)
class CameraPose:
    position: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...]  # 3x3, camera -> world
    focal_mm: float
    sensor_mm: float = SENSOR_WIDTH

    def matrix(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = np.array(self.rotation)
        m[:3, 3] = self.position
        return m


def fov(focal_mm: float, aspect: float) -> tuple[float, float]:
    """Horizontal and vertical half-angle tangents for a focal length and width/height."""
    tan_h = SENSOR_WIDTH / (2.0 * focal_mm)
    return tan_h, tan_h / aspect


def look_rotation(yaw: float, pitch: float) -> np.ndarray:
    """Camera->world rotation for a level camera looking along azimuth ``yaw``, tilted ``pitch`` (radians)."""
    forward = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)])
    right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    up = np.cross(right, forward)
    return np.stack([right, up, -forward], axis=1)


def project(pose: CameraPose, points: np.ndarray, aspect: float) -> np.ndarray:
    """World points (N,3) to normalised screen coordinates (N,3): x, y in [-1, 1] when in frame, depth."""
    rot = np.array(pose.rotation)
    local = (np.asarray(points, dtype=float) - np.array(pose.position)) @ rot
    depth = -local[:, 2]
    tan_h, tan_v = fov(pose.focal_mm, aspect)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = local[:, 0] / (depth * tan_h)
        y = local[:, 1] / (depth * tan_v)
    return np.stack([x, y, depth], axis=1)


def aim_at(position: np.ndarray, target: np.ndarray, screen: tuple[float, float], focal: float,
           aspect: float) -> CameraPose:
    """A level camera at ``position`` whose view puts ``target`` at ``screen`` (NDC x, y)."""
    delta = target - position
    yaw = math.atan2(delta[1], delta[0])
    pitch = math.atan2(delta[2], math.hypot(delta[0], delta[1]))
    tan_h, tan_v = fov(focal, aspect)
    pose = CameraPose(tuple(position), tuple(map(tuple, look_rotation(yaw, pitch))), focal)
    for _ in range(8):  # small fixed-point correction: exact enough after a few steps
        x, y, _depth = project(pose, target[None], aspect)[0]
        yaw += math.atan(screen[0] * tan_h) - math.atan(x * tan_h)
        pitch += math.atan(y * tan_v) - math.atan(screen[1] * tan_v)
        pose = CameraPose(tuple(position), tuple(map(tuple, look_rotation(yaw, pitch))), focal)
    return pose


@dataclass
class _Subject:
    head: np.ndarray   # (3,) head centre at the shot's middle frame
    feet: np.ndarray   # (3,)
    facing: float      # degrees
    points: np.ndarray  # (K,3) heads and feet over the shot
    settled: np.ndarray  # (2,) floor position at the shot's last visible frame: where the line is


def head_height(height: float, sit: float, seat: float) -> float:
    standing = 0.93 * height
    seated = seat + 0.45 * height
    return standing + (seated - standing) * sit


def _subjects(blocking: Blocking, heights: dict[str, float], shot_range: ShotRange,
              ids: list[str]) -> dict[str, _Subject]:
    frames = np.arange(shot_range.start_frame - 1, shot_range.end_frame)
    middle = frames[len(frames) // 2]
    result = {}
    for cid in ids:
        track = blocking.tracks[cid]
        visible = frames[track.present[frames]]
        if len(visible) == 0:
            continue
        mid = middle if track.present[middle] else visible[len(visible) // 2]
        height = heights.get(cid, 1.7)

        def head_at(i: int) -> np.ndarray:
            z = head_height(height, track.sit[i], track.seat_height[i])
            return np.array([*track.position[i], z])

        sample = visible[:: max(1, len(visible) // 12)]
        points = [head_at(i) for i in sample] + [np.array([*track.position[i], 0.0]) for i in sample]
        result[cid] = _Subject(head=head_at(mid), feet=np.array([*track.position[mid], 0.0]),
                               facing=float(track.facing[mid]), points=np.array(points),
                               settled=track.position[visible[-1]].copy())
    return result


def _clamp_inside(set_spec: SetSpec, offset: tuple[float, float], origin: np.ndarray,
                  position: np.ndarray) -> np.ndarray:
    """Pull a camera back along its ray from ``origin`` until it is inside the walls."""
    if not set_spec.interior:
        return position
    half = np.array(set_spec.size[:2]) / 2.0 - WALL_MARGIN
    centre = np.array(offset)
    lo, hi = centre - half, centre + half
    direction = position[:2] - origin[:2]
    scale = 1.0
    for axis in range(2):
        if abs(direction[axis]) < 1e-9:
            continue
        bound = hi[axis] if direction[axis] > 0 else lo[axis]
        scale = min(scale, max(0.0, (bound - origin[axis]) / direction[axis]))
    clamped = position.copy()
    clamped[:2] = origin[:2] + direction * scale
    clamped[2] = min(position[2], set_spec.size[2] - WALL_MARGIN)
    return clamped


def _fit_distance(points: np.ndarray, centre: np.ndarray, yaw: float, focal: float, aspect: float,
                  fill: float = 0.8) -> float:
    """Distance along -view so that every point lies within ``fill`` of the frame."""
    tan_h, tan_v = fov(focal, aspect)
    forward = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    rel = points - centre
    along = rel @ forward
    needed = np.maximum(np.abs(rel @ right) / (fill * tan_h), np.abs(rel[:, 2]) / (fill * tan_v)) - along
    return float(max(needed.max(), 1.0))


def _lens_for_distance(points: np.ndarray, position: np.ndarray, centre: np.ndarray, aspect: float,
                       focal: float) -> float:
    """Widen the lens until the points fit from a camera that could not back up far enough."""
    for candidate in np.arange(focal, 11.0, -1.0):
        pose = aim_at(position, centre, (0.0, 0.0), candidate, aspect)
        ndc = project(pose, points, aspect)
        if np.all(np.abs(ndc[:, :2]) <= 0.92) and np.all(ndc[:, 2] > 0.2):
            return float(candidate)
    return 12.0


def _line_side(subjects: dict[str, _Subject], line: tuple[str, str] | None, side: float,
               centre: np.ndarray) -> np.ndarray:
    """Unit vector pointing from the action to the camera's side of the line."""
    if line and line[0] in subjects and line[1] in subjects:
        a, b = subjects[line[0]].settled, subjects[line[1]].settled
        axis = b - a
        if np.linalg.norm(axis) > 1e-3:
            axis = axis / np.linalg.norm(axis)
            return side * np.array([-axis[1], axis[0]])
    return np.array([0.0, -1.0])


def solve_single(subject: _Subject, other: np.ndarray | None, side_vec: np.ndarray, size: str,
                 aspect: float, set_spec: SetSpec, offset: tuple[float, float]) -> CameraPose:
    """Speaker on the upper third, looking into the open side of the frame."""
    focal = SIZE_LENS[size]
    span = SIZE_SPAN[size] + 0.12
    _tan_h, tan_v = fov(focal, aspect)
    distance = span / (2.0 * tan_v * (2.0 / 3.0 + 0.12))
    face = np.radians(subject.facing)
    toward = (other[:2] - subject.head[:2]) if other is not None else np.array([math.cos(face), math.sin(face)])
    toward = toward / (np.linalg.norm(toward) or 1.0)
    angle = math.radians(SINGLE_ANGLE)
    options = [np.array([toward[0] * math.cos(s * angle) - toward[1] * math.sin(s * angle),
                         toward[0] * math.sin(s * angle) + toward[1] * math.cos(s * angle)]) for s in (1, -1)]
    direction = max(options, key=lambda d: float(d @ side_vec))
    eye = subject.head[2] - 0.08
    position = np.array([*(subject.head[:2] + direction * distance), eye])
    clamped = _clamp_inside(set_spec, offset, subject.head, position)
    if np.linalg.norm(clamped - position) > 1e-6:
        focal = max(14.0, focal * np.linalg.norm(clamped[:2] - subject.head[:2]) / distance)
    # Lead room: the subject sits on the third opposite the way they look on screen.
    facing_vec = np.array([math.cos(face), math.sin(face)])
    right = np.array([direction[1], -direction[0]]) * -1.0
    looks_right = float(facing_vec @ right) > 0
    screen = (-1.0 / 3.0 if looks_right else 1.0 / 3.0, 1.0 / 3.0)
    return aim_at(clamped, subject.head, screen, focal, aspect)


def solve_wide(points: np.ndarray, side_vec: np.ndarray, size: str, aspect: float,
               set_spec: SetSpec, offset: tuple[float, float], height: float) -> CameraPose:
    """Fit all points, seen from the camera's side of the line, slightly from above."""
    centre = (points.min(axis=0) + points.max(axis=0)) / 2.0
    centre[2] = max(centre[2], 0.9)
    focal = SIZE_LENS.get(size, 28.0)
    swing = math.radians(25.0 if size in ("LS", "ELS") else 10.0)
    view_dir = -side_vec
    view_dir = np.array([view_dir[0] * math.cos(swing) - view_dir[1] * math.sin(swing),
                         view_dir[0] * math.sin(swing) + view_dir[1] * math.cos(swing)])
    yaw = math.atan2(view_dir[1], view_dir[0])
    distance = _fit_distance(points, centre, yaw, focal, aspect)
    position = np.array([centre[0] - view_dir[0] * distance, centre[1] - view_dir[1] * distance, height])
    clamped = _clamp_inside(set_spec, offset, centre, position)
    if np.linalg.norm(clamped - position) > 1e-6:
        focal = _lens_for_distance(points, clamped, centre, aspect, focal)
    return aim_at(clamped, centre, (0.0, 0.0), focal, aspect)


def main_line(plan: Plan, scene_id: str) -> tuple[str, str] | None:
    """The two characters who speak most in a scene: the line the cameras stay on one side of."""
    scene = plan.scene(scene_id)
    counts: dict[str, int] = {}
    for beat in scene.beats:
        if getattr(beat, "type", "") == "dialogue":
            counts[beat.character] = counts.get(beat.character, 0) + 1
    ranked = sorted(counts, key=lambda c: (-counts[c], scene.cast.index(c)))
    if len(ranked) < 2:
        ranked += [c for c in scene.cast if c not in ranked]
    if len(ranked) < 2:
        return None
    a, b = ranked[:2]
    return (a, b) if scene.cast.index(a) < scene.cast.index(b) else (b, a)


def solve_shot(*, plan: Plan, shot: Shot, shot_range: ShotRange, blocking: Blocking,
               heights: dict[str, float], side: float) -> CameraPose:
    """The camera for one shot."""
    scene = plan.scene(shot.scene)
    set_spec = plan.set(scene.set)
    offset = blocking.set_offsets[scene.set]
    aspect = plan.resolution[0] / plan.resolution[1]
    line = main_line(plan, scene.id)
    everyone = _subjects(blocking, heights, shot_range, scene.cast)
    framed = {c: everyone[c] for c in shot.subjects if c in everyone} or everyone
    centre = np.mean([s.head for s in everyone.values()], axis=0) if everyone else np.array([*offset, 1.0])
    side_vec = _line_side(everyone, line, side, centre)
    if shot.framing == "single" and len(framed) == 1 and shot.size in SIZE_SPAN:
        cid, subject = next(iter(framed.items()))
        beat = plan.scene(shot.scene).beats[shot.first_beat]
        other_id = getattr(beat, "addressee", None) or next(
            (c for c in everyone if c != cid), None)
        other = everyone[other_id].head if other_id in everyone else None
        return solve_single(subject, other, side_vec, shot.size, aspect, set_spec, offset)
    targets = framed if shot.framing != "establishing" else everyone
    points = np.concatenate([s.points for s in targets.values()]) if targets else np.array([[*offset, 0.0]])
    height = 2.1 if shot.framing == "establishing" else 1.55
    size = shot.size if shot.size in SIZE_LENS else "LS"
    return solve_wide(points, side_vec, size, aspect, set_spec, offset, height)


def choose_side(plan: Plan, scene_id: str, blocking: Blocking, heights: dict[str, float],
                timeline: Timeline) -> float:
    """The side of the line with more room for cameras (interiors) or +1 (exteriors)."""
    scene = plan.scene(scene_id)
    set_spec = plan.set(scene.set)
    first = next(r for r in timeline.shots if r.scene == scene_id)
    subjects = _subjects(blocking, heights, first, scene.cast)
    line = main_line(plan, scene_id)
    if not subjects or not set_spec.interior:
        return 1.0
    centre = np.mean([s.feet for s in subjects.values()], axis=0)
    offset = np.array(blocking.set_offsets[scene.set])
    half = np.array(set_spec.size[:2]) / 2.0

    def room(side: float) -> float:
        vec = _line_side(subjects, line, side, centre)
        steps = [t for t in np.arange(0.2, 20.0, 0.1)
                 if np.all(np.abs(centre[:2] + vec * t - offset) < half - WALL_MARGIN)]
        return max(steps, default=0.0)
    return 1.0 if room(1.0) >= room(-1.0) else -1.0


def solve_cameras(*, plan: Plan, timeline: Timeline, blocking: Blocking,
                  heights: dict[str, float]) -> dict[str, CameraPose]:
    """A camera pose per shot id."""
    sides = {s.id: choose_side(plan, s.id, blocking, heights, timeline) for s in plan.scenes}
    ranges = {r.shot: r for r in timeline.shots}
    return {shot.id: solve_shot(plan=plan, shot=shot, shot_range=ranges[shot.id], blocking=blocking,
                                heights=heights, side=sides[shot.scene])
            for shot in plan.shots}
