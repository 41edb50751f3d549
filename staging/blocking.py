"""Blocking as numbers: every character's position, facing, posture and presence per frame.

Keys are set at beat boundaries and interpolated linearly between them (facing along the
shortest turn). Walking (moves, entrances, exits) follows a route planned on the set's floor
around furniture, walls and the people standing there (``staging.paths``), keyed every frame
with an ease-in, ease-out speed profile; walkers face along the route and, on arrival, the way
the mark faces. A seat is approached from the front: the walk ends standing in front of it and
sitting down moves the hips back onto it; standing up steps forward again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..plan.model import ActionBeat, DialogueBeat, Mark, MoveBeat, Plan, Scene, SetSpec
from .paths import BODY_RADIUS, Floor, PathError, Walker, point_at, walk_profile
from .sets import entrance_mark
from .timeline import Timeline

TURN_SECONDS = 0.5
ARRIVE_SECONDS = 0.4
"""Time to turn from the last step to the mark's facing."""
HURRY = 2.0
"""m/s: the quickest a walker catches up after waiting for someone to pass."""
DOOR_OUTSIDE = 1.2
"""How far beyond a door mark an entrance starts and an exit ends (metres)."""
NECK_LIMIT = 80.0  # degrees the head turns from the body
SET_SPACING = 80.0  # metres between sets on the X axis of the one Blender scene


@dataclass
class _Key:
    t: float
    x: float
    y: float
    facing: float
    sit: float
    present: bool
    gaze: float | None = None  # where the head looks (degrees); None: along the body


@dataclass
class Track:
    """Per-frame state of one character over the whole film (index 0 = film frame 1)."""

    position: np.ndarray  # (F, 2) world metres
    facing: np.ndarray    # (F,) degrees
    sit: np.ndarray       # (F,) 0 standing .. 1 seated
    present: np.ndarray   # (F,) bool
    seat_height: np.ndarray  # (F,) seat height of the current mark (metres)
    gaze: np.ndarray | None = None  # (F,) degrees: where the head looks, within neck limits of facing


@dataclass(frozen=True)
class Arrival:
    """Where a walk must end: the mark (or the spot in front of a seat) at the beat's end."""

    character: str
    frame: int                  # film frame the walk ends on
    target: tuple[float, float]  # world metres
    mark: str
    where: str                  # the beat, e.g. "scenes[0].beats[3]"


@dataclass
class Blocking:
    frame_count: int
    tracks: dict[str, Track] = field(default_factory=dict)
    set_offsets: dict[str, tuple[float, float]] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)


def set_offsets(plan: Plan) -> dict[str, tuple[float, float]]:
    return {s.id: (i * SET_SPACING, 0.0) for i, s in enumerate(plan.sets)}


def _angle_to(src: tuple[float, float], dst: tuple[float, float], default: float) -> float:
    dx, dy = dst[0] - src[0], dst[1] - src[1]
    if math.hypot(dx, dy) < 1e-6:
        return default
    return math.degrees(math.atan2(dy, dx))


