"""Typeset a screenplay as PDF or Final Draft (.fdx) with screenplain's exporters.

The elements are turned back into screenplain's paragraph types from their ``raw`` markup, so
emphasis survives. Sections, synopses and notes are not printed (the spec keeps them out of
the typeset script); lyrics are printed as italic action, since screenplain has no lyric type.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from reportlab.platypus.doctemplate import LayoutError
from screenplain.export.fdx import to_fdx
from screenplain.export.pdf import to_pdf
from screenplain.parsers.fountain import InputParagraph
from screenplain.richstring import Italic, RichString, Segment, plain
from screenplain.types import Action, Dialog, DualDialog, PageBreak, Slug, Transition
from screenplain.types import Screenplay as ScreenplainDocument

from ..errors import ScreenplayError
from ..fsutil import atomic_write_bytes
from .fountain import Element, Screenplay, rich

_CENTERED = re.compile(r"\s*>\s*(.*?)\s*<\s*")


def _italic(text: RichString) -> RichString:
    return RichString(*(Segment(segment.text, segment.styles | {Italic})
                        for segment in text.segments))


def _slug(element: Element) -> Slug:
    made: list[object] = []
    if InputParagraph([element.raw.strip()]).append_slug(made):
        return made[0]
    # A heading split off a paragraph keeps its own line as raw, so this is only reached for
    # elements built by hand.
    return Slug(rich(element.text), plain(element.scene_number) if element.scene_number else None)


def _dialog(element: Element) -> Dialog:
    cue, *lines = element.raw.split("\n")
    cue = cue.strip().removeprefix("@").removesuffix("^").rstrip()
    return Dialog(rich(cue), [rich(line.strip().removeprefix("~").strip()) for line in lines])


def _action(element: Element) -> Action:
    lines = element.raw.split("\n") if element.raw else element.text.split("\n")
    return Action([rich(line.removeprefix("!").rstrip()) for line in lines])


def _centered(element: Element) -> Action:
    lines = []
    for line in (element.raw or element.text).split("\n"):
        match = _CENTERED.fullmatch(line)
        lines.append(rich(match.group(1) if match else line.strip()))
    return Action(lines, centered=True)


def _paragraph(element: Element, previous: object | None) -> object | None:
    """The screenplain paragraph for one element (None for what is not printed)."""
    if element.kind == "heading":
        return _slug(element)
    if element.kind == "dialogue":
        dialog = _dialog(element)
        if element.dual and isinstance(previous, Dialog):
            return DualDialog(previous, dialog)
        return dialog
    if element.kind == "action":
        return _action(element)
    if element.kind == "centered":
        return _centered(element)
    if element.kind == "lyric":
        return Action([_italic(rich(line)) for line in element.text.split("\n")])
    if element.kind == "transition":
        return Transition(plain(element.text))
    if element.kind == "page_break":
        return PageBreak()
    return None


def to_screenplain(screenplay: Screenplay) -> ScreenplainDocument:
    """Convert a screenplay into screenplain's document model for its exporters.

    Args:
        screenplay: the parsed screenplay.

    Returns:
        screenplain's Screenplay, title page keys in its capitalised form.
    """
    paragraphs: list[object] = []
    for element in screenplay.elements:
        previous = paragraphs[-1] if paragraphs else None
        paragraph = _paragraph(element, previous)
        if isinstance(paragraph, DualDialog):
            paragraphs.pop()
        if paragraph is not None:
            paragraphs.append(paragraph)
    title_page = {key.capitalize(): value.split("\n")
                  for key, value in screenplay.title_page.items()}
    return ScreenplainDocument(title_page, paragraphs)


def write_pdf(screenplay: Screenplay, path: str | Path) -> None:
    """Typeset the screenplay as a US-letter PDF in Courier Prime, written atomically.

    Args:
        screenplay: the parsed screenplay.
        path: the PDF to write.

    Raises:
        ScreenplayError: the script cannot be laid out.
        OutputError: the file cannot be written.
    """
    buffer = io.BytesIO()
    try:
        to_pdf(to_screenplain(screenplay), buffer)
    except LayoutError as exc:
        raise ScreenplayError(f"cannot lay out the PDF: {exc}", path=path) from exc
    atomic_write_bytes(path, buffer.getvalue())


def write_fdx(screenplay: Screenplay, path: str | Path) -> None:
    """Write the screenplay as a Final Draft (.fdx) document, atomically.

    Args:
        screenplay: the parsed screenplay.
        path: the .fdx file to write.

    Raises:
        OutputError: the file cannot be written.
    """
    out = io.StringIO()
    to_fdx(to_screenplain(screenplay), out)
    atomic_write_bytes(path, out.getvalue().encode("utf-8"))
