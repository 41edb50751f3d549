"""Dialogue lines spoken with espeak-ng, one voice per character (no bpy).

Each line is synthesised to a WAV once per (text, voice, espeak-ng version): the file is cached
by that hash in ``audio/cache/``, and copied to ``audio/<scene>_<beat>.wav`` for editors. The plan
stage measures every line's WAV (its header's frame count) and makes the dialogue beat last as
long as the line plus a short pause, so the cut, the subtitles and the voices agree.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import FilmCrewError
from ..fsutil import atomic_copy, atomic_write_json, sha256_json
from ..plan.model import DialogueBeat, Plan, Voice

VOICE_VERSION = 1
PAUSE_AFTER = 0.3
"""Seconds a dialogue beat lasts beyond its spoken line (a breath before the next beat)."""
VARIANTS = {"m": ("m3", "m1", "m2", "m4", "m5", "m6", "m7"), "f": ("f3", "f1", "f2", "f4", "f5")}


def espeak_binary() -> str:
    found = shutil.which("espeak-ng")
    if not found:
        raise FilmCrewError("espeak-ng is not installed (apt-get install espeak-ng); it speaks the dialogue")
    return found


@lru_cache(maxsize=1)
def espeak_version() -> str:
    result = subprocess.run([espeak_binary(), "--version"], capture_output=True, text=True)
    return result.stdout.strip()


def voice_inputs() -> dict:
    """What line lengths depend on besides the text: for the plan stage's inputs hash."""
    return {"voices": VOICE_VERSION, "espeak": espeak_version()}


def spoken_text(text: str) -> str:
    return " ".join(text.split())


def voice_arguments(voice: Voice) -> list[str]:
    return ["-v", f"{voice.language}+{voice.variant}", "-p", str(voice.pitch), "-s", str(voice.words_per_minute)]


def line_key(text: str, voice: Voice) -> str:
    return sha256_json({"text": spoken_text(text), "voice": voice.model_dump(mode="json"),
                        "espeak": espeak_version(), "version": VOICE_VERSION})[:20]


def synthesize(*, text: str, voice: Voice, path: Path) -> None:
    """Speak ``text`` with ``voice`` into the WAV ``path`` (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.wav")
    cmd = [espeak_binary(), *voice_arguments(voice), "-w", str(tmp), "--", spoken_text(text)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not tmp.exists():
        message = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        raise FilmCrewError(f"espeak-ng failed: {message}", path=path)
    tmp.replace(path)


def wav_seconds(path: Path) -> float:
    """A WAV file's length from its header."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate())
    except (wave.Error, EOFError, OSError) as exc:
        raise FilmCrewError(f"not a readable WAV file: {exc}", path=path) from None


@dataclass(frozen=True)
class Line:
    scene: str
    beat: int
    character: str
    text: str
    key: str
    file: str      # relative to the production folder
    seconds: float


def line_file(scene: str, beat: int) -> str:
    return f"audio/{scene}_{beat:03d}.wav"


def dialogue_lines(plan: Plan) -> list[tuple[str, int, DialogueBeat]]:
    return [(scene.id, index, beat) for scene in plan.scenes for index, beat in enumerate(scene.beats)
            if isinstance(beat, DialogueBeat)]


def ensure_line_audio(*, plan: Plan, root: Path) -> list[Line]:
    """Synthesise (or take from the cache) every dialogue line of ``plan`` into ``root/audio``.

    Writes ``audio/<scene>_<beat>.wav`` and ``audio/lines.json``; removes line files and cache
    entries the plan no longer uses.
    """
    voices = {c.id: c.voice for c in plan.characters}
    cache = root / "audio" / "cache"
    lines: list[Line] = []
    for scene_id, index, beat in dialogue_lines(plan):
        voice = voices.get(beat.character, Voice())
        key = line_key(beat.text, voice)
        cached = cache / f"{key}.wav"
        if not cached.exists():
            synthesize(text=beat.text, voice=voice, path=cached)
        target = root / line_file(scene_id, index)
        if not target.exists() or target.stat().st_size != cached.stat().st_size or \
                target.read_bytes() != cached.read_bytes():
            atomic_copy(cached, target)
        lines.append(Line(scene_id, index, beat.character, spoken_text(beat.text), key,
                          line_file(scene_id, index), round(wav_seconds(cached), 4)))
    keep_files = {Path(line.file).name for line in lines}
    keep_keys = {f"{line.key}.wav" for line in lines}
    for stale in (root / "audio").glob("*.wav"):
        if stale.name not in keep_files and re.fullmatch(r".+_\d{3}\.wav", stale.name):
            stale.unlink()
    if cache.exists():
        for stale in cache.glob("*.wav"):
            if stale.name not in keep_keys:
                stale.unlink()
    atomic_write_json(root / "audio" / "lines.json", {
        "espeak": espeak_version(),
        "lines": [{"scene": ln.scene, "beat": ln.beat, "character": ln.character, "text": ln.text,
                   "file": ln.file, "seconds": ln.seconds, "key": ln.key} for ln in lines]})
    return lines


def distinct_voices(plan: Plan) -> Plan:
    """Give characters who would sound the same a different variant and pitch."""
    seen: set[tuple] = set()
    changed = plan.model_copy(deep=True)
    for character in changed.characters:
        voice = character.voice
        family = "f" if voice.variant.startswith("f") else "m"
        options = [voice.variant] + [v for v in VARIANTS[family] if v != voice.variant]
        step = 0
        while (voice.language, voice.variant, voice.pitch, voice.words_per_minute) in seen and step < 40:
            step += 1
            voice = voice.model_copy(update={"variant": options[step % len(options)],
                                             "pitch": min(99, max(0, character.voice.pitch + 6 * step
                                                                  * (1 if step % 2 else -1)))})
        seen.add((voice.language, voice.variant, voice.pitch, voice.words_per_minute))
        character.voice = voice
    return changed


def voice_plan(*, plan: Plan, root: Path) -> Plan:
    """The plan with distinct voices and every dialogue beat as long as its spoken line.

    Synthesises the lines into ``root/audio`` (cached), measures each WAV and sets the beat's
    duration to the line's length plus ``PAUSE_AFTER``.
    """
    voiced = distinct_voices(plan)
    lines = {(ln.scene, ln.beat): ln for ln in ensure_line_audio(plan=voiced, root=root)}
    for scene in voiced.scenes:
        for index, beat in enumerate(scene.beats):
            line = lines.get((scene.id, index))
            if line is not None:
                beat.duration = round(line.seconds + PAUSE_AFTER, 2)
    return voiced