class _SceneKeys:
    """Collects keys for every cast member of one scene."""

    def __init__(self, scene: Scene, set_spec: SetSpec, offset: tuple[float, float], t0: float,
                 walker: Walker, fps: int):
        self.scene, self.set_spec, self.offset = scene, set_spec, offset
        self.walker, self.fps = walker, fps
        self.keys: dict[str, list[_Key]] = {c: [] for c in scene.cast}
        self.seat: dict[str, float] = {}
        self.seat_mark: dict[str, Mark] = {}
        self.arrivals: list[Arrival] = []
        self.where = ""
        for place in scene.start:
            mark = set_spec.mark(place.mark)
            pos = self._world(mark.position)
            self.seat[place.character] = mark.seat_height or 0.45
            if mark.kind == "sit":
                self.seat_mark[place.character] = mark
            self.keys[place.character].append(
                _Key(t0, pos[0], pos[1], mark.facing, 1.0 if place.posture == "sit" else 0.0,
                     place.present))
        for cid in scene.cast:
            if not self.keys[cid]:
                mark = set_spec.marks[0]
                pos = self._world(mark.position)
                self.keys[cid].append(_Key(t0, pos[0], pos[1], mark.facing, 0.0, True))
        self._face_each_other(t0)

    def _world(self, local: tuple[float, float]) -> tuple[float, float]:
        return local[0] + self.offset[0], local[1] + self.offset[1]

    def _local(self, world: tuple[float, float]) -> tuple[float, float]:
        return world[0] - self.offset[0], world[1] - self.offset[1]

    def position_at(self, cid: str, t: float) -> tuple[float, float]:
        keys = self.keys[cid]
        times = [k.t for k in keys]
        return (float(np.interp(t, times, [k.x for k in keys])), float(np.interp(t, times, [k.y for k in keys])))

    def walk(self, cid: str, start: float, end: float, dest: tuple[float, float], *, name: str,
             facing: float | None = None, beyond: tuple[float, float] | None = None) -> None:
        """Walk ``cid`` along a planned route to ``dest`` (world) between ``start`` and ``end``,
        turning to ``facing`` on arrival; ``beyond``: a last straight leg past ``dest`` (out of a
        door), walked in the same stride."""
        here = self.last(cid)
        standing, movers = [], []
        for other in self.scene.cast:
            if other == cid or not self.last(other).present:
                continue
            for point in {self.position_at(other, start), (self.last(other).x, self.last(other).y)}:
                standing.append((other, self._local(point)))
            if self.last(other).t > start + 1e-6:
                movers.append(other)
        request = dict(start=self._local((here.x, here.y)), goal=self._local(dest), where=self.where,
                       goal_name=name)
        before = list(self.keys[cid])
        first = route = self.walker.route(people=standing, **request)
        near: list = []
        for _ in range(3):  # meet someone walking at the same time: keep off where they are then
            self._walk_route(cid, route, start, end, facing, beyond)
            conflicts = self._conflicts(cid, movers, start, end)
            if not conflicts:
                return
            self.keys[cid] = list(before)
            near += [(other, self._local(self.position_at(other, float(t))))
                     for other, when in conflicts for t in np.arange(when - 1.0, when + 1.0, 0.2)]
            try:
                route = self.walker.route(people=standing + near, **request)
            except PathError:
                break
        for wait in (0.25, 0.5, 0.75, 1.0, 1.5):  # no way round: let them pass, then walk quicker
            if first.length / max(end - start - wait - TURN_SECONDS - ARRIVE_SECONDS - 0.5, 1e-3) > HURRY:
                break
            self._walk_route(cid, first, start + wait, end, facing, beyond)
            if not self._conflicts(cid, movers, start, end):
                return
            self.keys[cid] = list(before)
        self._walk_route(cid, first, start, end, facing, beyond)  # nothing helps: pass close

    def _walk_route(self, cid: str, route, start: float, end: float, facing: float | None,
                    beyond: tuple[float, float] | None) -> None:
        points = route.points + np.array(self.offset)
        if beyond is not None:
            points = np.vstack([points, np.array(beyond)[None]])
        _walk_keys(self, cid, points, start, end, facing)

    def _conflicts(self, cid: str, movers: list[str], start: float, end: float) -> list[tuple[str, float]]:
        """(who, when) for each walker ``cid`` comes within two body radii of during the walk."""
        found = []
        for other in movers:
            for t in np.arange(start, end, 1.0 / self.fps):
                gap = math.dist(self.position_at(cid, float(t)), self.position_at(other, float(t)))
                if gap < 2 * BODY_RADIUS:
                    found.append((other, float(t)))
                    break
        return found

    def arrive(self, cid: str, end: float, target: tuple[float, float], mark: str) -> None:
        frame = int(round(end * self.fps)) + 1
        self.arrivals.append(Arrival(cid, frame, (float(target[0]), float(target[1])), mark, self.where))

    def last(self, cid: str) -> _Key:
        return self.keys[cid][-1]

    def key(self, cid: str, t: float, **changes) -> None:
        base = self.last(cid)
        values = {"x": base.x, "y": base.y, "facing": base.facing, "sit": base.sit, "present": base.present,
                  "gaze": base.gaze}
        if "facing" in changes and "gaze" not in changes:
            values["gaze"] = None  # turning the body brings the head along
        values.update(changes)
        if base.t >= t - 1e-6:
            self.keys[cid][-1] = _Key(base.t, **values)
        else:
            self.keys[cid].append(_Key(t, **values))

    def ease(self, cid: str, start: float, end: float, steps: int = 8, **targets) -> None:
        """Key ``targets`` (x, y, sit) at ``end``, easing in and out from the values at ``start``:
        sitting down and getting up start and stop gently, with no jolt at either end."""
        base = self.last(cid)
        self.key(cid, start)
        origin = {name: getattr(base, name) for name in targets}
        for k in range(1, steps + 1):
            u = k / steps
            w = u * u * (3.0 - 2.0 * u)
            self.key(cid, start + u * (end - start),
                     **{name: origin[name] + (value - origin[name]) * w for name, value in targets.items()})

    def _face_each_other(self, t: float) -> None:
        present = [c for c in self.scene.cast if self.last(c).present]
        for cid in present:
            key = self.last(cid)
            if key.sit > 0.5:
                continue
            others = [self.last(o) for o in present if o != cid]
            if others:
                centre = (sum(o.x for o in others) / len(others), sum(o.y for o in others) / len(others))
                self.key(cid, t, facing=_angle_to((key.x, key.y), centre, key.facing))

    def face(self, cid: str, t: float, target: str | None) -> None:
        """Turn a standing character towards a character or a mark."""
        point = self.target_point(target)
        key = self.last(cid)
        if point is None or not key.present:
            return
        angle = _angle_to((key.x, key.y), point, key.facing)
        self.key(cid, t)
        if key.sit > 0.5:  # seated: only the head turns, within the neck's reach
            offset = (angle - key.facing + 180.0) % 360.0 - 180.0
            self.key(cid, t + TURN_SECONDS, gaze=key.facing + max(-NECK_LIMIT, min(NECK_LIMIT, offset)))
        else:
            self.key(cid, t + TURN_SECONDS, facing=angle)

    def target_point(self, target: str | None) -> tuple[float, float] | None:
        if target is None:
            return None
        if target in self.keys:
            other = self.last(target)
            return (other.x, other.y)
        for mark in self.set_spec.marks:
            if mark.id == target:
                return self._world(mark.position)
        for prop in self.set_spec.props:
            if prop.id == target:
                return self._world(prop.position[:2])
        return None


