"""Reading and writing clips as numpy frames through ffmpeg pipes, and the film's cut."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FilmCrewError, OutputError
from ..fsutil import atomic_move
from ..render.animatic import ffmpeg_binary
from .geometry import crop_box


def _ffprobe() -> str:
    found = shutil.which("ffprobe")
    if not found:
        raise FilmCrewError("ffprobe is not installed (apt-get install ffmpeg)")
    return found


def _fail(result: subprocess.CompletedProcess, out: Path, what: str) -> None:
    stderr = result.stderr.decode(errors="replace") if isinstance(result.stderr, bytes) else result.stderr
    if "No space left" in stderr:
        raise OutputError(f"disk full while {what}", path=out)
    message = (stderr.strip().splitlines() or ["unknown error"])[-1]
    raise FilmCrewError(f"ffmpeg failed {what}: {message}", path=out)


def write_video(frames: np.ndarray, *, fps: int, out: Path) -> None:
    """Encode (N, H, W, 3) uint8 frames as H.264 at ``fps`` into ``out``, atomically."""
    _, height, width, _ = frames.shape
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.stem}.", dir=out.parent) as tmp:
        partial = Path(tmp) / out.name
        cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
               "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(fps), "-i", "-",
               "-c:v", "libx264", "-preset", "medium", "-crf", "16", "-pix_fmt", "yuv420p",
               "-r", str(fps), "-movflags", "+faststart", str(partial)]
        result = subprocess.run(cmd, input=np.ascontiguousarray(frames, dtype=np.uint8).tobytes(),
                                capture_output=True, check=False)
        if result.returncode != 0:
            _fail(result, out, "encoding a refined shot")
        atomic_move(partial, out)


@dataclass(frozen=True)
class StreamInfo:
    width: int
    height: int
    fps: float
    streams: tuple[str, ...]  # codec types in order: video, audio, subtitle


def probe(path: Path) -> StreamInfo:
    """Size, frame rate and stream types of a clip."""
    result = subprocess.run([_ffprobe(), "-v", "error", "-show_entries",
                             "stream=codec_type,width,height,r_frame_rate", "-of", "json", str(path)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise FilmCrewError(f"cannot read clip: {result.stderr.strip()[-200:]}", path=path)
    streams = json.loads(result.stdout).get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise FilmCrewError("clip has no video stream", path=path)
    num, _, den = video.get("r_frame_rate", "0/1").partition("/")
    return StreamInfo(width=int(video["width"]), height=int(video["height"]),
                      fps=float(num) / float(den or 1), streams=tuple(s["codec_type"] for s in streams))


def read_video(path: Path) -> np.ndarray:
    """Every frame of a clip as (N, H, W, 3) uint8."""
    info = probe(path)
    result = subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-i", str(path),
                             "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                            capture_output=True, check=False)
    if result.returncode != 0:
        _fail(result, path, "decoding a clip")
    frame = info.width * info.height * 3
    data = np.frombuffer(result.stdout, dtype=np.uint8)
    return data[:len(data) // frame * frame].reshape(-1, info.height, info.width, 3)


@dataclass(frozen=True)
class FilmPiece:
    """One shot of the film: its refined clip, or (None) its frames of the animatic."""

    shot: str
    clip: Path | None
    first_frame: int  # 0-based frame of the animatic where the shot starts
    frame_count: int


def cut_film(*, pieces: list[FilmPiece], animatic: Path | None, srt: Path | None, fps: int,
             size: tuple[int, int], out: Path) -> tuple[str, ...]:
    """Cut ``pieces`` in order into ``out`` with the animatic's audio and the subtitles.

    Every piece is held to its frame count, so the cut keeps the animatic's timing and its audio
    and subtitles stay in sync. Animatic pieces are cropped to the aspect of ``size`` the way the
    control was, then scaled to it. Returns the film's stream types.
    """
    width, height = size
    crop = ""
    if animatic is not None and any(piece.clip is None for piece in pieces):
        info = probe(animatic)
        left, top, right, bottom = crop_box(source=(info.width, info.height), target=size)
        crop = f"crop={right - left:.3f}:{bottom - top:.3f}:{left:.3f}:{top:.3f},"
    inputs: list[str] = []
    chains: list[str] = []
    for index, piece in enumerate(pieces):
        if piece.clip is not None:
            inputs += ["-i", str(piece.clip)]
            head = ""
        elif animatic is None:
            raise FilmCrewError(f"shot {piece.shot} is not refined and there is no animatic to take it from",
                                path=out)
        else:
            inputs += ["-i", str(animatic)]
            head = f"trim=start_frame={piece.first_frame}:end_frame={piece.first_frame + piece.frame_count},{crop}"
        count = piece.frame_count
        chains.append(f"[{index}:v]{head}setpts=PTS-STARTPTS,fps={fps},"
                      f"scale={width}:{height}:flags=bicubic,setsar=1,"
                      f"tpad=stop_mode=clone:stop={count},trim=end_frame={count}[v{index}]")
    graph = ";".join(chains)
    graph += ";" + "".join(f"[v{i}]" for i in range(len(pieces))) + f"concat=n={len(pieces)}:v=1:a=0[film]"
    cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *inputs]
    extra = len(pieces)
    maps = ["-map", "[film]"]
    if animatic is not None:
        cmd += ["-i", str(animatic)]
        maps += ["-map", f"{extra}:a?"]
        extra += 1
    if srt is not None and srt.exists() and srt.stat().st_size > 0:
        cmd += ["-i", str(srt)]
        maps += ["-map", f"{extra}:s", "-c:s", "mov_text", "-metadata:s:s:0", "language=eng"]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".film.", dir=out.parent) as tmp:
        partial = Path(tmp) / out.name
        cmd += ["-filter_complex", graph, *maps, "-c:v", "libx264", "-preset", "medium", "-crf", "16",
                "-pix_fmt", "yuv420p", "-r", str(fps), "-c:a", "aac", "-b:a", "160k",
                "-movflags", "+faststart", str(partial)]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            _fail(result, out, "cutting the film")
        atomic_move(partial, out)
    return probe(out).streams

