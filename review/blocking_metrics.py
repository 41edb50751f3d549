"""Blocking metrics over a staged production (pure numpy): the definitions of DESIGN.md.

- interpenetrations: episodes (runs of consecutive frames) in which two present characters'
  centres are closer than two body cores, or a standing character's centre comes within a body
  core of a piece of furniture or a wall (seats are left out while sitting down on them);
- foot skating: horizontal slide of a foot between consecutive frames in which it is planted
  (within ``CONTACT_HEIGHT`` of its lowest height), in cm per frame, over the frames in which
  its character walks; measured on the baked rig, not on the plan: on the balls of the feet
  when they were sampled (they stay on the floor as the heel comes off), else on the ankles;
- arrival error: distance between the end of each walk and its target (the mark, or the spot in
  front of a seat), measured between the baked feet once they have settled: the first time both
  feet stay still for ``SETTLE`` seconds after the beat ends (the last steps square the feet up
  and turn the body to face the mark), before the character walks on; when they never settle
  in that time, the closest they came. At the root when no feet were measured;
- minimum clearance: the smallest distance from a walking character's centre to furniture or a
  wall (a body radius of 25 cm or more keeps the shoulders clear).
"""

from __future__ import annotations

import numpy as np

from ..plan.model import Plan
from ..staging.blocking import Blocking
from ..staging.paths import set_obstacles

BODY_CORE = 0.15
"""Half the depth of a torso, metres: closer than this to furniture is passing through it."""
CONTACT_HEIGHT = 0.03
WALKING_SPEED = 0.1
"""m/s of the root above which a character counts as walking."""
TELEPORT = 0.5
"""A jump of more than this between frames is a cut between sets, not motion."""
HOLLOW_KINDS = {"stairwell"}
"""Props people come out of (through their door): not furniture to pass through."""
SETTLE = 0.25
SETTLE_WINDOW = 3.0
"""Seconds after a walk in which its feet are expected to settle."""
SEAT_KINDS = {"chair", "folding_chair", "stool", "sofa", "armchair", "bench", "office_chair", "parapet", "bed"}


def _runs(mask: np.ndarray) -> int:
    """Number of runs of True in a boolean array."""
    padded = np.concatenate([[False], mask])
    return int(np.count_nonzero(padded[1:] & ~padded[:-1]))


def _set_frames(plan: Plan, blocking: Blocking, timeline) -> np.ndarray:
    """Index of the set on screen at every film frame."""
    index = {s.id: i for i, s in enumerate(plan.sets)}
    sets = np.full(blocking.frame_count, -1)
    for scene in plan.scenes:
        start, end = timeline.scene_spans[scene.id]
        first, last = timeline.frame_of(start) - 1, min(blocking.frame_count, timeline.frame_of(end) - 1)
        sets[first:last] = index[scene.set]
    return sets


def _speeds(position: np.ndarray, fps: int) -> np.ndarray:
    step = np.linalg.norm(np.diff(position, axis=0), axis=1) * fps
    step[step > TELEPORT * fps] = 0.0
    return np.concatenate([step, [0.0]])


def _furniture_hits(plan: Plan, blocking: Blocking, sets: np.ndarray) -> tuple[int, float | None]:
    """(episodes inside furniture or walls, smallest clearance while walking) over every character."""
    episodes, clearance = 0, np.inf
    for si, set_spec in enumerate(plan.sets):
        if not (sets == si).any():
            continue
        obstacles = set_obstacles(set_spec, leave_out={p.id for p in set_spec.props if p.kind in HOLLOW_KINDS})
        labels = obstacles.labels
        seats = {i for i, label in enumerate(labels)
                 if any(p.id == label and p.kind in SEAT_KINDS for p in set_spec.props)}
        offset = np.array(blocking.set_offsets.get(set_spec.id, (0.0, 0.0)))
        for track in blocking.tracks.values():
            on_set = (sets == si) & track.present
            if not on_set.any():
                continue
            distance, nearest = obstacles.clearance(track.position - offset)
            seating = (track.sit > 0.02) & np.isin(nearest, list(seats))
            episodes += _runs(on_set & ~seating & (distance < BODY_CORE))
            walking = on_set & (_speeds(track.position, plan.fps) > WALKING_SPEED) & ~seating
            if walking.any():
                clearance = min(clearance, float(distance[walking].min()))
    return episodes, (None if not np.isfinite(clearance) else clearance)


