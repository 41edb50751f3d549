"""animatic.mp4: the shots' preview frames cut in order, H.264 at the plan's fps.

Subtitles are muxed as a soft track (mov_text) and can also be burnt into the picture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import FilmCrewError, OutputError
from ..fsutil import atomic_move


def ffmpeg_binary() -> str:
    found = shutil.which("ffmpeg")
    if not found:
        raise FilmCrewError("ffmpeg is not installed (apt-get install ffmpeg); it cuts the animatic")
    return found


def _link_sequence(frames: list[Path], folder: Path) -> None:
    """Number every frame of the cut in one folder (hard links, copies across devices)."""
    for index, frame in enumerate(frames, start=1):
        target = folder / f"{index:06d}.png"
        try:
            os.link(frame, target)
        except OSError:
            shutil.copyfile(frame, target)


def _subtitle_filter_path(path: Path) -> str:
    return str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")


def encode_animatic(*, frames: list[Path], fps: int, srt: Path | None, out: Path,
                    burn_subtitles: bool = False) -> None:
    """Encode ``frames`` into ``out`` (written atomically).

    Args:
        frames: every frame of the cut, in order.
        fps: frames per second.
        srt: subtitles to mux (and burn in when ``burn_subtitles``), or None.
        out: the .mp4 to write.
        burn_subtitles: draw the subtitles into the picture as well.
    """
    if not frames:
        raise FilmCrewError("no frames to cut into an animatic", path=out)
    with tempfile.TemporaryDirectory(prefix=".animatic.", dir=out.parent) as tmp:
        folder = Path(tmp)
        _link_sequence(frames, folder)
        partial = folder / "animatic.mp4"
        cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
               "-framerate", str(fps), "-i", str(folder / "%06d.png")]
        if srt is not None and srt.stat().st_size > 0:
            cmd += ["-i", str(srt), "-map", "0:v", "-map", "1:s", "-c:s", "mov_text",
                    "-metadata:s:s:0", "language=eng"]
        video_filter = "pad=ceil(iw/2)*2:ceil(ih/2)*2"
        if burn_subtitles and srt is not None:
            video_filter += f",subtitles='{_subtitle_filter_path(srt)}'"
        cmd += ["-vf", video_filter, "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                "-pix_fmt", "yuv420p", "-r", str(fps), "-movflags", "+faststart", str(partial)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            message = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
            if "No space left" in result.stderr:
                raise OutputError("disk full while encoding the animatic", path=out)
            raise FilmCrewError(f"ffmpeg failed: {message}", path=out)
        atomic_move(partial, out)


def video_duration(path: Path) -> tuple[int, float]:
    """Frame count and duration in seconds of a video, read with ffprobe."""
    probe = shutil.which("ffprobe")
    if not probe:
        raise FilmCrewError("ffprobe is not installed (apt-get install ffmpeg)")
    result = subprocess.run(
        [probe, "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=nb_read_frames,duration", "-of", "default=nw=1:nk=1", str(path)],
        capture_output=True, text=True, check=True)
    values = result.stdout.split()
    return int(values[1]), float(values[0])
