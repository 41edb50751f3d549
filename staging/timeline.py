"""When things happen: beat times in seconds and shot frame ranges on the film's timeline.

Scenes follow each other; inside a scene a beat starts when everything before it has ended,
unless it is ``parallel``, when it starts with the beat before it. Film frames are 1-based
(Blender's default), and shots tile the timeline with no gap, so the cut is as long as the
shots together.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..plan.model import Plan


@dataclass(frozen=True)
class BeatTime:
    scene: str
    index: int
    start: float
    end: float


@dataclass(frozen=True)
class ShotRange:
    shot: str
    scene: str
    start_frame: int  # first film frame, inclusive
    end_frame: int    # last film frame, inclusive

    @property
    def frame_count(self) -> int:
        return self.end_frame - self.start_frame + 1


@dataclass(frozen=True)
class Timeline:
    fps: int
    beats: dict[tuple[str, int], BeatTime]
    scene_spans: dict[str, tuple[float, float]]
    shots: list[ShotRange]

    @property
    def frame_count(self) -> int:
        return self.shots[-1].end_frame if self.shots else 0

    def frame_of(self, seconds: float) -> int:
        return int(round(seconds * self.fps)) + 1

    def seconds_of(self, frame: int) -> float:
        return (frame - 1) / self.fps


def beat_times(plan: Plan) -> tuple[dict[tuple[str, int], BeatTime], dict[str, tuple[float, float]]]:
    beats: dict[tuple[str, int], BeatTime] = {}
    spans: dict[str, tuple[float, float]] = {}
    clock = 0.0
    for scene in plan.scenes:
        scene_start = clock
        end_so_far = clock
        previous_start = clock
        for index, beat in enumerate(scene.beats):
            start = previous_start if beat.parallel else end_so_far
            end = start + beat.duration
            beats[(scene.id, index)] = BeatTime(scene.id, index, start, end)
            previous_start = start
            end_so_far = max(end_so_far, end)
        spans[scene.id] = (scene_start, end_so_far)
        clock = end_so_far
    return beats, spans


def build_timeline(plan: Plan) -> Timeline:
    """Beat times and the frame range of every shot, in plan order."""
    beats, spans = beat_times(plan)
    fps = plan.fps
    starts = []
    for shot in plan.shots:
        seconds = min(beats[(shot.scene, i)].start for i in range(shot.first_beat, shot.last_beat + 1))
        starts.append(int(round(seconds * fps)) + 1)
    total_end = int(round(max(end for _, end in spans.values()) * fps)) if spans else 0
    shots: list[ShotRange] = []
    for index, shot in enumerate(plan.shots):
        start = max(starts[index], shots[-1].end_frame + 1 if shots else 1)
        following = starts[index + 1] if index + 1 < len(starts) else total_end + 1
        end = max(start, following - 1)
        shots.append(ShotRange(shot.id, shot.scene, start, end))
    return Timeline(fps=fps, beats=beats, scene_spans=spans, shots=shots)
