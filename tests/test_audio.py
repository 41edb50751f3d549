"""Dialogue audio: espeak-ng lines, their measured lengths in the plan, the mixed track."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from filmcrew.audio.mix import mix_lines, read_wav, write_wav
from filmcrew.audio.voices import (PAUSE_AFTER, distinct_voices, line_key, synthesize, wav_seconds)
from filmcrew.plan import load_plan
from filmcrew.plan.model import Voice

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"


def test_a_line_is_synthesised_deterministically_and_measured_from_its_header(tmp_path):
    voice = Voice(variant="f3", pitch=70, words_per_minute=160)
    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    synthesize(text="I came to apologize.", voice=voice, path=first)
    synthesize(text="I came to apologize.", voice=voice, path=second)
    assert first.read_bytes() == second.read_bytes()
    with wave.open(str(first)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        frames, rate = wav.getnframes(), wav.getframerate()
    assert wav_seconds(first) == frames / rate
    assert 0.8 < wav_seconds(first) < 3.0
    slower = tmp_path / "slow.wav"
    synthesize(text="I came to apologize.", voice=voice.model_copy(update={"words_per_minute": 100}), path=slower)
    assert wav_seconds(slower) > wav_seconds(first) * 1.3
    assert line_key("I came  to apologize.", voice) == line_key("I came to apologize.", voice)
    assert line_key("I came to apologize.", voice) != line_key("I came to apologize.", Voice(variant="m3"))


def test_characters_who_would_sound_alike_get_distinct_voices():
    plan = load_plan_text()
    twin = plan.characters[0].model_copy(update={"id": "TWIN", "name": "Twin"})
    plan = plan.model_copy(update={"characters": [*plan.characters, twin]})
    voices = [(c.voice.variant, c.voice.pitch, c.voice.words_per_minute) for c in distinct_voices(plan).characters]
    assert len(set(voices)) == len(voices)


def load_plan_text():
    from filmcrew.agents.offline import direct_screenplay
    from filmcrew.screenplay import load_screenplay

    return direct_screenplay(screenplay=load_screenplay(SAMPLES / "coffee_shop.fountain"), fps=6,
                             resolution=(96, 54))


def test_the_plan_stage_times_dialogue_beats_by_the_spoken_lines(tmp_path):
    from filmcrew.pipeline import plan_production

    out = tmp_path / "out"
    plan_production(screenplay=SAMPLES / "coffee_shop.fountain", out=out, fps=6, resolution=(96, 54))
    plan = load_plan(out / "plan.json")
    lines = json.loads((out / "audio" / "lines.json").read_text())["lines"]
    dialogue = [(s.id, i, b) for s in plan.scenes for i, b in enumerate(s.beats) if b.type == "dialogue"]
    assert len(lines) == len(dialogue) == 8
    for line, (scene, index, beat) in zip(lines, dialogue):
        wav = out / line["file"]
        assert line["file"] == f"audio/{scene}_{index:03d}.wav" and wav.is_file()
        assert abs(beat.duration - round(wav_seconds(wav) + PAUSE_AFTER, 2)) < 1e-9
    voices = {(c.voice.variant, c.voice.pitch) for c in plan.characters}
    assert len(voices) == len(plan.characters)
    cached = sorted((out / "audio" / "cache").glob("*.wav"))
    stamps = [p.stat().st_mtime_ns for p in cached]
    plan_production(screenplay=SAMPLES / "coffee_shop.fountain", out=out, fps=6, resolution=(96, 54), force=True)
    assert [p.stat().st_mtime_ns for p in sorted((out / "audio" / "cache").glob("*.wav"))] == stamps
    assert load_plan(out / "plan.json") == plan


def test_lines_are_mixed_at_their_times(tmp_path):
    rate = 1000
    tone = np.full(100, 0.5, dtype=np.float32)
    write_wav(tmp_path / "a.wav", tone, rate)
    write_wav(tmp_path / "b.wav", tone, rate)
    track = mix_lines(lines=[(0.2, tmp_path / "a.wav"), (0.25, tmp_path / "b.wav")], seconds=1.0, rate=rate)
    assert len(track) == 1000
    assert np.all(track[:200] == 0) and np.all(track[350:] == 0)
    # the overlap would peak at 1.0: the whole track is scaled by 0.99 to fit
    assert np.allclose(track[200:250], 0.495, atol=1e-3)          # one line
    assert np.allclose(track[250:300], 0.99, atol=1e-3)           # two lines together
    assert np.allclose(track[300:350], 0.495, atol=1e-3)
    samples, got_rate = read_wav(tmp_path / "a.wav")
    assert got_rate == rate and np.allclose(samples, 0.5, atol=1e-4)


@pytest.mark.slow
def test_the_animatic_speaks_at_the_lines(tmp_path):
    """A one-line production: the animatic's audio is loud where the line is and silent elsewhere."""
    from filmcrew.pipeline import make_production

    script = tmp_path / "one.fountain"
    script.write_text("INT. CORNER CAFE - DAY\n\nMAYA (30s) waits at the counter.\n\nMAYA\n"
                      "The coffee here is always cold.\n")
    out = tmp_path / "out"
    make_production(screenplay=script, out=out, fps=6, resolution=(64, 36), samples=1, passes="rgb")
    manifest = json.loads((out / "manifest.json").read_text())
    (line,) = manifest["audio"]["lines"]
    decoded = tmp_path / "animatic.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(out / "animatic.mp4"), "-vn", "-ac", "1",
                    "-ar", "8000", str(decoded)], check=True)
    samples, rate = read_wav(decoded)
    start, end = int(line["start"] * rate), int((line["start"] + line["seconds"]) * rate)
    loud = np.sqrt(np.mean(samples[start:end] ** 2))
    before = np.sqrt(np.mean(samples[: max(1, start - rate // 4)] ** 2))
    assert loud > 0.02 and before < loud / 20
