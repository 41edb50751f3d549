"""Continuity and framing checks over a staged production (pure numpy, no bpy).

The definitions are the ones in DESIGN.md, used by `filmcrew check`, the tests and the
benchmarks alike:
- a 180-degree line violation: across a cut inside a scene, the two cameras sit on opposite
  sides of the line between the scene's two main characters (both present at the cut);
- a jump cut: consecutive shots of the same subjects whose viewing directions differ by less
  than 30 degrees and whose sizes differ by less than two steps;
- a screen-direction flip: a character seen in both shots of a cut moves or looks left in one
  and right in the other (a cut to or from a neutral camera, on the line, resets direction, and
  so does a movement or look straight towards or away from the lens);
- speaker visibility: the share of a speaker's line frames with their head in frame and not
  hidden by a prop or another person;
- head framing error: the distance of a subject's head from its target screen point (the
  nearest third for singles and two-shots), as a fraction of frame height.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..plan.model import SIZES, DialogueBeat, Plan
from ..staging.blocking import Blocking
from ..staging.cameras import CameraPose, LineRule, _room_for, cut_line, head_height, pose_at, project
from ..staging.timeline import ShotRange, Timeline

JUMP_ANGLE = 30.0
NEUTRAL_COSINE = math.cos(math.radians(30.0))
"""Movement or gaze within 30 degrees of the lens axis has no screen direction (head-on, tail-away)."""


@dataclass
class Finding:
    kind: str
    shots: tuple[str, ...]
    detail: str


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    speaker_frames: int = 0
    speaker_visible: int = 0
    head_errors: list[float] = field(default_factory=list)
    cameras_inside: int = 0
    blocking: dict = field(default_factory=dict)  # review.blocking_metrics, filled by check_folder

    def count(self, kind: str) -> int:
        return sum(f.kind == kind for f in self.findings)

    def as_json(self) -> dict:
        result = {"continuity": {"line_violations": self.count("line"), "jump_cuts": self.count("jump"),
                                 "direction_flips": self.count("flip")},
                  "framing": {}, "cameras": {"inside_geometry": self.cameras_inside}}
        if self.speaker_frames:
            result["framing"]["speaker_visibility"] = round(self.speaker_visible / self.speaker_frames, 4)
        if self.head_errors:
            result["framing"]["head_error_mean"] = round(float(np.mean(self.head_errors)), 4)
        return result

    @property
    def violations(self) -> int:
        return len(self.findings) + int(self.blocking.get("interpenetrations", 0))


class _Stage:
    """Per-frame positions of heads, for any character and frame."""

    def __init__(self, plan: Plan, blocking: Blocking, heights: dict[str, float]):
        self.plan, self.blocking, self.heights = plan, blocking, heights

    def head(self, cid: str, frame: int) -> np.ndarray:
        track = self.blocking.tracks[cid]
        i = frame - 1
        z = head_height(self.heights.get(cid, 1.7), track.sit[i], track.seat_height[i])
        return np.array([*track.position[i], z])

    def present(self, cid: str, frame: int) -> bool:
        return bool(self.blocking.tracks[cid].present[frame - 1])

    def velocity(self, cid: str, frame: int) -> np.ndarray:
        track = self.blocking.tracks[cid]
        i = min(max(frame - 1, 1), len(track.position) - 1)
        return (track.position[i] - track.position[i - 1]) * self.plan.fps

    def gaze(self, cid: str, frame: int) -> np.ndarray:
        track = self.blocking.tracks[cid]
        angle = math.radians((track.gaze if track.gaze is not None else track.facing)[frame - 1])
        return np.array([math.cos(angle), math.sin(angle), 0.0])


def _check_cut(report: Report, stage: _Stage, plan: Plan, cameras, before: ShotRange, after: ShotRange,
               aspect: float) -> None:
    cut = after.start_frame
    pose_a = pose_at(cameras[before.shot], before.frame_count - 1)
    pose_b = pose_at(cameras[after.shot], 0)
    shot_a, shot_b = plan_shot(plan, before.shot), plan_shot(plan, after.shot)
    line = cut_line(plan, shot_a, shot_b)
    neutral = False
    if line and all(stage.present(c, cut) for c in line):
        rule = LineRule(stage.head(line[0], cut), stage.head(line[1], cut), 1.0)
        side_a, side_b = rule.side_of(np.array(pose_a.position)), rule.side_of(np.array(pose_b.position))
        neutral = not (side_a and side_b)  # a camera on the line resets screen direction
        if side_a and side_b and side_a != side_b:
            report.findings.append(Finding("line", (before.shot, after.shot),
                                           f"cameras on opposite sides of the {line[0]}-{line[1]} line"))
    if shot_a.subjects and sorted(shot_a.subjects) == sorted(shot_b.subjects):
        target = stage.head(shot_b.subjects[0], cut)
        dir_a = target - np.array(pose_a.position)
        dir_b = target - np.array(pose_b.position)
        cosine = float(dir_a[:2] @ dir_b[:2] / (np.linalg.norm(dir_a[:2]) * np.linalg.norm(dir_b[:2]) or 1.0))
        angle = math.degrees(math.acos(max(-1.0, min(1.0, cosine))))
        steps = abs(SIZES.index(shot_a.size) - SIZES.index(shot_b.size))
        if angle < JUMP_ANGLE and steps < 2:
            report.findings.append(Finding("jump", (before.shot, after.shot),
                                           f"same subjects, {angle:.0f} degrees and {steps} size step(s) apart"))
    for cid in plan.scene(after.scene).cast:
        if neutral or not (stage.present(cid, cut - 1) and stage.present(cid, cut)):
            continue
        _check_flip(report, stage, cid, cut, pose_a, pose_b, aspect, (before.shot, after.shot))


def _screen_x(pose: CameraPose, point: np.ndarray, vector: np.ndarray, aspect: float) -> float:
    ends = project(pose, np.stack([point, point + vector]), aspect)
    if np.any(ends[:, 2] <= 0.1) or np.any(np.abs(ends[:, :2]) > 1.0):
        return 0.0  # not seen in this shot: no screen direction
    view = point - np.array(pose.position)
    along = abs(float(vector @ view)) / (np.linalg.norm(vector) * np.linalg.norm(view) or 1.0)
    if along > NEUTRAL_COSINE:
        return 0.0  # towards or away from the lens: a neutral direction, which may cut either way
    return float(ends[1, 0] - ends[0, 0])


def _check_flip(report: Report, stage: _Stage, cid: str, cut: int, pose_a: CameraPose, pose_b: CameraPose,
                aspect: float, shots: tuple[str, str]) -> None:
    head = stage.head(cid, cut)
    moving = stage.velocity(cid, cut)
    if np.linalg.norm(moving) > 0.3:
        vector, what = np.array([*moving, 0.0]) / np.linalg.norm(moving) * 0.5, "moves"
    else:
        vector, what = stage.gaze(cid, cut) * 0.5, "looks"
    xa, xb = _screen_x(pose_a, head, vector, aspect), _screen_x(pose_b, head, vector, aspect)
    if abs(xa) > 0.05 and abs(xb) > 0.05 and xa * xb < 0:
        report.findings.append(Finding("flip", shots, f"{cid} {what} {'right' if xa > 0 else 'left'} then "
                                                      f"{'right' if xb > 0 else 'left'}"))


def plan_shot(plan: Plan, shot_id: str):
    return next(s for s in plan.shots if s.id == shot_id)


def _speaker_visibility(report: Report, stage: _Stage, plan: Plan, timeline: Timeline, cameras,
                        aspect: float) -> None:
    shot_of = {}
    for shot_range in timeline.shots:
        for frame in range(shot_range.start_frame, shot_range.end_frame + 1):
            shot_of[frame] = shot_range
    for scene in plan.scenes:
        empty_room = _room_for(plan.set(scene.set), stage.blocking.set_offsets[scene.set], {})
        for index, beat in enumerate(scene.beats):
            if not isinstance(beat, DialogueBeat):
                continue
            times = timeline.beats[(scene.id, index)]
            first, last = timeline.frame_of(times.start), min(timeline.frame_of(times.end) - 1, timeline.frame_count)
            for frame in range(first, last + 1):
                shot_range = shot_of[frame]
                pose = pose_at(cameras[shot_range.shot], frame - shot_range.start_frame)
                room = empty_room.with_people([(c, stage.head(c, frame)[:2], float(stage.head(c, frame)[2]))
                                               for c in scene.cast if stage.present(c, frame)])
                head = stage.head(beat.character, frame)
                x, y, depth = project(pose, head[None], aspect)[0]
                seen = depth > 0.1 and abs(x) <= 1.0 and abs(y) <= 1.0 and \
                    not room.blocked(np.array(pose.position), head, ignore={beat.character})
                report.speaker_frames += 1
                report.speaker_visible += int(seen)


def _head_errors(report: Report, stage: _Stage, plan: Plan, timeline: Timeline, cameras, aspect: float) -> None:
    for shot_range in timeline.shots:
        shot = plan_shot(plan, shot_range.shot)
        if shot.framing not in ("single", "two_shot", "over_the_shoulder") or shot.size in ("FS", "LS", "ELS"):
            continue
        middle = (shot_range.start_frame + shot_range.end_frame) // 2
        pose = pose_at(cameras[shot_range.shot], middle - shot_range.start_frame)
        for cid in shot.subjects[:2]:
            if not stage.present(cid, middle):
                continue
            x, y, _ = project(pose, stage.head(cid, middle)[None], aspect)[0]
            tx = -1.0 / 3.0 if x < 0 else 1.0 / 3.0
            dx = (x - tx) * aspect / 2.0  # NDC x to a fraction of frame height
            dy = (y - 1.0 / 3.0) / 2.0
            report.head_errors.append(math.hypot(dx, dy))


def _cameras_inside(report: Report, plan: Plan, timeline: Timeline, blocking: Blocking, cameras) -> None:
    """Shots whose camera is, at any frame, outside an interior's walls or inside a prop."""
    for shot_range in timeline.shots:
        scene = plan.scene(shot_range.scene)
        set_spec = plan.set(scene.set)
        offset = blocking.set_offsets[scene.set]
        room = _room_for(set_spec, offset, {})
        for local in range(shot_range.frame_count):
            position = np.array(pose_at(cameras[shot_range.shot], local).position)
            if room.inside_prop(position) or (set_spec.interior and not _within(set_spec, offset, position)):
                report.cameras_inside += 1
                report.findings.append(Finding("inside", (shot_range.shot,), "camera inside a wall or a prop"))
                break


def _within(set_spec, offset, position) -> bool:
    half = np.array(set_spec.size[:2]) / 2.0
    return bool(np.all(np.abs(position[:2] - np.array(offset)) <= half)) and 0.0 < position[2] < set_spec.size[2]


def check_production(*, plan: Plan, timeline: Timeline, blocking: Blocking, cameras: dict,
                     heights: dict[str, float]) -> Report:
    """Every check of the module docstring over a staged plan."""
    aspect = plan.resolution[0] / plan.resolution[1]
    stage = _Stage(plan, blocking, heights)
    report = Report()
    for before, after in zip(timeline.shots, timeline.shots[1:]):
        if before.scene == after.scene:
            _check_cut(report, stage, plan, cameras, before, after, aspect)
    _speaker_visibility(report, stage, plan, timeline, cameras, aspect)
    _head_errors(report, stage, plan, timeline, cameras, aspect)
    _cameras_inside(report, plan, timeline, blocking, cameras)
    return report
