"""What each character does with the body besides walking: gestures, talking, reacting, looking.

From the plan's beats (timed by the timeline) and the blocking, every character gets a list of
pose events from the pose library (action beats, talking during their lines, a gesture that
suits the line's emotion or parenthetical, small nods while listening) and a look-at point per
frame (the speaker looks at the addressee, listeners at the speaker, an action at its target).
Pure numpy: the scene layer bakes these onto the rig.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from ..plan.model import ActionBeat, DialogueBeat, Plan, SetSpec
from .blocking import Blocking
from .poses import PoseLibrary, load_library
from .timeline import Timeline

EYE_SHARE = 0.94     # eyes sit at about 94 % of the standing height
SEATED_DROP = 0.45   # a seated head is this many metres lower than standing


@dataclass(frozen=True)
class PoseEvent:
    """One pose over a frame range (0-based track indices, ``end`` exclusive)."""

    start: int
    end: int
    pose: str
    intensity: float = 1.0
    target: tuple[float, float, float] | None = None  # a world point (pointing, offering)


@dataclass
class Performance:
    events: list[PoseEvent] = field(default_factory=list)
    look: np.ndarray | None = None  # (F, 3) world point looked at per frame; NaN: look ahead


def perform_plan(*, plan: Plan, timeline: Timeline, blocking: Blocking,
                 heights: dict[str, float] | None = None,
                 library: PoseLibrary | None = None) -> dict[str, Performance]:
    """Pose events and look-at points for every character of the plan.

    Args:
        plan: the production plan.
        timeline: beat times.
        blocking: per-frame tracks (targets that move are followed frame by frame).
        heights: standing height per character id (default 1.7 m).
        library: the pose library (default: the bundled one).
    """
    library = library or load_library()
    heights = heights or {}
    frames = blocking.frame_count
    out = {c.id: Performance(look=np.full((frames, 3), np.nan)) for c in plan.characters}
    for scene in plan.scenes:
        set_spec = plan.set(scene.set)
        offset = blocking.set_offsets.get(scene.set, (0.0, 0.0))
        for index, beat in enumerate(scene.beats):
            timing = timeline.beats[(scene.id, index)]
            start = max(0, timeline.frame_of(timing.start) - 1)
            end = min(frames, timeline.frame_of(timing.end) - 1)
            if end <= start:
                continue
            context = _Context(blocking=blocking, heights=heights, set_spec=set_spec, offset=offset)
            if isinstance(beat, DialogueBeat):
                _dialogue(out, beat, scene.cast, start, end, context, library)
            elif isinstance(beat, ActionBeat):
                _action(out, beat, start, end, context, library)
    return out


@dataclass
class _Context:
    blocking: Blocking
    heights: dict[str, float]
    set_spec: SetSpec
    offset: tuple[float, float]

    def eyes(self, cid: str, frames: slice) -> np.ndarray:
        """(n, 3) where a character's eyes are over ``frames``."""
        track = self.blocking.tracks[cid]
        height = self.heights.get(cid, 1.7) * EYE_SHARE - SEATED_DROP * track.sit[frames]
        return np.concatenate([track.position[frames], height[:, None]], axis=1)

    def point(self, target: str | None, frame: int) -> tuple[float, float, float] | None:
        """A target id (character, mark or prop) as a world point at ``frame``."""
        if target is None:
            return None
        if target in self.blocking.tracks:
            return tuple(float(v) for v in self.eyes(target, slice(frame, frame + 1))[0] - [0, 0, 0.35])
        for prop in self.set_spec.props:
            if target in (prop.id, *prop.aliases):
                x, y, z = prop.position
                return (x + self.offset[0], y + self.offset[1], max(z, 0.0) + 0.5 * prop.size[2])
        for mark in self.set_spec.marks:
            if target in (mark.id, *mark.aliases):
                x, y = mark.position
                return (x + self.offset[0], y + self.offset[1], 1.0)
        return None


def _dialogue(out: dict[str, Performance], beat: DialogueBeat, cast: list[str], start: int, end: int,
              context: _Context, library: PoseLibrary) -> None:
    speaker = beat.character
    listeners = [c for c in cast if c != speaker and c in out]
    if speaker in out:
        out[speaker].events.append(PoseEvent(start, end, "talk", _intensity(beat)))
        gesture = talk_gesture(beat=beat, library=library)
        if gesture and end - start > 12:
            lead = (end - start) // 6
            out[speaker].events.append(PoseEvent(start + lead, end - lead, gesture, 0.8))
        looked_at = [beat.addressee] if beat.addressee in out else listeners
        if looked_at:
            frames = slice(start, end)
            out[speaker].look[frames] = np.mean([context.eyes(c, frames) for c in looked_at], axis=0)
    for listener in listeners:
        frames = slice(start, end)
        out[listener].look[frames] = context.eyes(speaker, frames) if speaker in out else np.nan
        if end - start > 30 and _seed(beat.text, listener) % 3 != 0:  # most listeners nod once
            mid = start + (end - start) * (5 + _seed(listener, beat.text) % 3) // 10
            out[listener].events.append(PoseEvent(mid, min(end, mid + 14), "listen_nod", 0.7))


def _action(out: dict[str, Performance], beat: ActionBeat, start: int, end: int, context: _Context,
            library: PoseLibrary) -> None:
    cid = beat.character
    if cid not in out:
        return
    target = context.point(beat.target, start)
    if target is not None and beat.action not in ("enter", "exit", "sit", "stand_up"):
        out[cid].look[start:end] = target
    pose = library.for_action(beat.action)
    if pose is None and beat.text:
        pose = _keyword_pose(beat.text, library, kinds=("gesture",))
    if pose is not None:
        out[cid].events.append(PoseEvent(start, end, pose, 1.0, target))


def talk_gesture(*, beat: DialogueBeat, library: PoseLibrary) -> str | None:
    """A gesture for a line: named by its parenthetical or emotion, else one of the talk poses."""
    cues = " ".join(filter(None, (beat.parenthetical, beat.emotion))).lower()
    named = _keyword_pose(cues, library, kinds=("gesture",)) if cues else None
    if named:
        return named
    talk = _keyword_pose(cues + (" ?" if beat.text.rstrip().endswith("?") else ""), library,
                         kinds=("talk",))
    if talk:
        return talk
    choices = sorted(name for name, pose in library.poses.items() if pose.kind == "talk" and pose.arms)
    return choices[_seed(beat.text) % len(choices)] if choices else None


def _keyword_pose(text: str, library: PoseLibrary, *, kinds: tuple[str, ...]) -> str | None:
    text = text.lower()
    for name, pose in library.poses.items():
        if pose.kind in kinds and any(word.lower() in text for word in pose.keywords):
            return name
    return None


def _intensity(beat: DialogueBeat) -> float:
    loud = beat.text.count("!") + sum(word in (beat.emotion or "") for word in ("angry", "furious", "excited"))
    return float(min(1.0, 0.7 + 0.15 * loud))


def _seed(*parts: str) -> int:
    """A stable small number from text (the same script always performs the same way)."""
    return zlib.crc32("|".join(parts).encode("utf-8"))
