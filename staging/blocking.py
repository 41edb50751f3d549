"""Blocking as numbers: every character's position, facing, posture and presence per frame.

Keys are set at beat boundaries and interpolated linearly between them (facing along the
shortest turn). Movement between marks is a straight line for now; planned paths replace
it later without changing this module's output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..plan.model import ActionBeat, DialogueBeat, MoveBeat, Plan, Scene, SetSpec
from .timeline import Timeline

TURN_SECONDS = 0.5
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


@dataclass
class Blocking:
    frame_count: int
    tracks: dict[str, Track] = field(default_factory=dict)
    set_offsets: dict[str, tuple[float, float]] = field(default_factory=dict)


def set_offsets(plan: Plan) -> dict[str, tuple[float, float]]:
    return {s.id: (i * SET_SPACING, 0.0) for i, s in enumerate(plan.sets)}


def _angle_to(src: tuple[float, float], dst: tuple[float, float], default: float) -> float:
    dx, dy = dst[0] - src[0], dst[1] - src[1]
    if math.hypot(dx, dy) < 1e-6:
        return default
    return math.degrees(math.atan2(dy, dx))


class _SceneKeys:
    """Collects keys for every cast member of one scene."""

    def __init__(self, scene: Scene, set_spec: SetSpec, offset: tuple[float, float], t0: float):
        self.scene, self.set_spec, self.offset = scene, set_spec, offset
        self.keys: dict[str, list[_Key]] = {c: [] for c in scene.cast}
        self.seat: dict[str, float] = {}
        for place in scene.start:
            mark = set_spec.mark(place.mark)
            pos = self._world(mark.position)
            self.seat[place.character] = mark.seat_height or 0.45
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
        mark = keys.set_spec.mark(beat.to_mark)
        dest = keys._world(mark.position)
        here = keys.last(beat.character)
        heading = _angle_to((here.x, here.y), dest, here.facing)
        keys.key(beat.character, start)
        keys.key(beat.character, min(start + TURN_SECONDS, end), facing=heading)
        keys.key(beat.character, end, x=dest[0], y=dest[1], facing=heading)
        keys.seat[beat.character] = mark.seat_height or 0.45
    elif isinstance(beat, ActionBeat):
        _apply_action(keys, beat, start, end)


def _apply_action(keys: _SceneKeys, beat: ActionBeat, start: float, end: float) -> None:
    cid = beat.character
    if beat.action == "enter":
        door = keys.set_spec.mark(beat.target) if beat.target else keys.set_spec.marks[0]
        inside = keys._world(door.position)
        back = math.radians(door.facing + 180.0)
        outside = (inside[0] + 1.2 * math.cos(back), inside[1] + 1.2 * math.sin(back))
        keys.key(cid, start - 1e-3, present=False)
        keys.key(cid, start, x=outside[0], y=outside[1], facing=door.facing, present=True)
        keys.key(cid, end, x=inside[0], y=inside[1])
    elif beat.action == "exit":
        keys.key(cid, end)
        keys.key(cid, end + 1e-3, present=False)
    elif beat.action == "sit":
        mark = keys.set_spec.mark(beat.target) if beat.target else None
        facing = mark.facing if mark else keys.last(cid).facing
        keys.key(cid, start)
        keys.key(cid, min(start + TURN_SECONDS, end), facing=facing)
        keys.key(cid, end, sit=1.0)
    elif beat.action == "stand_up":
        keys.key(cid, start)
        keys.key(cid, end, sit=0.0)
    elif beat.action in ("turn", "look", "point", "give", "take"):
        keys.face(cid, start, beat.target)


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
    for scene in plan.scenes:
        span = timeline.scene_spans[scene.id]
        keys = _SceneKeys(scene, plan.set(scene.set), offsets[scene.set], span[0])
        for index, beat in enumerate(scene.beats):
            bt = timeline.beats[(scene.id, index)]
            _apply_beat(keys, beat, bt.start, bt.end)
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