def _apply_beat(keys: _SceneKeys, beat, start: float, end: float) -> None:
    scene = keys.scene
    if isinstance(beat, DialogueBeat):
        speaker = beat.character
        keys.face(speaker, start, beat.addressee)
        for cid in scene.cast:
            if cid != speaker and keys.last(cid).present:
                keys.face(cid, start, speaker)
    elif isinstance(beat, MoveBeat):
        cid = beat.character
        mark = keys.set_spec.mark(beat.to_mark)
        approach = keys.walker.standing_spot(mark)
        dest = keys._world(approach if approach is not None else mark.position)
        start = _stand_if_seated(keys, cid, start, end)
        keys.walk(cid, start, end, dest, name=mark.id, facing=mark.facing)
        keys.arrive(cid, end, dest, mark.id)
        keys.seat[cid] = mark.seat_height or 0.45
        if mark.kind == "sit":
            keys.seat_mark[cid] = mark
        else:
            keys.seat_mark.pop(cid, None)
    elif isinstance(beat, ActionBeat):
        _apply_action(keys, beat, start, end)


def _apply_action(keys: _SceneKeys, beat: ActionBeat, start: float, end: float) -> None:
    cid = beat.character
    if beat.action == "enter":
        door = _door(keys, beat.target)
        inside, outside = _door_points(keys, door)
        keys.key(cid, start - 1e-3, present=False)
        keys.key(cid, start, x=outside[0], y=outside[1], facing=door.facing, present=True, sit=0.0)
        keys.walk(cid, start, end, inside, name=door.id)
        keys.arrive(cid, end, inside, door.id)
        keys.seat_mark.pop(cid, None)
    elif beat.action == "exit":
        door = _door(keys, beat.target)
        inside, outside = _door_points(keys, door)
        start = _stand_if_seated(keys, cid, start, end)
        keys.walk(cid, start, end, inside, name=door.id, beyond=outside)
        keys.key(cid, end + 1e-3, present=False)
        keys.seat_mark.pop(cid, None)
    elif beat.action == "sit":
        mark = keys.set_spec.mark(beat.target) if beat.target else keys.seat_mark.get(cid)
        facing = mark.facing if mark else keys.last(cid).facing
        keys.key(cid, start)
        keys.key(cid, min(start + TURN_SECONDS, end), facing=facing)
        seat = keys._world(mark.position) if mark is not None and mark.kind == "sit" else None
        lowering = min(start + TURN_SECONDS, end)
        if seat is not None:
            keys.ease(cid, lowering, end, sit=1.0, x=seat[0], y=seat[1])
            keys.seat_mark[cid] = mark
        else:
            keys.ease(cid, lowering, end, sit=1.0)
    elif beat.action == "stand_up":
        _stand_up(keys, cid, start, end)
    elif beat.action in ("turn", "look", "point", "give", "take"):
        keys.face(cid, start, beat.target)


