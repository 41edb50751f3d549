"""Read Fountain screenplays (https://fountain.io/syntax) into typed elements with line numbers.

screenplain (MIT) does the classification: this module hands it one blank-line-separated
paragraph at a time, so every element keeps the 1-based source line it starts on, and fills in
what screenplain lacks or gets wrong:

* boneyard ``/* */`` is removed with its newlines kept, so later lines keep their numbers
  (screenplain deletes the newlines too); an unterminated ``/*`` or ``[[`` is an error naming
  the line it opened on (screenplain leaves them in the text);
* notes ``[[ ]]`` become "note" elements (screenplain deletes them);
* sections ``#`` keep their level and line, and synopses ``=`` are elements of their own
  (screenplain folds a synopsis into the section or heading before it and turns a synopsis
  with nothing before it into action);
* lyrics ``~`` (screenplain has none: it prints them as action, tilde included);
* ``\\_`` escapes an underscore the way ``\\*`` escapes a star (screenplain knows only ``\\*``);
* the corrections documented at the rules in ``_classify`` and ``_delegate``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from itertools import takewhile
from pathlib import Path

from screenplain.parsers.fountain import InputParagraph, parse_title_page, slug_regexes
from screenplain.richstring import RichString, Segment, parse_emphasis, plain
from screenplain.types import Action, Dialog, DualDialog, PageBreak, Slug, Transition

from ..errors import ScreenplayError

KINDS = ("heading", "action", "dialogue", "transition", "centered", "section", "synopsis",
         "page_break", "note", "lyric")

_NEWLINE = re.compile(r"\r\n|\r|\n")
_BONEYARD = re.compile(r"( ?)/\*.*?\*/( ?)", re.DOTALL)
_NOTE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
_SECTION = re.compile(r"(#+)\s*(.*)")
_PAGE_BREAK = re.compile(r"={3,}")
_SCENE_PREFIX = re.compile(r"(INT\.?\s*/\s*EXT|I/E|INT|EXT|EST)\.?(?=\s|$)\s*")
_TIME_SEPARATOR = re.compile(r"\s+(?:--?|\u2013|\u2014)\s+")
_CUE_NAME = re.compile(r"(?:[^\W_]|[ .'\u2019\-&/#,!?])+")
_CUE_EXTENSIONS = re.compile(r"(?:\s*\([^()]+\))*\s*")
_EXTENSION = re.compile(r"\(([^()]*)\)")
_PYTHON = re.compile(r"^(?:from\s+[\w.]+\s+import\s|import\s+\w|def\s+\w+\s*\(|class\s+\w+\s*[(:])",
                     re.MULTILINE)
# The spec's transitions end in "TO:" (or are forced with ">"); these closing transitions are
# standard screenplay format too, and writers type them without the ">" (all three samples
# end on one), so they are transitions here rather than action.
_CLOSING_TRANSITIONS = frozenset({"FADE OUT.", "FADE TO BLACK.", "CUT TO BLACK."})
_KNOWN_EXTENSIONS = {"V.O.": "V.O.", "O.S.": "O.S.", "O.C.": "O.C.", "CONT'D": "CONT'D",
                     "CONTD": "CONT'D", "CONT.": "CONT'D"}
# Stands in for an escaped underscore while screenplain parses emphasis.
_LITERAL_UNDERSCORE = "\ue7ff"


@dataclass(frozen=True)
class Element:
    """One element of a screenplay, with the 1-based line it starts on.

    Attributes:
        kind: one of ``KINDS``.
        text: plain text: emphasis markers, forcing marks and notes removed (for a note: the
            note's text; for dialogue: the spoken words, parentheticals left out).
        line: 1-based line in the source file where the element starts.
        int_ext: heading only: "INT", "EXT", "INT/EXT", "I/E", "EST", or "" when the heading
            does not start with one (a forced heading such as ``.FLASHBACK``).
        location: heading only: the text between the prefix and the time of day.
        time: heading only: the text after the last " - ", "" if none.
        scene_number: heading only: the number between ``#`` marks, "" if none.
        character: dialogue only: the cue in upper case, without extensions, "@" and "^".
        extensions: dialogue only: the cue's extensions, e.g. ``("V.O.",)``.
        parenthetical: dialogue only: the first parenthetical without brackets, "" if none.
        parts: dialogue only: ordered ``("paren" | "speech", text)`` pieces of the speech.
        dual: dialogue only: True for the second speech of a dual dialogue.
        level: section only: the number of ``#`` marks.
        raw: the element's source lines as written, emphasis and forcing marks kept
            (boneyard and notes, which are not part of it, removed).
    """

    kind: str
    text: str
    line: int
    int_ext: str = ""
    location: str = ""
    time: str = ""
    scene_number: str = ""
    character: str = ""
    extensions: tuple[str, ...] = ()
    parenthetical: str = ""
    parts: tuple[tuple[str, str], ...] = ()
    dual: bool = False
    level: int = 0
    raw: str = ""


@dataclass(frozen=True)
class Screenplay:
    """A parsed Fountain screenplay.

    Attributes:
        source: the file it came from, or "<string>".
        title_page: title page fields with lower-case keys ("title", "author", "credit",
            "draft date", ...); a multi-line value keeps its lines joined by newlines.
        elements: the body's elements in source order.
        text: the original text.
    """

    source: str
    title_page: dict[str, str]
    elements: tuple[Element, ...]
    text: str = field(repr=False)

    @property
    def title(self) -> str:
        """The title page's title on one line, or "" when there is none."""
        return " ".join(self.title_page.get("title", "").split("\n"))

    def scenes(self) -> list[tuple[Element, list[Element]]]:
        """Group the elements by scene.

        Returns:
            ``(heading, elements up to the next heading)`` per scene; elements before the
            first heading belong to no scene and are left out.
        """
        scenes: list[tuple[Element, list[Element]]] = []
        for element in self.elements:
            if element.kind == "heading":
                scenes.append((element, []))
            elif scenes:
                scenes[-1][1].append(element)
        return scenes


@dataclass(frozen=True)
class _Block:
    """Consecutive non-blank source lines (one Fountain paragraph) and their line numbers."""

    lines: tuple[str, ...]
    numbers: tuple[int, ...]

    @property
    def line(self) -> int:
        return self.numbers[0]

    @property
    def raw(self) -> str:
        return "\n".join(self.lines)

    def split(self, count: int) -> tuple[_Block, _Block | None]:
        """The first ``count`` lines, and the rest (None when nothing is left)."""
        head = _Block(self.lines[:count], self.numbers[:count])
        if count >= len(self.lines):
            return head, None
        return head, _Block(self.lines[count:], self.numbers[count:])


# --- emphasis -----------------------------------------------------------------------------

def rich(markup: str) -> RichString:
    """Parse Fountain emphasis with screenplain, also honouring ``\\_`` escapes.

    Args:
        markup: text with ``*italic*``, ``**bold**``, ``_underline_`` and ``\\*`` / ``\\_``.

    Returns:
        screenplain's styled string, escapes resolved to literal characters.
    """
    parsed = parse_emphasis(markup.replace("\\_", _LITERAL_UNDERSCORE))
    return RichString(*(Segment(segment.text.replace(_LITERAL_UNDERSCORE, "_"), segment.styles)
                        for segment in parsed.segments))


def _plain(text: RichString | str) -> str:
    """Plain text of a screenplain string (or of markup), emphasis markers removed."""
    if isinstance(text, str):
        text = rich(text)
    return str(text).replace(_LITERAL_UNDERSCORE, "_")


def _protect(line: str) -> str:
    """Hide escaped underscores from screenplain's emphasis parser."""
    return line.replace("\\_", _LITERAL_UNDERSCORE)


# --- source text ---------------------------------------------------------------------------

def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _strip_boneyard(text: str, *, source: str) -> str:
    """Remove ``/* */`` comments, keeping their newlines so line numbers stay right.

    Raises:
        ScreenplayError: a ``/*`` is never closed.
    """
    def blank(match: re.Match[str]) -> str:
        space = " " if match.group(1) or match.group(2) else ""  # "a /* x */ b" -> "a b"
        return space + "\n" * match.group(0).count("\n")

    stripped = _BONEYARD.sub(blank, text)
    opened = stripped.find("/*")
    if opened >= 0:
        raise ScreenplayError("unterminated boneyard: '/*' is never closed by '*/'", path=source,
                              line=_line_at(stripped, opened))
    return stripped


def _is_blank(line: str) -> bool:
    # Only a line of exactly two spaces joins paragraphs (the spec's way of putting an empty
    # line inside dialogue). screenplain treats any longer whitespace as text, which silently
    # merges the paragraphs around an indented empty line; here that line is blank.
    return not line.strip() and line != "  "


def _blocks(lines: list[str], *, first_number: int) -> list[_Block]:
    """Split lines into paragraphs separated by blank lines, keeping each line's number."""
    blocks: list[_Block] = []
    current: list[tuple[str, int]] = []

    def close() -> None:
        while current and not current[-1][0].strip():
            current.pop()
        if current:
            blocks.append(_Block(tuple(t for t, _ in current), tuple(n for _, n in current)))
        current.clear()

    for number, line in enumerate(lines, start=first_number):
        if _is_blank(line) or (not current and not line.strip()):
            close()
        else:
            current.append((line, number))
    close()
    return blocks


def _title_page(lines: list[str]) -> tuple[dict[str, str], int]:
    """Read the title page at the top, if any.

    Returns:
        The fields (lower-case keys, plain values) and the number of lines it took.
    """
    head = list(takewhile(lambda line: bool(line.strip()), lines))
    fields = parse_title_page(head) if head else None
    if not fields or any(_unforced_heading(key) for key in fields):
        # "EXT. SPACE: ORBIT" is a heading, not a title page key.
        return {}, 0
    return {key.strip().lower(): "\n".join(_plain(value) for value in values)
            for key, values in fields.items()}, len(head)


# --- notes ---------------------------------------------------------------------------------

def _note_text(inner: str) -> str:
    return "\n".join(part.strip() for part in inner.splitlines() if part.strip())


def _extract_notes(block: _Block, *, source: str) -> tuple[_Block | None, list[Element]]:
    """Take the ``[[notes]]`` out of a paragraph.

    Returns:
        The paragraph without its notes (None if nothing else was in it), and the notes.

    Raises:
        ScreenplayError: a ``[[`` is not closed within its paragraph.
    """
    text = block.raw
    notes: list[Element] = []
    out: list[list] = [["", block.numbers[0], False]]  # text, line number, held a note
    position = 0

    def copy(end: int) -> None:
        chunk = text[position:end]
        unclosed = chunk.find("[[")
        if unclosed >= 0:
            raise ScreenplayError("unterminated note: '[[' is never closed by ']]' in its "
                                  "paragraph (a note cannot hold an empty line)", path=source,
                                  line=block.numbers[text.count("\n", 0, position + unclosed)])
        first_index = text.count("\n", 0, position)
        pieces = chunk.split("\n")
        out[-1][0] += pieces[0]
        for offset, piece in enumerate(pieces[1:], start=1):
            out.append([piece, block.numbers[first_index + offset], False])

    for match in _NOTE.finditer(text):
        copy(match.start())
        notes.append(Element("note", _note_text(match.group(1)),
                             block.numbers[text.count("\n", 0, match.start())], raw=match.group(0)))
        out[-1][2] = True
        position = match.end()
        if text[match.start() - 1:match.start()] == " " and text[position:position + 1] == " ":
            position += 1  # "a [[note]] b" leaves "a b", not "a  b"
    copy(len(text))
    kept = [(line.rstrip() if had_note else line, number)
            for line, number, had_note in out if not (had_note and not line.strip())]
    if not any(line.strip() for line, _ in kept):
        return None, notes
    return _Block(tuple(t for t, _ in kept), tuple(n for _, n in kept)), notes


# --- elements from screenplain's paragraphs --------------------------------------------------

def _split_heading(text: str) -> tuple[str, str, str]:
    """Split heading text into (int_ext, location, time)."""
    prefix = _SCENE_PREFIX.match(text)
    int_ext = ""
    rest = text
    if prefix:
        int_ext = prefix.group(1)
        if "/" in int_ext and int_ext != "I/E":
            int_ext = "INT/EXT"  # INT./EXT., INT/EXT, INT. / EXT
        rest = text[prefix.end():]
    separators = list(_TIME_SEPARATOR.finditer(rest))
    if not separators:
        return int_ext, rest.strip(), ""
    last = separators[-1]
    return int_ext, rest[:last.start()].strip(), rest[last.end():].strip()


def _heading(slug: Slug, block: _Block) -> Element:
    text = _plain(slug.line).strip()
    int_ext, location, time = _split_heading(text)
    number = _plain(slug.scene_number) if slug.scene_number else ""
    return Element("heading", text, block.line, int_ext=int_ext, location=location, time=time,
                   scene_number=number, raw=block.raw)


def _split_cue(cue: str) -> tuple[str, tuple[str, ...]]:
    """Normalise a character cue into (name, extensions)."""
    cue = cue.strip().removeprefix("@").removesuffix("^").strip()
    name = " ".join(cue.split("(", 1)[0].split()).upper()
    extensions = []
    for extension in _EXTENSION.findall(cue):
        extension = " ".join(extension.split())
        key = extension.upper().replace(" ", "").replace("\u2019", "'")
        extensions.append(_KNOWN_EXTENSIONS.get(key, extension))
    return name, tuple(extension for extension in extensions if extension)


def _speech_parts(lines: list[str]) -> tuple[tuple[str, str], ...]:
    """Split the lines under a cue into ordered ("paren" | "speech", text) parts.

    screenplain marks every line after an unclosed "(" as parenthetical, so one "(beat) Yes."
    line turns the rest of the speech into parenthetical; here a parenthetical ends at its
    ")" and the text after it on the same line is speech.
    """
    parts: list[list[str]] = []
    in_paren = False

    def add(kind: str, text: str, *, join: bool) -> None:
        text = text.strip()
        if join and parts and parts[-1][0] == kind:
            parts[-1][1] = f"{parts[-1][1]} {text}".strip()
        elif text or kind == "paren":
            parts.append([kind, text])

    previous_blank = False
    for line in (_plain(line).strip() for line in lines):
        line = line.removeprefix("~").strip()  # a sung line is still this character's speech
        if not line:
            previous_blank = True
            continue
        if in_paren:
            inside, closed, after = line.partition(")")
            add("paren", inside, join=True)
            in_paren = not closed
            add("speech", after, join=False)
        elif line.startswith("("):
            inside, closed, after = ((line[1:-1], ")", "") if line.endswith(")")
                                     else line[1:].partition(")"))
            add("paren", inside, join=False)
            in_paren = not closed
            add("speech", after, join=False)
        else:
            add("speech", line, join=not previous_blank)
        previous_blank = False
    return tuple((kind, text) for kind, text in parts)


def _dialogue(dialog: Dialog, block: _Block, *, dual: bool) -> Element:
    name, extensions = _split_cue(_plain(dialog.character))
    parts = _speech_parts(list(block.lines[1:]))
    speech = " ".join(text for kind, text in parts if kind == "speech")
    parenthetical = next((text for kind, text in parts if kind == "paren"), "")
    return Element("dialogue", speech, block.line, character=name, extensions=extensions,
                   parenthetical=parenthetical, parts=parts, dual=dual, raw=block.raw)


def _from_screenplain(paragraph: object, block: _Block, *, dual: bool) -> Element:
    """Turn one screenplain paragraph into an Element for ``block``."""
    if isinstance(paragraph, Slug):
        return _heading(paragraph, block)
    if isinstance(paragraph, Dialog):
        return _dialogue(paragraph, block, dual=dual)
    if isinstance(paragraph, Transition):
        return Element("transition", _plain(paragraph.line).strip(), block.line, raw=block.raw)
    if isinstance(paragraph, PageBreak):
        return Element("page_break", "", block.line, raw=block.raw)
    assert isinstance(paragraph, Action), f"unexpected screenplain paragraph {paragraph!r}"
    kind = "centered" if paragraph.centered else "action"
    text = "\n".join(_plain(line).rstrip() for line in paragraph.lines).strip("\n")
    return Element(kind, text, block.line, raw=block.raw)


# --- classification ------------------------------------------------------------------------

def _unforced_heading(line: str) -> bool:
    """Whether a line starts like a scene heading (INT, EXT, EST, INT./EXT., I/E)."""
    return any(regex.match(line.strip().upper()) for regex in slug_regexes)


def _valid_cue(line: str) -> bool:
    """Whether a line screenplain took for a character cue really reads as one.

    screenplain accepts any upper-case line with text under it, so ``X = 1`` or ``"KEY": 2,``
    in a file passed by mistake would become dialogue. A cue is a name (letters, digits and
    the punctuation names use) and bracketed extensions; a forced ``@`` cue is always one.
    """
    cue = line.strip()
    if cue.startswith("@"):
        return len(cue) > 1
    cue = cue.removesuffix("^").rstrip()
    name, paren, rest = cue.partition("(")
    name = name.strip()
    return (bool(_CUE_NAME.fullmatch(name)) and any(char.isalpha() for char in name)
            and bool(_CUE_EXTENSIONS.fullmatch(paren + rest)))


def _screenplain(lines: tuple[str, ...], *, after_dialogue: bool) -> tuple[object, bool]:
    """Classify one paragraph with screenplain.

    Returns:
        screenplain's paragraph object and whether it is the second half of a dual dialogue.
    """
    # screenplain only needs to know whether the previous paragraph was dialogue (for "^").
    context: list[object] = [Dialog(plain(""))] if after_dialogue else []
    InputParagraph([_protect(line) for line in lines]).update_list(context)
    paragraph = context[-1]
    if isinstance(paragraph, DualDialog):
        return paragraph.right, True
    return paragraph, False


def _delegate(block: _Block, *, after_dialogue: bool) -> list[Element]:
    """Classify a paragraph with screenplain, correcting two of its readings."""
    paragraph, dual = _screenplain(block.lines, after_dialogue=after_dialogue)
    if (isinstance(paragraph, Action) and not paragraph.centered and block.lines[0][:1].isspace()):
        # The spec ignores leading whitespace outside action; screenplain does not, so an
        # indented "    INT. HOUSE - DAY" would be action.
        stripped = tuple(line.lstrip() for line in block.lines)
        retry, retry_dual = _screenplain(stripped, after_dialogue=after_dialogue)
        if not isinstance(retry, Action):
            paragraph, dual = retry, retry_dual
    if isinstance(paragraph, Dialog) and not _valid_cue(block.lines[0]):
        paragraph, dual = Action([rich(line.rstrip()) for line in block.lines]), False
    return [_from_screenplain(paragraph, block, dual=dual)]


def _structure(block: _Block) -> tuple[list[Element], _Block | None]:
    """Peel the section and synopsis lines off the top of a paragraph."""
    elements: list[Element] = []
    for line, number in zip(block.lines, block.numbers):
        text = line.strip()
        section = _SECTION.fullmatch(text)
        if section:
            elements.append(Element("section", _plain(section.group(2)).strip(), number,
                                    level=len(section.group(1)), raw=line))
        elif text.startswith("=") and not _PAGE_BREAK.fullmatch(text):
            elements.append(Element("synopsis", _plain(text[1:]).strip(), number, raw=line))
        else:
            break
    return elements, block.split(len(elements))[1]


def _lyric(block: _Block) -> Element:
    text = "\n".join(_plain(line.strip().removeprefix("~")).strip() for line in block.lines)
    return Element("lyric", text, block.line, raw=block.raw)


def _classify(block: _Block, *, after_dialogue: bool) -> list[Element]:
    """Turn one paragraph (notes already removed) into elements."""
    first = block.lines[0].strip()
    if first.startswith(("#", "=")) and not _PAGE_BREAK.fullmatch(first):
        elements, rest = _structure(block)
        if rest is not None:
            elements += _classify(rest, after_dialogue=False)
        return elements
    if first.startswith("~"):
        return [_lyric(block)]
    if len(block.lines) > 1 and first.isupper() and _unforced_heading(first):
        # The spec wants a blank line after a heading; screenplain would read a heading with
        # text straight under it as a character cue "INT. HOUSE - DAY". It is the heading.
        heading, rest = block.split(1)
        return (_delegate(heading, after_dialogue=after_dialogue)
                + _classify(rest, after_dialogue=False))
    if len(block.lines) == 1 and first in _CLOSING_TRANSITIONS:
        return [Element("transition", first, block.line, raw=block.raw)]
    return _delegate(block, after_dialogue=after_dialogue)


def _body(blocks: list[_Block], *, source: str) -> list[Element]:
    elements: list[Element] = []
    after_dialogue = False
    for block in blocks:
        content, notes = _extract_notes(block, source=source)
        found = _classify(content, after_dialogue=after_dialogue) if content else []
        if found:
            after_dialogue = found[-1].kind == "dialogue"
        elements += sorted(found + notes, key=lambda e: (e.line, e.kind == "note"))
    return elements


# --- checks and entry points ---------------------------------------------------------------

def _foreign_format(text: str) -> str:
    """Name the format of a file that is plainly not a screenplay ("" if none stands out)."""
    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            if isinstance(json.loads(stripped), (dict, list)):
                return "JSON"
        except ValueError:
            pass
    if stripped.startswith("<"):
        return "XML/HTML"
    if stripped.startswith("#!") or _PYTHON.search(stripped):
        return "a program's source code"
    return ""


def _check_content(screenplay: Screenplay, *, foreign: str) -> None:
    """Refuse a text with nothing to stage, or that is not Fountain at all."""
    source = screenplay.source
    if foreign == "JSON":
        raise ScreenplayError("not a Fountain screenplay: this is JSON", path=source)
    if not any(element.kind != "note" for element in screenplay.elements):
        if screenplay.title_page:
            raise ScreenplayError("the screenplay has a title page but nothing after it",
                                  path=source)
        raise ScreenplayError("the screenplay is empty (only comments or notes)", path=source)
    if not any(element.kind in ("heading", "dialogue") for element in screenplay.elements):
        hint = f" (it looks like {foreign})" if foreign else ""
        raise ScreenplayError("not a Fountain screenplay: no scene heading (INT./EXT. ...) and "
                              f"no character dialogue found{hint}", path=source)


def parse_fountain(text: str, *, source: str = "<string>") -> Screenplay:
    """Parse Fountain text.

    Args:
        text: the screenplay.
        source: where it came from, used in error messages.

    Returns:
        The screenplay with its title page and elements.

    Raises:
        ScreenplayError: the text is empty, only a title page, not Fountain, or has an
            unterminated boneyard or note (the message names the line).
    """
    if not text.strip():
        raise ScreenplayError("the screenplay is empty", path=source)
    normalised = _NEWLINE.sub("\n", text.removeprefix("\ufeff"))
    foreign = _foreign_format(normalised)
    lines = [line.expandtabs(4) for line in _strip_boneyard(normalised, source=source).split("\n")]
    title_page, title_lines = _title_page(lines)
    blocks = _blocks(lines[title_lines:], first_number=title_lines + 1)
    screenplay = Screenplay(source=source, title_page=title_page,
                            elements=tuple(_body(blocks, source=source)), text=text)
    _check_content(screenplay, foreign=foreign)
    return screenplay


def _decode(data: bytes, *, path: Path) -> str:
    """Decode a screenplay file's bytes as UTF-8, naming the line of a bad byte."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ScreenplayError("the file is UTF-16 text; save the screenplay as UTF-8", path=path)
    nul = data.find(b"\0")
    if nul >= 0:
        raise ScreenplayError("binary file, not Fountain text (NUL byte)", path=path,
                              line=len(_NEWLINE.split(data[:nul].decode("latin-1"))))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = len(_NEWLINE.split(data[:exc.start].decode("latin-1")))
        raise ScreenplayError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded; "
                              "save the screenplay as UTF-8", path=path, line=line) from exc


def load_screenplay(path: str | Path) -> Screenplay:
    """Read and parse a ``.fountain`` file.

    Args:
        path: the file.

    Returns:
        The parsed screenplay, its ``source`` set to ``path``.

    Raises:
        ScreenplayError: the file is missing, a directory, unreadable, binary or not UTF-8,
            empty, or not Fountain (see ``parse_fountain``).
    """
    path = Path(path)
    if path.is_dir():
        raise ScreenplayError("is a directory, not a screenplay file", path=path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ScreenplayError("no such file", path=path) from exc
    except PermissionError as exc:
        raise ScreenplayError("cannot read the file: permission denied", path=path) from exc
    except OSError as exc:
        raise ScreenplayError(f"cannot read the file: {exc.strerror or exc}", path=path) from exc
    return parse_fountain(_decode(data, path=path), source=str(path))