def _people_hits(blocking: Blocking, sets: np.ndarray) -> int:
    ids = sorted(blocking.tracks)
    episodes = 0
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            ta, tb = blocking.tracks[a], blocking.tracks[b]
            together = ta.present & tb.present & (sets >= 0)
            close = np.linalg.norm(ta.position - tb.position, axis=1) < 2 * BODY_CORE
            episodes += _runs(together & close)
    return episodes


def foot_skate(*, feet: np.ndarray, position: np.ndarray, present: np.ndarray, fps: int) -> float | None:
    """Mean planted-foot slide (cm per frame) over the frames a character walks, or None.

    Args:
        feet: (F, 2, 3) world positions of the left and right ankles from the baked rig, or
            (F, 4, 3) with the balls of the feet after them (those are measured then).
        position: (F, 2) the character's root on the floor, to tell walking from standing.
        present: (F,) whether the character is on the set.
    """
    feet = feet[:, 2:4] if feet.shape[1] == 4 else feet
    height = feet[:, :, 2]
    floor = np.nanmin(np.where(present[:, None], height, np.nan), axis=0)
    planted = (height <= floor + CONTACT_HEIGHT) & present[:, None]
    both = planted[:-1] & planted[1:]
    slide = np.linalg.norm(np.diff(feet[:, :, :2], axis=0), axis=2)
    walking = (_speeds(position, fps)[:-1] > WALKING_SPEED)[:, None]
    pairs = both & walking & (slide < TELEPORT)
    if not pairs.any():
        return None
    return float(slide[pairs].mean() * 100.0)


def _arrival_error(arrival, blocking: Blocking, feet: dict[str, np.ndarray], fps: int) -> float:
    track = blocking.tracks[arrival.character]
    first = min(arrival.frame, blocking.frame_count) - 1
    target = np.array(arrival.target)
    if arrival.character not in feet:
        return float(np.linalg.norm(track.position[first] - target))
    last = min(first + int(round(SETTLE_WINDOW * fps)), blocking.frame_count)
    moving = np.nonzero(_speeds(track.position, fps)[first:last] > WALKING_SPEED)[0]
    if len(moving):  # the next walk starts: the feet had until then
        last = first + max(int(moving[0]), 1)
    points = feet[arrival.character][first:last]
    middle = points[:, :2, :2].mean(axis=1)
    still = np.concatenate([[True], np.linalg.norm(np.diff(points[:, :, :2], axis=0), axis=2).max(axis=1) < 1e-3])
    hold = max(1, int(round(SETTLE * fps)))
    for k in range(len(still) - hold + 1):
        if still[k:k + hold].all():
            return float(np.linalg.norm(middle[k] - target))
    return float(np.linalg.norm(middle - target, axis=1).min())


def blocking_metrics(*, plan: Plan, blocking: Blocking, timeline,
                     feet: dict[str, np.ndarray] | None = None) -> dict:
    """The ``blocking`` section of report.json; figures that were not measured are absent."""
    sets = _set_frames(plan, blocking, timeline)
    furniture, clearance = _furniture_hits(plan, blocking, sets)
    result: dict = {"interpenetrations": furniture + _people_hits(blocking, sets),
                    "interpenetrations_furniture": furniture}
    if clearance is not None:
        result["min_clearance_cm"] = round(clearance * 100.0, 1)
    feet = feet or {}
    skates = [foot_skate(feet=feet[cid], position=t.position, present=t.present, fps=plan.fps)
              for cid, t in blocking.tracks.items() if cid in feet]
    skates = [s for s in skates if s is not None]
    if skates:
        result["foot_skate_cm_per_frame"] = round(float(np.mean(skates)), 3)
    errors = [_arrival_error(arrival, blocking, feet, plan.fps) for arrival in blocking.arrivals
              if arrival.frame <= blocking.frame_count]  # a walk still under way when the film ends
    if errors:
        result["arrival_error_cm_max"] = round(max(errors) * 100.0, 1)
        result["arrival_error_cm_mean"] = round(float(np.mean(errors)) * 100.0, 1)
    return result