def _walk_order(keys: _SceneKeys, scene: Scene, timeline: Timeline):
    """Beat indices in order, except that moves starting together are planned slowest first:
    a quicker walker then sees who is ahead and goes round them (who overtakes steps aside)."""
    index = 0
    while index < len(scene.beats):
        start = timeline.beats[(scene.id, index)].start
        group = [index]
        while group[-1] + 1 < len(scene.beats) and \
                abs(timeline.beats[(scene.id, group[-1] + 1)].start - start) < 1e-9:
            group.append(group[-1] + 1)
        moves = [i for i in group if isinstance(scene.beats[i], MoveBeat)]
        walkers = [scene.beats[i].character for i in moves]
        if len(set(walkers)) == len(moves) > 1:
            def pace(i: int) -> float:
                beat = scene.beats[i]
                here = keys.last(beat.character)
                goal = keys._world(keys.set_spec.mark(beat.to_mark).position)
                return math.dist((here.x, here.y), goal) / beat.duration
            slots = iter(sorted(moves, key=pace))
            group = [next(slots) if i in moves else i for i in group]
        yield from group
        index = max(group) + 1


def _door(keys: _SceneKeys, target: str | None) -> Mark:
    if target:
        try:
            return keys.set_spec.mark(target)
        except KeyError:
            pass
    return entrance_mark(keys.set_spec)


def _door_points(keys: _SceneKeys, door: Mark) -> tuple[tuple[float, float], tuple[float, float]]:
    """The door mark (inside) and the spot beyond it where entrances start and exits end (world)."""
    inside = keys._world(door.position)
    back = math.radians(door.facing + 180.0)
    return inside, (inside[0] + DOOR_OUTSIDE * math.cos(back), inside[1] + DOOR_OUTSIDE * math.sin(back))


def _stand_up(keys: _SceneKeys, cid: str, start: float, end: float) -> None:
    """Rise from the seat, stepping forward to the spot in front of it."""
    mark = keys.seat_mark.get(cid)
    front = keys.walker.standing_spot(mark) if mark is not None else None
    if front is not None and keys.last(cid).sit > 0.5:
        x, y = keys._world(front)
        keys.ease(cid, start, end, sit=0.0, x=x, y=y)
    else:
        keys.ease(cid, start, end, sit=0.0)


def _stand_if_seated(keys: _SceneKeys, cid: str, start: float, end: float) -> float:
    """A walk that starts seated first stands up; returns when the walking starts."""
    if keys.last(cid).sit <= 0.5:
        return start
    risen = start + min(1.0, 0.3 * (end - start))
    _stand_up(keys, cid, start, risen)
    return risen


def _walk_keys(keys: _SceneKeys, cid: str, points: np.ndarray, start: float, end: float,
               facing: float | None) -> None:
    """Key a walk along ``points`` (world) frame by frame: turn, walk with eased speed, arrive."""
    here = keys.last(cid)
    length = float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum()) if len(points) > 1 else 0.0
    keys.key(cid, start)
    if length < 1e-3:
        if facing is not None:
            keys.key(cid, min(start + TURN_SECONDS, end), facing=facing)
        keys.key(cid, end)
        return
    heading0 = point_at(points, np.array([0.0]))[1][0]
    turn = TURN_SECONDS if abs(_wrap(heading0 - here.facing)) > 30.0 else 0.15
    arrive = 0.0
    if facing is not None:
        heading1 = point_at(points, np.array([length]))[1][0]
        arrive = ARRIVE_SECONDS if abs(_wrap(facing - heading1)) > 20.0 else 0.0
    total = end - start
    walk = total - turn - arrive
    if walk < 0.6 * total:  # a short beat: turn while walking rather than walk too fast
        turn, arrive = turn * 0.4 * total / (turn + arrive), arrive * 0.4 * total / (turn + arrive)
        walk = total - turn - arrive
    t0 = start + turn
    step = 1.0 / keys.fps
    times = np.arange(0.0, walk + 1e-9, step)
    if times[-1] < walk - 1e-9:
        times = np.append(times, walk)
    positions, headings = point_at(points, walk_profile(length=length, duration=walk, times=times))
    headings = _smooth_angles(headings, int(round(0.25 * keys.fps)))
    keys.key(cid, t0, facing=here.facing + _wrap(headings[0] - here.facing))
    previous = keys.last(cid).facing
    for t, (x, y), heading in zip(times[1:], positions[1:], headings[1:]):
        previous += _wrap(heading - previous)
        keys.key(cid, t0 + t, x=float(x), y=float(y), facing=previous)
    if facing is not None:
        keys.key(cid, end, facing=previous + _wrap(facing - previous))
    else:
        keys.key(cid, end)


