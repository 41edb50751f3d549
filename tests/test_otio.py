"""timeline.otio: one clip per shot as an image sequence, dialogue clips on audio tracks."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from filmcrew.render.otio_timeline import AudioClip, ShotClip, build_timeline, write_timeline


def test_the_timeline_has_a_clip_per_shot_and_the_dialogue(tmp_path: Path):
    shots = [ShotClip(shot="S01_001", frame_count=12, folder="shots/S01_001/rgb/", metadata={"size": "LS"}),
             ShotClip(shot="S01_002", frame_count=7, folder="shots/S01_002/rgb/", metadata={"size": "MS"})]
    lines = [AudioClip(name="MAYA: hello", start=0.5, seconds=1.0, path="audio/S01_001.wav", metadata={}),
             AudioClip(name="DANIEL: hi", start=1.0, seconds=0.6, path="audio/S01_002.wav", metadata={}),
             AudioClip(name="MAYA: bye", start=2.5, seconds=0.5, path="audio/S01_003.wav", metadata={})]
    path = tmp_path / "timeline.otio"
    write_timeline(path, build_timeline(title="Test", fps=6, shots=shots, lines=lines))
    timeline = otio.adapters.read_from_file(str(path))
    video = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
    audio = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Audio]
    assert len(video) == 1
    clips = list(video[0].find_clips())
    assert [c.name for c in clips] == ["S01_001", "S01_002"]
    assert [c.source_range.duration.value for c in clips] == [12, 7]
    reference = clips[1].media_reference
    assert isinstance(reference, otio.schema.ImageSequenceReference)
    assert reference.target_url_for_image_number(0) == "shots/S01_002/rgb/0001.png"
    assert video[0].range_of_child_at_index(1).start_time.value == 12
    # the second line starts before the first ends: it goes on a second track
    assert len(audio) == 2
    first = list(audio[0].find_clips())
    assert [c.name for c in first] == ["MAYA: hello", "MAYA: bye"]
    assert first[0].media_reference.target_url == "audio/S01_001.wav"
    assert audio[0].range_of_child(first[1]).start_time.value == 15  # 2.5 s at 6 fps
    assert [c.name for c in audio[1].find_clips()] == ["DANIEL: hi"]
    assert audio[1].range_of_child(audio[1].find_clips()[0]).start_time.value == 6
    assert timeline.duration().value == 19
