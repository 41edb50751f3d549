"""animatic.mp4: the shots' preview frames cut in order, H.264 at the plan's fps.

The dialogue track (a WAV) is muxed as AAC; subtitles as a soft track (mov_text), and they can
also be burnt into the picture, as can each frame's shot id (``labels``).
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


def _label_sequence(frames: list[Path], labels: list[str], folder: Path) -> None:
    """Number every frame of the cut in one folder with its label drawn in the top-left corner."""
    from PIL import Image, ImageDraw, ImageFont

    fonts: dict[int, ImageFont.ImageFont] = {}
    for index, (frame, label) in enumerate(zip(frames, labels), start=1):
        with Image.open(frame) as image:
            picture = image.convert("RGB")
        size = max(8, picture.height // 18)
        font = fonts.get(size) or fonts.setdefault(size, ImageFont.load_default(size=size))
        draw = ImageDraw.Draw(picture)
        margin = max(2, size // 3)
        box = draw.textbbox((margin, margin), label, font=font)
        draw.rectangle((box[0] - margin // 2, box[1] - margin // 2, box[2] + margin // 2, box[3] + margin // 2),
                       fill=(0, 0, 0))
        draw.text((margin, margin), label, font=font, fill=(255, 255, 255))
        picture.save(folder / f"{index:06d}.png", compress_level=1)


def _subtitle_filter_path(path: Path) -> str:
    return str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")


def encode_animatic(*, frames: list[Path], fps: int, srt: Path | None, out: Path,
                    burn_subtitles: bool = False, audio: Path | None = None,
                    labels: list[str] | None = None) -> None:
    """Encode ``frames`` into ``out`` (written atomically).

    Args:
        frames: every frame of the cut, in order.
        fps: frames per second.
        srt: subtitles to mux (and burn in when ``burn_subtitles``), or None.
        out: the .mp4 to write.
        burn_subtitles: draw the subtitles into the picture as well.
        audio: a WAV to mux as the sound track (AAC), or None for a silent animatic.
        labels: one text per frame to burn into its top-left corner (the shot id), or None.
    """
    if not frames:
        raise FilmCrewError("no frames to cut into an animatic", path=out)
    with tempfile.TemporaryDirectory(prefix=".animatic.", dir=out.parent) as tmp:
        folder = Path(tmp)
        if labels is not None:
            if len(labels) != len(frames):
                raise FilmCrewError(f"{len(labels)} labels for {len(frames)} frames", path=out)
            _label_sequence(frames, labels, folder)
        else:
            _link_sequence(frames, folder)
        partial = folder / "animatic.mp4"
        cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
               "-framerate", str(fps), "-i", str(folder / "%06d.png")]
        maps = ["-map", "0:v"]
        inputs = 1
        if audio is not None:
            cmd += ["-i", str(audio)]
            maps += ["-map", f"{inputs}:a", "-c:a", "aac", "-b:a", "96k"]
            inputs += 1
        if srt is not None and srt.stat().st_size > 0:
            cmd += ["-i", str(srt)]
            maps += ["-map", f"{inputs}:s", "-c:s", "mov_text", "-metadata:s:s:0", "language=eng"]
        cmd += maps
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