def _wrap(angle: float) -> float:
    return (angle + 180.0) % 360.0 - 180.0


def _smooth_angles(degrees: np.ndarray, half: int) -> np.ndarray:
    """A moving average of headings (unwrapped), so corners turn over a few frames."""
    if half < 1 or len(degrees) < 3:
        return degrees
    unwrapped = np.degrees(np.unwrap(np.radians(degrees)))
    padded = np.pad(unwrapped, half, mode="edge")
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.convolve(padded, kernel, mode="valid")


def _sample(keys: list[_Key], times: np.ndarray) -> tuple[np.ndarray, ...]:
    t = np.array([k.t for k in keys])
    x = np.array([k.x for k in keys])
    y = np.array([k.y for k in keys])
    facing = np.unwrap(np.radians([k.facing for k in keys]))
    gaze = np.unwrap(np.radians([k.facing if k.gaze is None else k.gaze for k in keys]))
    sit = np.array([k.sit for k in keys])
    present_idx = np.searchsorted(t, times, side="right") - 1
    present = np.array([keys[max(i, 0)].present for i in present_idx])
    return (np.stack([np.interp(times, t, x), np.interp(times, t, y)], axis=1),
            np.degrees(np.interp(times, t, facing)), np.interp(times, t, sit), present,
            np.degrees(np.interp(times, t, gaze)))


def block_plan(*, plan: Plan, timeline: Timeline) -> Blocking:
    """Sample every character's state at every film frame."""
    frames = timeline.frame_count
    times = (np.arange(frames) / plan.fps).astype(np.float64)
    offsets = set_offsets(plan)
    blocking = Blocking(frame_count=frames, set_offsets=offsets)
    per_char: dict[str, list[tuple[int, int, tuple]]] = {c.id: [] for c in plan.characters}
    seats: dict[str, np.ndarray] = {c.id: np.full(frames, 0.45) for c in plan.characters}
    walkers: dict[str, Walker] = {}
    for si, scene in enumerate(plan.scenes):
        span = timeline.scene_spans[scene.id]
        if scene.set not in walkers:
            walkers[scene.set] = Walker(Floor(plan.set(scene.set)))
        keys = _SceneKeys(scene, plan.set(scene.set), offsets[scene.set], span[0], walkers[scene.set], plan.fps)
        for index in _walk_order(keys, scene, timeline):
            bt = timeline.beats[(scene.id, index)]
            keys.where = f"scenes[{si}].beats[{index}] ({scene.id})"
            _apply_beat(keys, scene.beats[index], bt.start, bt.end)
        blocking.arrivals.extend(keys.arrivals)
        first = timeline.frame_of(span[0]) - 1
        last = min(frames, timeline.frame_of(span[1]) - 1)
        window = times[first:last]
        for cid in scene.cast:
            per_char[cid].append((first, last, _sample(keys.keys[cid], window)))
            seats[cid][first:last] = keys.seat.get(cid, 0.45)
    for cid, pieces in per_char.items():
        track = Track(position=np.zeros((frames, 2)), facing=np.zeros(frames), sit=np.zeros(frames),
                      gaze=np.zeros(frames),
                      present=np.zeros(frames, dtype=bool), seat_height=seats[cid])
        for first, last, (pos, facing, sit, present, gaze) in pieces:
            track.gaze[first:last] = gaze
            track.position[first:last] = pos
            track.facing[first:last] = facing
            track.sit[first:last] = sit
            track.present[first:last] = present
        blocking.tracks[cid] = track
    return blocking
