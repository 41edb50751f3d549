"""storyboard.png: first, middle and last frame of every shot, labelled, on one contact sheet."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..fsutil import atomic_write_bytes
from ..plan.model import DialogueBeat, Plan
from ..staging.timeline import Timeline

THUMB_WIDTH = 240
LABEL_HEIGHT = 54
GAP = 6
BACKGROUND = (24, 24, 28)
TEXT = (235, 235, 235)
MUTED = (160, 160, 170)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _line_spoken(plan: Plan, shot) -> str:
    scene = plan.scene(shot.scene)
    names = {c.id: c.name for c in plan.characters}
    for beat in scene.beats[shot.first_beat:shot.last_beat + 1]:
        if isinstance(beat, DialogueBeat):
            return f"{names.get(beat.character, beat.character).upper()}: {beat.text}"
    texts = [getattr(b, "text", "") for b in scene.beats[shot.first_beat:shot.last_beat + 1]]
    return next((t for t in texts if t), "")


def _thumb(path: Path, size: tuple[int, int]) -> Image.Image:
    if path.exists():
        return Image.open(path).convert("RGB").resize(size, Image.Resampling.LANCZOS)
    blank = Image.new("RGB", size, (60, 20, 20))
    ImageDraw.Draw(blank).text((8, 8), "not rendered", fill=TEXT, font=_font(14))
    return blank


def storyboard_image(*, plan: Plan, timeline: Timeline, root: Path) -> Image.Image:
    """The contact sheet: one row per shot, three frames and a label."""
    aspect = plan.resolution[1] / plan.resolution[0]
    size = (THUMB_WIDTH, int(round(THUMB_WIDTH * aspect)))
    row_height = size[1] + LABEL_HEIGHT + GAP
    width = 3 * size[0] + 4 * GAP
    sheet = Image.new("RGB", (width, GAP + row_height * len(timeline.shots)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    title_font, body_font = _font(15), _font(13)
    shots = {s.id: s for s in plan.shots}
    for row, shot_range in enumerate(timeline.shots):
        shot = shots[shot_range.shot]
        top = GAP + row * row_height
        count = shot_range.frame_count
        for col, index in enumerate((1, (count + 1) // 2, count)):
            frame = root / "shots" / shot.id / "rgb" / f"{index:04d}.png"
            sheet.paste(_thumb(frame, size), (GAP + col * (size[0] + GAP), top))
        seconds = count / plan.fps
        label = (f"{shot.id}  {shot.framing.replace('_', ' ')}  {shot.size}  {shot.angle}  "
                 f"{shot.movement.replace('_', ' ')}  {', '.join(shot.subjects)}  {seconds:.1f}s")
        draw.text((GAP, top + size[1] + 4), label, fill=TEXT, font=title_font)
        spoken = textwrap.shorten(_line_spoken(plan, shot), width=110, placeholder="...")
        draw.text((GAP, top + size[1] + 24), spoken, fill=MUTED, font=body_font)
    return sheet


def write_storyboard(*, plan: Plan, timeline: Timeline, root: Path) -> Path:
    """Write ``root/storyboard.png`` atomically and return its path."""
    buffer = io.BytesIO()
    storyboard_image(plan=plan, timeline=timeline, root=root).save(buffer, format="PNG", optimize=True)
    path = root / "storyboard.png"
    atomic_write_bytes(path, buffer.getvalue())
    return path
