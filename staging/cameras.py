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
from functools import partial

import numpy as np

from ..plan.model import Plan, SetSpec, Shot
from .sets import distance_to_footprint, footprint
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
    """A shot's camera: its pose at the first frame, and per-frame rows when it moves.

    A ``track`` row is 13 numbers: position (3), rotation rows (9), focal length (1).
    """

    position: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...]  # 3x3, camera -> world
    focal_mm: float
    sensor_mm: float = SENSOR_WIDTH
    focus_m: float | None = None  # focus distance (depth of field on the subject)
    fstop: float | None = None
    track: tuple[tuple[float, ...], ...] | None = None

    def matrix(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = np.array(self.rotation)
        m[:3, 3] = self.position
        return m


def pose_at(pose: CameraPose, index: int) -> CameraPose:
    """The camera at frame ``index`` of its shot (clamped to the track)."""
    if not pose.track:
        return pose
    row = pose.track[min(max(index, 0), len(pose.track) - 1)]
    rotation = tuple(tuple(row[3 + 3 * r: 6 + 3 * r]) for r in range(3))
    return CameraPose(tuple(row[:3]), rotation, row[12], pose.sensor_mm, pose.focus_m, pose.fstop)


def camera_from_json(data: dict) -> CameraPose:
    """A pose from its JSON form (``dataclasses.asdict`` written by the stage)."""
    track = data.get("track")
    return CameraPose(position=tuple(data["position"]), rotation=tuple(map(tuple, data["rotation"])),
                      focal_mm=data["focal_mm"], sensor_mm=data.get("sensor_mm", SENSOR_WIDTH),
                      focus_m=data.get("focus_m"), fstop=data.get("fstop"),
                      track=tuple(map(tuple, track)) if track else None)


def track_row(pose: CameraPose) -> tuple[float, ...]:
    return (*pose.position, *np.array(pose.rotation).ravel().tolist(), pose.focal_mm)


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


def _head_point(track, height: float, index: int) -> np.ndarray:
    return np.array([*track.position[index], head_height(height, track.sit[index], track.seat_height[index])])


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
        head_at = partial(_head_point, track, height)
        sample = visible[:: max(1, len(visible) // 12)]
        points = [head_at(i) for i in sample] + [np.array([*track.position[i], 0.0]) for i in sample]
        result[cid] = _Subject(head=head_at(mid), feet=np.array([*track.position[mid], 0.0]),
                               facing=float(track.facing[mid]), points=np.array(points),
                               settled=track.position[visible[-1]].copy())
    return result


@dataclass
class _Room:
    """What a camera must respect in one set: the walls (interiors), props and people."""

    set_spec: SetSpec
    offset: np.ndarray
    props: list[tuple[np.ndarray, float]]       # (4x2 world footprint, top z)
    people: list[tuple[str, np.ndarray, float]]  # (id, floor xy, head z)

    def room_along(self, origin: np.ndarray, direction: np.ndarray) -> float:
        """How far a camera can back away from ``origin`` along ``direction`` inside the walls."""
        if not self.set_spec.interior:
            return float("inf")
        half = np.array(self.set_spec.size[:2]) / 2.0 - WALL_MARGIN
        lo, hi = self.offset - half, self.offset + half
        reach = float("inf")
        for axis in range(2):
            if abs(direction[axis]) > 1e-9:
                bound = hi[axis] if direction[axis] > 0 else lo[axis]
                reach = min(reach, (bound - origin[axis]) / direction[axis])
        return max(0.0, reach)

    def inside_prop(self, position: np.ndarray) -> bool:
        return any(distance_to_footprint(corners, position[:2]) < 0.15 and top > position[2] - 0.1
                   for corners, top in self.props)

    def blocked(self, camera: np.ndarray, target: np.ndarray, *, ignore: set[str]) -> bool:
        """Does a prop or another person stand between the camera and ``target``?"""
        samples = camera + (target - camera) * np.linspace(0.05, 0.92, 40)[:, None]
        for corners, top in self.props:
            low = samples[samples[:, 2] < top]
            if len(low) and _inside_convex(corners, low[:, :2]).any():
                return True
        for cid, xy, head in self.people:
            if cid in ignore:
                continue
            near = np.linalg.norm(samples[:, :2] - xy, axis=1) < PERSON_RADIUS
            if np.any(near & (samples[:, 2] < head + 0.15)):
                return True
        return False

    def with_people(self, people: list[tuple[str, np.ndarray, float]]) -> "_Room":
        return _Room(self.set_spec, self.offset, self.props, people)


def _inside_convex(corners: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) True where points lie inside a convex polygon given counter-clockwise."""
    edges = np.roll(corners, -1, axis=0) - corners
    rel = points[:, None, :] - corners[None, :, :]
    cross = edges[None, :, 0] * rel[:, :, 1] - edges[None, :, 1] * rel[:, :, 0]
    return np.all(cross > 0, axis=1)


PERSON_RADIUS = 0.3


def _room_for(set_spec: SetSpec, offset: tuple[float, float], subjects: dict[str, _Subject]) -> _Room:
    shift = np.array(offset)
    props = [(footprint(p) + shift, p.position[2] + p.size[2]) for p in set_spec.props
             if p.position[2] + p.size[2] > 0.05]
    people = [(cid, s.head[:2].copy(), float(s.head[2])) for cid, s in subjects.items()]
    return _Room(set_spec, shift, props, people)


def _rotate(vec: np.ndarray, degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    return np.array([vec[0] * math.cos(a) - vec[1] * math.sin(a), vec[0] * math.sin(a) + vec[1] * math.cos(a)])


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


OFF_LINE = 0.15  # metres: a camera this close to the line is on it, on neither side


@dataclass(frozen=True)
class LineRule:
    """The 180-degree rule for one cut: stay on ``side`` of the line from ``a`` to ``b``."""

    a: np.ndarray
    b: np.ndarray
    side: float

    def side_of(self, position: np.ndarray) -> float:
        axis = self.b[:2] - self.a[:2]
        rel = np.asarray(position)[:2] - self.a[:2]
        signed = (axis[0] * rel[1] - axis[1] * rel[0]) / (np.linalg.norm(axis) or 1.0)
        return 0.0 if abs(signed) < OFF_LINE else math.copysign(1.0, signed)

    def allows(self, position: np.ndarray) -> bool:
        return self.side_of(position) != -self.side

    def normal(self) -> np.ndarray:
        """Unit vector from the line towards the allowed side."""
        axis = self.b[:2] - self.a[:2]
        axis = axis / (np.linalg.norm(axis) or 1.0)
        return self.side * np.array([-axis[1], axis[0]])


@dataclass
class _Candidate:
    position: np.ndarray
    focal: float
    penalty: float


def _place(room: _Room, origin: np.ndarray, direction: np.ndarray, distance: float, height: float,
           focal: float, targets: list[np.ndarray], ignore: set[str], turn: float) -> _Candidate:
    """A camera ``distance`` from ``origin`` along ``direction``, pulled in (and widened) at walls."""
    reach = room.room_along(origin[:2], direction)
    used = min(distance, reach)
    position = np.array([*(origin[:2] + direction * used), height])
    widened = max(MIN_LENS, focal * used / distance) if used < distance else focal
    # Backing into a wall means a wider lens and distorted people: worse than turning.
    penalty = abs(turn) / 30.0 + 8.0 * max(0.0, 1.0 - used / distance)
    if used < 0.8:
        penalty += 50.0
    if room.inside_prop(position):
        penalty += 100.0
    penalty += sum(20.0 for t in targets if room.blocked(position, t, ignore=ignore))
    return _Candidate(position, widened, penalty)


MIN_LENS = 14.0
TURNS = (0.0, 12.0, -12.0, 25.0, -25.0, 40.0, -40.0, 55.0, -55.0, 70.0, -70.0)


CROSSING = 1000.0
NEUTRAL = 200.0


def _best(candidates: list[_Candidate]) -> _Candidate:
    return min(candidates, key=lambda c: c.penalty)


def _neutral_candidates(rule: LineRule, room: _Room, centre: np.ndarray, distance: float, height: float,
                        focal: float, targets: list[np.ndarray], ignore: set[str],
                        face: np.ndarray | None = None) -> list[_Candidate]:
    """Cameras on the line itself, looking along it: the editor's way out when both sides fail."""
    axis = rule.b[:2] - rule.a[:2]
    axis = axis / (np.linalg.norm(axis) or 1.0)
    foot = rule.a[:2] + axis * float((centre[:2] - rule.a[:2]) @ axis)
    result = []
    for sign in (1.0, -1.0):
        candidate = _place(room, np.array([*foot, centre[2]]), sign * axis, distance, height, focal, targets,
                           ignore, 0.0)
        candidate.penalty += NEUTRAL
        if face is not None and float(sign * axis @ face) < 0.1:
            candidate.penalty += 300.0  # behind the subject's head: a single must see the face
        if rule.side_of(candidate.position) == 0.0:
            result.append(candidate)
    return result


def solve_single(subject_id: str, subject: _Subject, other: np.ndarray | None, rule: LineRule | None,
                 size: str, aspect: float, room: _Room) -> CameraPose:
    """Speaker on the upper third, facing into the open side of the frame, unoccluded."""
    focal = SIZE_LENS[size]
    span = SIZE_SPAN[size] + 0.12
    _tan_h, tan_v = fov(focal, aspect)
    distance = span / (2.0 * tan_v * (2.0 / 3.0 + 0.12))
    face = np.radians(subject.facing)
    facing_vec = np.array([math.cos(face), math.sin(face)])
    toward = facing_vec
    if other is not None:
        to_other = other[:2] - subject.head[:2]
        to_other = to_other / (np.linalg.norm(to_other) or 1.0)
        if float(to_other @ facing_vec) > 0.3:
            toward = to_other
    candidates = []
    for base in (SINGLE_ANGLE, -SINGLE_ANGLE):
        for turn in TURNS:
            direction = _rotate(toward, base + turn)
            if float(direction @ facing_vec) < 0.1:
                continue  # behind the subject: a single shows the face
            candidate = _place(room, subject.head, direction, distance, subject.head[2] - 0.08, focal,
                               [subject.head], {subject_id}, turn)
            if rule is not None and not rule.allows(candidate.position):
                candidate.penalty += CROSSING  # crossing the line is the last resort
            candidates.append(candidate)
    if not candidates:
        candidates.append(_place(room, subject.head, facing_vec, distance, subject.head[2] - 0.08, focal,
                                 [subject.head], {subject_id}, 0.0))
    if rule is not None and min(c.penalty for c in candidates) >= CROSSING:
        candidates += _neutral_candidates(rule, room, subject.head, distance, subject.head[2] - 0.08, focal,
                                          [subject.head], {subject_id}, face=facing_vec)
    best = _best(candidates)
    right = np.array([-(best.position[1] - subject.head[1]), best.position[0] - subject.head[0]])
    looks_right = float(facing_vec @ right) < 0  # screen right is the camera's right
    screen = (-1.0 / 3.0 if looks_right else 1.0 / 3.0, 1.0 / 3.0)
    return aim_at(best.position, subject.head, screen, best.focal, aspect)


def solve_two_shot(subjects: dict[str, _Subject], rule: LineRule | None, size: str, aspect: float,
                   room: _Room) -> CameraPose | None:
    """Two heads on the left and right thirds: Lino and Christie's toric construction, in plan view.

    Seeing A and B a fixed angle apart (the lens and the two thirds fix it) puts the camera on a
    circle arc through A and B (the inscribed angle theorem); every point of the arc keeps both
    heads on their thirds, so the search walks the arc for one inside the walls, unoccluded and on
    the allowed side of the line. None when no point of the arc will do.
    """
    (id_a, a), (id_b, b) = list(subjects.items())[:2]
    chord = b.head[:2] - a.head[:2]
    length = float(np.linalg.norm(chord))
    if length < 0.3:
        return None
    middle = (a.head[:2] + b.head[:2]) / 2.0
    normal = np.array([-chord[1], chord[0]]) / length
    if rule is not None and float(normal @ rule.normal()) < 0:
        normal = -normal
    height = float(max(a.head[2], b.head[2])) - 0.05
    best: _Candidate | None = None
    # A longer lens sees A and B under a smaller angle, from further away: widen until it fits.
    for focal in sorted({f for f in (SIZE_LENS.get(size, 35.0), 35.0, 28.0, 24.0, 20.0, 18.0)
                         if f <= SIZE_LENS.get(size, 35.0)}, reverse=True):
        tan_h, _ = fov(focal, aspect)
        alpha = 2.0 * math.atan(tan_h / 3.0)  # the angle between the two vertical thirds
        radius = length / (2.0 * math.sin(alpha))
        centre = middle + normal * (length / (2.0 * math.tan(alpha)))
        for turn in TURNS:
            spoke = _rotate(normal, turn * 0.8)  # stay well inside the arc: its ends touch A and B
            position = np.array([*(centre + spoke * radius), height])
            penalty = abs(turn) / 30.0 + (100.0 if room.inside_prop(position) else 0.0)
            offset = position[:2] - middle
            reach = room.room_along(middle, offset / (np.linalg.norm(offset) or 1.0))
            if room.set_spec.interior and reach < float(np.linalg.norm(offset)):
                penalty += 100.0  # outside the walls
            if rule is not None and not rule.allows(position):
                penalty += CROSSING
            penalty += sum(20.0 for s in (a, b) if room.blocked(position, s.head, ignore={id_a, id_b}))
            if best is None or penalty < best.penalty:
                best = _Candidate(position, focal, penalty)
        if best is not None and best.penalty < 100.0:
            break
    if best is None or best.penalty >= 100.0:
        return None
    forward = middle - best.position[:2]
    right = np.array([forward[1], -forward[0]])
    left, other = (a, b) if float(right @ (a.head[:2] - best.position[:2])) < float(right @ (b.head[:2] - best.position[:2])) else (b, a)
    del other
    return aim_at(best.position, left.head, (-1.0 / 3.0, 1.0 / 3.0), best.focal, aspect)


def _front(subjects: dict[str, _Subject]) -> np.ndarray:
    """The mean facing of the subjects: a camera there sees their faces."""
    vec = np.sum([[math.cos(math.radians(s.facing)), math.sin(math.radians(s.facing))]
                  for s in subjects.values()], axis=0) if subjects else np.array([0.0, -1.0])
    norm = np.linalg.norm(vec)
    return vec / norm if norm > 1e-6 else np.array([0.0, -1.0])


def _fit_points(subjects: dict[str, _Subject], size: str) -> np.ndarray:
    """What a framing must show: heads down to the cut line for medium sizes, whole bodies wider."""
    if size in SIZE_SPAN:
        cut = SIZE_SPAN[size]
        heads = np.array([s.head for s in subjects.values()])
        lows = heads - np.array([0.0, 0.0, cut])
        tops = heads + np.array([0.0, 0.0, 0.15])
        return np.concatenate([tops, lows])
    return np.concatenate([s.points for s in subjects.values()])


def solve_wide(subjects: dict[str, _Subject], rule: LineRule | None, size: str, aspect: float,
               room: _Room, height: float, preferred: np.ndarray | None = None) -> CameraPose:
    """Fit the subjects from the camera's side of the line, slightly from above, unoccluded."""
    points = _fit_points(subjects, size)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2.0
    centre[2] = max(centre[2], 0.9)
    focal = SIZE_LENS.get(size, 28.0)
    if preferred is None:
        preferred = rule.normal() if rule is not None else _front(subjects)
    swing = 25.0 if size in ("LS", "ELS") else 10.0
    heads = [s.head for s in subjects.values()]
    longest = 1.0
    candidates = []
    for turn in TURNS:
        direction = _rotate(preferred, swing + turn)
        yaw = math.atan2(-direction[1], -direction[0])
        distance = _fit_distance(points, centre, yaw, focal, aspect)
        longest = max(longest, distance)
        candidate = _place(room, centre, direction, distance, height, focal, heads, set(subjects), turn)
        if rule is not None and not rule.allows(candidate.position):
            candidate.penalty += CROSSING
        candidates.append(candidate)
    if rule is not None and min(c.penalty for c in candidates) >= CROSSING:
        candidates += _neutral_candidates(rule, room, centre, longest, height, focal, heads, set(subjects))
    best = _best(candidates)
    focal = _lens_for_points(points, best.position, centre, aspect, best.focal)
    return aim_at(best.position, centre, (0.0, 0.0), focal, aspect)


def _lens_for_points(points: np.ndarray, position: np.ndarray, centre: np.ndarray, aspect: float,
                     focal: float) -> float:
    """The longest lens up to ``focal`` (widening if needed) that keeps every point in frame."""
    for candidate in np.arange(focal, 11.0, -1.0):
        pose = aim_at(position, centre, (0.0, 0.0), float(candidate), aspect)
        ndc = project(pose, points, aspect)
        if np.all(np.abs(ndc[:, :2]) <= 0.92) and np.all(ndc[:, 2] > 0.2):
            return float(candidate)
    return 12.0


FSTOP = {"ECU": 2.0, "CU": 2.0, "MCU": 2.8, "MS": 4.0, "MLS": 5.6, "FS": 8.0, "LS": 11.0, "ELS": 16.0}
DUTCH_DEGREES = 12.0


def apply_angle(pose: CameraPose, *, angle: str, target: np.ndarray, aspect: float,
                ceiling: float | None) -> CameraPose:
    """Raise, lower or roll a solved camera, keeping ``target`` where it was on screen."""
    if angle == "eye":
        return pose
    x, y, _ = project(pose, target[None], aspect)[0]
    screen = (float(np.clip(x, -0.8, 0.8)), float(np.clip(y, -0.8, 0.8)))
    position = np.array(pose.position)
    top = (ceiling - 0.25) if ceiling else None
    if angle == "high":
        position[2] = target[2] + 0.9
    elif angle == "low":
        position[2] = max(0.35, target[2] - 0.9)
    elif angle == "overhead":
        position[:2] = target[:2] + (position[:2] - target[:2]) * 0.35
        position[2] = target[2] + 2.2
    if top is not None:
        position[2] = min(position[2], top)
    if angle == "dutch":
        forward = -np.array(pose.rotation)[:, 2]
        roll = math.radians(DUTCH_DEGREES)
        rotation = _axis_rotation(forward, roll) @ np.array(pose.rotation)
        return CameraPose(pose.position, tuple(map(tuple, rotation)), pose.focal_mm, pose.sensor_mm)
    return aim_at(position, target, screen, pose.focal_mm, aspect)


def _axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def with_focus(pose: CameraPose, *, subject: np.ndarray, size: str) -> CameraPose:
    """Depth of field on the subject: focus at its head, aperture by shot size."""
    distance = float(np.linalg.norm(subject - np.array(pose.position)))
    return CameraPose(pose.position, pose.rotation, pose.focal_mm, pose.sensor_mm,
                      focus_m=round(distance, 3), fstop=FSTOP.get(size, 5.6), track=pose.track)


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


FOLLOWING = ("follow", "pan", "tilt", "truck")


def _framing(plan: Plan, shot: Shot, shot_range: ShotRange, blocking: Blocking, heights: dict[str, float],
             rule: LineRule | None, room_set: tuple[SetSpec, tuple[float, float]]) -> tuple[CameraPose, np.ndarray]:
    """The first-frame pose for the shot's framing, size and line side, and the point it is about."""
    set_spec, offset = room_set
    scene = plan.scene(shot.scene)
    aspect = plan.resolution[0] / plan.resolution[1]
    everyone = _subjects(blocking, heights, shot_range, scene.cast)
    if shot.movement in FOLLOWING:  # a moving camera frames where the subject starts
        opening = ShotRange(shot_range.shot, shot_range.scene, shot_range.start_frame,
                            min(shot_range.end_frame, shot_range.start_frame + 2))
        everyone = _subjects(blocking, heights, opening, scene.cast) or everyone
    framed = {c: everyone[c] for c in shot.subjects if c in everyone} or everyone
    room = _room_for(set_spec, offset, everyone)
    if shot.framing == "pov" and len(framed) == 1:
        return _point_of_view(plan, shot, next(iter(framed.values())), set_spec, offset, aspect)
    if shot.framing in ("single", "pov", "insert") and len(framed) == 1 and shot.size in SIZE_SPAN:
        cid, subject = next(iter(framed.items()))
        beat = scene.beats[shot.first_beat]
        other_id = getattr(beat, "addressee", None) or next((c for c in everyone if c != cid), None)
        other = everyone[other_id].head if other_id in everyone else None
        return solve_single(cid, subject, other, rule, shot.size, aspect, room), subject.head
    targets = framed if shot.framing != "establishing" else everyone
    if not targets:
        targets = {"_": _Subject(np.array([*offset, 1.6]), np.array([*offset, 0.0]), 90.0,
                                 np.array([[*offset, 0.0], [*offset, 1.6]]), np.array(offset))}
    height = 2.1 if shot.framing == "establishing" else 1.55
    size = shot.size if shot.size in SIZE_LENS else "LS"
    if shot.framing in ("two_shot", "over_the_shoulder") and len(targets) == 2:
        toric = solve_two_shot(targets, rule, size, aspect, room)
        if toric is not None:
            return toric, np.mean([t.head for t in targets.values()], axis=0)
    preferred = _front(targets) if shot.framing == "single" else None
    pose = solve_wide(targets, rule, size, aspect, room, height, preferred)
    return pose, np.mean([t.head for t in targets.values()], axis=0)


def _point_of_view(plan: Plan, shot: Shot, subject: _Subject, set_spec: SetSpec, offset: tuple[float, float],
                   aspect: float) -> tuple[CameraPose, np.ndarray]:
    """From the subject's eyes towards what the shot's first action points or looks at."""
    scene = plan.scene(shot.scene)
    target_id = next((getattr(b, "target", None) for b in scene.beats[shot.first_beat:shot.last_beat + 1]
                      if getattr(b, "target", None)), None)
    marks = {m.id: m.position for m in set_spec.marks} | {p.id: p.position[:2] for p in set_spec.props}
    face = math.radians(subject.facing)
    if target_id in marks:
        goal = np.array([*(np.array(marks[target_id]) + np.array(offset)), subject.head[2] - 0.1])
    else:
        goal = subject.head + np.array([math.cos(face), math.sin(face), 0.0]) * 5.0
    direction = goal - subject.head
    direction[2] = 0.0
    direction /= np.linalg.norm(direction) or 1.0
    eye = subject.head + direction * 0.25 + np.array([0.0, 0.0, 0.02])  # just past the head
    ahead = eye + direction * 10.0  # look along the line of sight, level
    return aim_at(eye, ahead, (0.0, 0.0), SIZE_LENS["MLS"], aspect), goal


def _subject_heads(blocking: Blocking, heights: dict[str, float], shot_range: ShotRange,
                   ids: list[str]) -> np.ndarray:
    """(F, 3) mean head of the shot's subjects per frame, holding the last seen place."""
    frames = np.arange(shot_range.start_frame - 1, shot_range.end_frame)
    heads = np.zeros((len(frames), 3))
    for k, frame in enumerate(frames):
        seen = [_head_point(blocking.tracks[c], heights.get(c, 1.7), frame) for c in ids
                if blocking.tracks[c].present[frame]]
        heads[k] = np.mean(seen, axis=0) if seen else (heads[k - 1] if k else np.zeros(3))
    first_seen = next((k for k in range(len(frames)) if heads[k].any()), 0)
    heads[:first_seen] = heads[first_seen]
    return heads


def solve_shot(*, plan: Plan, shot: Shot, shot_range: ShotRange, blocking: Blocking,
               heights: dict[str, float], rule: LineRule | None) -> CameraPose:
    """The camera for one shot: framing, then angle, movement and focus."""
    from .moves import camera_track

    scene = plan.scene(shot.scene)
    set_spec = plan.set(scene.set)
    offset = blocking.set_offsets[scene.set]
    aspect = plan.resolution[0] / plan.resolution[1]
    pose, target = _framing(plan, shot, shot_range, blocking, heights, rule, (set_spec, offset))
    pose = apply_angle(pose, angle=shot.angle, target=target, aspect=aspect,
                       ceiling=set_spec.size[2] if set_spec.interior else None)
    subjects = [c for c in shot.subjects if c in blocking.tracks] or list(scene.cast)
    heads = _subject_heads(blocking, heights, shot_range, subjects)
    room = _room_for(set_spec, offset, {})
    pose = camera_track(base=pose, movement=shot.movement, heads=heads, aspect=aspect, fps=plan.fps,
                        seed=sum(map(ord, shot.id)), bounds=lambda p: _inside(room, p))
    return with_focus(pose, subject=heads[0], size=shot.size)


def _inside(room: _Room, position: np.ndarray) -> np.ndarray:
    """Clamp a moving camera inside an interior's walls (exteriors are open)."""
    if not room.set_spec.interior:
        return position
    half = np.array(room.set_spec.size[:2]) / 2.0 - WALL_MARGIN
    clamped = position.copy()
    clamped[:2] = np.clip(position[:2], room.offset - half, room.offset + half)
    clamped[2] = min(max(clamped[2], 0.3), room.set_spec.size[2] - WALL_MARGIN)
    return clamped


def cut_line(plan: Plan, previous: Shot | None, shot: Shot) -> tuple[str, str] | None:
    """The line a cut into ``shot`` must respect: between the people the two shots are about.

    Shot/reverse-shot of A then B: the A-B line. A single after a wider shot: the line between
    the single's subject and whom they address. Otherwise the scene's main line.
    """
    if previous is not None and previous.scene == shot.scene:
        before = previous.subjects[0] if len(previous.subjects) == 1 else None
        after = shot.subjects[0] if len(shot.subjects) == 1 else None
        if before and after and before != after:
            return before, after
        single = after or before
        beat = plan.scene(shot.scene).beats[shot.first_beat]
        other = getattr(beat, "addressee", None)
        if single and other and other != single:
            return single, other
    return main_line(plan, shot.scene)


def _heads_at(blocking: Blocking, heights: dict[str, float], ids: tuple[str, str], frame: int) -> list | None:
    index = frame - 1
    if not all(blocking.tracks[c].present[index] for c in ids):
        return None
    return [_head_point(blocking.tracks[c], heights.get(c, 1.7), index) for c in ids]


def line_rule_at(*, plan: Plan, blocking: Blocking, heights: dict[str, float], previous: Shot | None,
                 shot: Shot, frame: int, previous_pose: CameraPose | None) -> LineRule | None:
    """The rule for cutting into ``shot`` at ``frame``: the side the previous camera was on."""
    line = cut_line(plan, previous, shot)
    heads = _heads_at(blocking, heights, line, frame) if line else None
    if heads is None or previous_pose is None:
        return None
    rule = LineRule(heads[0], heads[1], 1.0)
    side = rule.side_of(np.array(previous_pose.position))
    return LineRule(heads[0], heads[1], side) if side else None


def _opening_rule(plan: Plan, scene_id: str, blocking: Blocking, heights: dict[str, float],
                  timeline: Timeline) -> LineRule | None:
    """A scene's first shot: the side of its main line with more room for cameras."""
    scene = plan.scene(scene_id)
    first = next(r for r in timeline.shots if r.scene == scene_id)
    line = main_line(plan, scene_id)
    subjects = _subjects(blocking, heights, first, scene.cast)
    if not line or not all(c in subjects for c in line):
        return None
    a, b = subjects[line[0]].settled, subjects[line[1]].settled
    if np.linalg.norm(b - a) < 1e-3:
        return None
    room = _room_for(plan.set(scene.set), blocking.set_offsets[scene.set], subjects)
    centre = (a + b) / 2.0
    reach = {side: room.room_along(centre, LineRule(a, b, side).normal()) for side in (1.0, -1.0)}
    return LineRule(a, b, 1.0 if reach[1.0] >= reach[-1.0] else -1.0)


def solve_cameras(*, plan: Plan, timeline: Timeline, blocking: Blocking,
                  heights: dict[str, float]) -> dict[str, CameraPose]:
    """A camera pose per shot id, solved in cut order so every cut keeps its line."""
    ranges = {r.shot: r for r in timeline.shots}
    cameras: dict[str, CameraPose] = {}
    previous: Shot | None = None
    for shot in plan.shots:
        shot_range = ranges[shot.id]
        if previous is None or previous.scene != shot.scene:
            rule = _opening_rule(plan, shot.scene, blocking, heights, timeline)
            previous = None
        else:
            before = pose_at(cameras[previous.id], ranges[previous.id].frame_count - 1)
            rule = line_rule_at(plan=plan, blocking=blocking, heights=heights, previous=previous, shot=shot,
                                frame=shot_range.start_frame, previous_pose=before)
        cameras[shot.id] = solve_shot(plan=plan, shot=shot, shot_range=shot_range, blocking=blocking,
                                      heights=heights, rule=rule)
        previous = shot
    return cameras
