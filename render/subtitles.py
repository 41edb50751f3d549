"""subtitles.srt: every dialogue line, timed to the cut."""

from __future__ import annotations

from dataclasses import dataclass

from ..plan.model import DialogueBeat, Plan
from ..staging.timeline import Timeline


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    speaker: str
    text: str


def dialogue_cues(*, plan: Plan, timeline: Timeline) -> list[Cue]:
    """One cue per dialogue beat, at its time on the film's clock."""
    names = {c.id: c.name for c in plan.characters}
    cues = []
    for scene in plan.scenes:
        for index, beat in enumerate(scene.beats):
            if isinstance(beat, DialogueBeat):
                times = timeline.beats[(scene.id, index)]
                cues.append(Cue(times.start, times.end, names.get(beat.character, beat.character),
                                " ".join(beat.text.split())))
    return sorted(cues, key=lambda c: c.start)


def _timestamp(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def srt_text(cues: list[Cue]) -> str:
    blocks = []
    for number, cue in enumerate(cues, start=1):
        blocks.append(f"{number}\n{_timestamp(cue.start)} --> {_timestamp(cue.end)}\n"
                      f"{cue.speaker.upper()}: {cue.text}\n")
    return "\n".join(blocks)
