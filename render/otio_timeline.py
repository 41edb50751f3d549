"""timeline.otio: the cut for Resolve, Premiere and Avid users (OpenTimelineIO, no bpy).

One video track with a clip per shot, each an image sequence of the shot's RGB frames
(``shots/<shot>/rgb/NNNN.png``), and audio tracks with a clip per dialogue line
(``audio/<scene>_<beat>.wav``) at its time on the cut; lines that overlap go on a second
track. Media paths are relative to the production folder, which holds the .otio file, so the
folder can move as a whole. Times are in frames at the plan's fps.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import FilmCrewError


@dataclass(frozen=True)
class ShotClip:
    shot: str
    frame_count: int
    folder: str          # e.g. "shots/S01_001/rgb/"
    metadata: dict


@dataclass(frozen=True)
class AudioClip:
    name: str
    start: float         # seconds on the cut
    seconds: float       # the line's length
    path: str            # e.g. "audio/S01_003.wav"
    metadata: dict


def _frames(value: float, fps: int):
    import opentimelineio as otio

    return otio.opentime.RationalTime(value, fps)


def build_timeline(*, title: str, fps: int, shots: list[ShotClip], lines: list[AudioClip]):
    """The OTIO timeline of the cut (an ``opentimelineio.schema.Timeline``)."""
    import opentimelineio as otio

    timeline = otio.schema.Timeline(name=title)
    timeline.global_start_time = _frames(0, fps)
    video = otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video)
    for shot in shots:
        available = otio.opentime.TimeRange(_frames(0, fps), _frames(shot.frame_count, fps))
        media = otio.schema.ImageSequenceReference(
            target_url_base=shot.folder, name_prefix="", name_suffix=".png", start_frame=1, frame_step=1,
            rate=fps, frame_zero_padding=4, available_range=available)
        video.append(otio.schema.Clip(name=shot.shot, media_reference=media, source_range=available,
                                      metadata={"filmcrew": shot.metadata}))
    timeline.tracks.append(video)
    tracks: list[tuple[object, int]] = []  # (track, end frame)
    for line in sorted(lines, key=lambda ln: ln.start):
        start = int(round(line.start * fps))
        length = max(1, int(math.ceil(line.seconds * fps - 1e-6)))
        slot = next((i for i, (_, end) in enumerate(tracks) if end <= start), None)
        if slot is None:
            tracks.append((otio.schema.Track(name=f"Dialogue {len(tracks) + 1}",
                                             kind=otio.schema.TrackKind.Audio), 0))
            slot = len(tracks) - 1
        track, end = tracks[slot]
        if start > end:
            track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                _frames(0, fps), _frames(start - end, fps))))
        available = otio.opentime.TimeRange(_frames(0, fps), _frames(length, fps))
        media = otio.schema.ExternalReference(target_url=line.path, available_range=available)
        track.append(otio.schema.Clip(name=line.name, media_reference=media, source_range=available,
                                      metadata={"filmcrew": line.metadata}))
        tracks[slot] = (track, start + length)
    for track, _ in tracks:
        timeline.tracks.append(track)
    return timeline


def write_timeline(path: Path, timeline) -> None:
    """Write ``timeline`` as .otio JSON through a temporary name."""
    import opentimelineio as otio

    tmp = path.with_name(f".{path.stem}.tmp.otio")
    try:
        otio.adapters.write_to_file(timeline, str(tmp))
    except Exception as exc:  # OTIO raises its own exception types
        tmp.unlink(missing_ok=True)
        raise FilmCrewError(f"cannot write the OTIO timeline: {exc}", path=path) from None
    os.replace(tmp, path)
