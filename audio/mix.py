"""The dialogue track: every line placed at its time on the cut, mixed into one WAV (numpy)."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from ..errors import FilmCrewError

SAMPLE_RATE = 22050  # espeak-ng's rate


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float samples in -1..1 and the sample rate of a 16-bit PCM WAV."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise FilmCrewError(f"not a readable WAV file: {exc}", path=path) from None
    if width != 2:
        raise FilmCrewError(f"expected 16-bit PCM, found {8 * width}-bit", path=path)
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1), rate


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write mono float samples as 16-bit PCM, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.wav")
    pcm = np.clip(np.rint(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    os.replace(tmp, path)


def mix_lines(*, lines: list[tuple[float, Path]], seconds: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Sum every (start seconds, WAV) into a track ``seconds`` long; overlaps are scaled to fit.

    Lines at another sample rate are resampled linearly; anything past the end is cut.
    """
    track = np.zeros(int(round(seconds * rate)), dtype=np.float32)
    for start, path in lines:
        samples, source_rate = read_wav(path)
        if source_rate != rate and len(samples):
            positions = np.arange(int(len(samples) * rate / source_rate)) * (source_rate / rate)
            samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
        first = int(round(start * rate))
        if first >= len(track) or first + len(samples) <= 0:
            continue
        clip = samples[max(0, -first):len(track) - first]
        first = max(0, first)
        track[first:first + len(clip)] += clip
    peak = float(np.abs(track).max(initial=0.0))
    if peak > 0.99:
        track *= 0.99 / peak
    return track
