"""The Fountain reader: every element of https://fountain.io/syntax, line numbers, errors,
the shared samples, and PDF / FDX export."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from filmcrew.errors import ScreenplayError
from filmcrew.screenplay import (Element, Screenplay, load_screenplay, parse_fountain, write_fdx,
                                 write_pdf)

DATA = Path(__file__).resolve().parent / "data" / "fountain"
SCENE = "INT. HOUSE - DAY\n\n"


def body(text: str) -> list[Element]:
    """Parse ``text`` and return its elements."""
    return list(parse_fountain(text).elements)


def only(text: str, kind: str) -> Element:
    """The single element of ``kind`` in ``text``."""
    found = [element for element in body(text) if element.kind == kind]
    assert len(found) == 1, found
    return found[0]


def error_of(text: str) -> str:
    with pytest.raises(ScreenplayError) as caught:
        parse_fountain(text, source="x.fountain")
    return str(caught.value)


def load_error(path: Path) -> str:
    with pytest.raises(ScreenplayError) as caught:
        load_screenplay(path)
    return str(caught.value)


# --- title page --------------------------------------------------------------------------------

def test_title_page_keys_are_lower_case_and_multi_line_values_keep_their_lines():
    play = parse_fountain("Title:\n    _**BRICK**_\n    & Steel\nCredit: Written by\n"
                          "Author: Ada\nDraft date: 1/2/26\n\n" + SCENE + "BOB\nHi.\n")
    assert play.title_page == {"title": "BRICK\n& Steel", "credit": "Written by",
                               "author": "Ada", "draft date": "1/2/26"}
    assert play.title == "BRICK & Steel"
    assert play.elements[0].kind == "heading" and play.elements[0].line == 8


def test_no_title_page_and_a_heading_with_a_colon_is_not_one():
    play = parse_fountain("EXT. SPACE: ORBIT - NIGHT\n\nBOB\nHi.\n")
    assert play.title_page == {} and play.title == ""
    assert play.elements[0].kind == "heading" and play.elements[0].location == "SPACE: ORBIT"


# --- scene headings ----------------------------------------------------------------------------

@pytest.mark.parametrize("line, int_ext, location, time", [
    ("INT. CORNER CAFE - MORNING", "INT", "CORNER CAFE", "MORNING"),
    ("EXT. BRICK'S POOL - DAY", "EXT", "BRICK'S POOL", "DAY"),
    ("INT./EXT. CAR - MOVING - NIGHT", "INT/EXT", "CAR - MOVING", "NIGHT"),
    ("INT/EXT CAR", "INT/EXT", "CAR", ""),
    ("I/E BUS - DUSK", "I/E", "BUS", "DUSK"),
    ("EST. CITY SKYLINE -- DAWN", "EST", "CITY SKYLINE", "DAWN"),
    ("int house - day", "INT", "HOUSE", "DAY"),
    ("    INT. INDENTED - DAY", "INT", "INDENTED", "DAY"),
])
def test_scene_heading(line, int_ext, location, time):
    heading = only(f"Some action.\n\n{line}\n\nBOB\nHi.\n", "heading")
    assert (heading.line, heading.int_ext, heading.location, heading.time) == (
        3, int_ext, location, time)
    assert heading.raw == line


def test_forced_heading_and_scene_numbers():
    elements = body("BOB\nHi.\n\n.FLASHBACK #2A#\n\n.SNIPER SCOPE POV\n\n"
                    "INT. HOUSE - DAY #I-1-A#\n\n...and then\n")
    headings = [e for e in elements if e.kind == "heading"]
    assert [(h.text, h.int_ext, h.location, h.scene_number, h.line) for h in headings] == [
        ("FLASHBACK", "", "FLASHBACK", "2A", 4),
        ("SNIPER SCOPE POV", "", "SNIPER SCOPE POV", "", 6),
        ("INT. HOUSE - DAY", "INT", "HOUSE", "I-1-A", 8),
    ]
    assert elements[-1].kind == "action" and elements[-1].text == "...and then"


def test_heading_with_text_straight_under_it_is_still_a_heading():
    elements = body("INT. HOUSE - DAY\nBob enters.\n\nBOB\nHi.\n")
    assert [(e.kind, e.line) for e in elements] == [("heading", 1), ("action", 2), ("dialogue", 4)]


def test_heading_needs_to_stand_alone_when_lower_case():
    # "int" at the start of a longer lower-case paragraph is plain action.
    action = only("int. the house is quiet\nand dark.\n\nBOB\nHi.\n", "action")
    assert action.text == "int. the house is quiet\nand dark."


# --- action ------------------------------------------------------------------------------------

def test_action_keeps_lines_and_indentation():
    action = only(SCENE + "The door opens.\n    A draught.\nSilence.\n\nBOB\nHi.\n", "action")
    assert (action.line, action.text) == (3, "The door opens.\n    A draught.\nSilence.")


def test_forced_action():
    elements = body(SCENE + "!SCANNING THE AISLES...\nWhere is that pit boss?\n\nBOB\nHi.\n")
    assert (elements[1].kind, elements[1].line) == ("action", 3)
    assert elements[1].text == "SCANNING THE AISLES...\nWhere is that pit boss?"
    assert elements[1].raw.startswith("!SCANNING")


def test_upper_case_code_is_not_a_character_cue():
    elements = body(SCENE + "X = 1\ny = 2\n\nBOB\nHi.\n")
    assert elements[1].kind == "action"


# --- dialogue ----------------------------------------------------------------------------------

def test_dialogue_with_extensions_and_parentheticals():
    dialogue = only(SCENE + "MOM (O. S.) (cont'd)\n(calling out)\nLuke! Your father\n"
                    "is here.\n(beat)\nNow.\n", "dialogue")
    assert dialogue.line == 3
    assert dialogue.character == "MOM"
    assert dialogue.extensions == ("O.S.", "CONT'D")
    assert dialogue.parenthetical == "calling out"
    assert dialogue.parts == (("paren", "calling out"), ("speech", "Luke! Your father is here."),
                              ("paren", "beat"), ("speech", "Now."))
    assert dialogue.text == "Luke! Your father is here. Now."
    assert not dialogue.dual


def test_character_extension_in_lower_case_and_digits_in_names():
    elements = body(SCENE + "HANS (on the radio)\nWhat?\n\nR2D2\nBeep.\n")
    assert [(e.character, e.extensions) for e in elements[1:]] == [
        ("HANS", ("on the radio",)), ("R2D2", ())]


def test_parenthetical_on_several_lines_and_with_speech_after_it():
    dialogue = only(SCENE + "BOB\n(looking around,\nnervous)\nFine.\n(beat) Really.\n", "dialogue")
    assert dialogue.parts == (("paren", "looking around, nervous"), ("speech", "Fine."),
                              ("paren", "beat"), ("speech", "Really."))


def test_forced_character_cue():
    dialogue = only(SCENE + "@McCLANE\nYippie ki-yay!\n", "dialogue")
    assert (dialogue.character, dialogue.text, dialogue.line) == ("MCCLANE", "Yippie ki-yay!", 3)


def test_two_spaces_keep_an_empty_line_inside_dialogue():
    dialogue = only(SCENE + "DEALER\nTen.\nFour.\n  \nDealer gets five.\n", "dialogue")
    assert dialogue.parts == (("speech", "Ten. Four."), ("speech", "Dealer gets five."))


def test_dual_dialogue():
    elements = body(SCENE + "BRICK\nScrew retirement.\n\nSTEEL ^\nScrew retirement.\n")
    brick, steel = elements[1:]
    assert (brick.character, brick.dual, brick.line) == ("BRICK", False, 3)
    assert (steel.character, steel.dual, steel.line) == ("STEEL", True, 6)


def test_caret_without_dialogue_before_it_is_not_dual():
    steel = only(SCENE + "Action.\n\nSTEEL ^\nAlone.\n", "dialogue")
    assert (steel.character, steel.dual) == ("STEEL", False)


def test_continued_dialogue_in_rooftop_sample(samples):
    play = load_screenplay(samples / "rooftop_monologue.fountain")
    lines = [e for e in play.elements if e.kind == "dialogue"]
    assert [(e.character, e.extensions, e.parenthetical, e.line) for e in lines] == [
        ("JONAH", (), "to himself", 8), ("JONAH", ("CONT'D",), "", 14), ("ROSA", (), "", 19),
        ("JONAH", (), "", 24), ("ROSA", (), "", 29), ("JONAH", (), "", 32)]
    assert lines[1].text == "Every night one more goes dark. Nobody notices but me."


# --- lyrics, transitions, centered --------------------------------------------------------------

def test_lyrics():
    lyric = only(SCENE + "BOB\nHi.\n\n~Willy Wonka! Willy Wonka!\n~The amazing chocolatier!\n",
                 "lyric")
    assert (lyric.line, lyric.text) == (6, "Willy Wonka! Willy Wonka!\nThe amazing chocolatier!")


@pytest.mark.parametrize("line, text", [
    ("CUT TO:", "CUT TO:"),
    ("SMASH CUT TO:", "SMASH CUT TO:"),
    ("> Burn to white.", "BURN TO WHITE."),
    ("FADE OUT.", "FADE OUT."),
    ("FADE TO BLACK.", "FADE TO BLACK."),
    ("CUT TO BLACK.", "CUT TO BLACK."),
    ("        DISSOLVE TO:", "DISSOLVE TO:"),
])
def test_transitions(line, text):
    transition = only(SCENE + f"BOB\nHi.\n\n{line}\n\nINT. HALL - DAY\n", "transition")
    assert (transition.text, transition.line) == (text, 6)


def test_lower_case_to_colon_is_action():
    assert body(SCENE + "BOB\nHi.\n\nfade to:\n")[-1].kind == "action"


def test_centered_text():
    centered = only(SCENE + "BOB\nHi.\n\n>THE END<\n", "centered")
    assert (centered.text, centered.line) == ("THE END", 6)
    two = only(SCENE + "BOB\nHi.\n\n> ONE <\n>  TWO<\n", "centered")
    assert two.text == "ONE\nTWO"


# --- notes, boneyard, sections, synopses, page breaks ------------------------------------------

def test_notes_inline_standalone_and_multi_line():
    elements = body(SCENE + "He waits. [[Too slow?]] Then leaves.\n\n[[Standalone note]]\n\n"
                    "BOB\nHi. [[Loud.\nReally loud.]]\n")
    assert [(e.kind, e.line, e.text) for e in elements[1:]] == [
        ("action", 3, "He waits. Then leaves."),
        ("note", 3, "Too slow?"),
        ("note", 5, "Standalone note"),
        ("dialogue", 7, "Hi."),
        ("note", 8, "Loud.\nReally loud."),
    ]


def test_note_with_two_spaces_spans_an_empty_line():
    note = only(SCENE + "BOB\nHi.\n\n[[First part\n  \nsecond part]]\n", "note")
    assert (note.text, note.line) == ("First part\nsecond part", 6)


def test_note_on_its_own_line_inside_dialogue_leaves_no_gap():
    dialogue = only(SCENE + "BOB\nHi.\n[[aside]]\nThere.\n", "dialogue")
    assert dialogue.parts == (("speech", "Hi. There."),)


def test_boneyard_over_several_paragraphs_keeps_line_numbers():
    elements = body(SCENE + "/* Cut:\n\nBOB\nOld line.\n*/\nALICE\nNew line.\n\n"
                    "Inline /* hidden */ comment.\n")
    assert [(e.kind, e.line, e.text) for e in elements[1:]] == [
        ("dialogue", 8, "New line."), ("action", 11, "Inline comment.")]
    assert all(e.character != "BOB" for e in elements)


def test_sections_have_levels():
    elements = body("# Act One\n\n## Sequence\n\n### Scene group\n\n" + SCENE + "BOB\nHi.\n")
    assert [(e.kind, e.text, e.level, e.line) for e in elements[:3]] == [
        ("section", "Act One", 1, 1), ("section", "Sequence", 2, 3),
        ("section", "Scene group", 3, 5)]


def test_synopses_are_elements_even_with_nothing_before_them():
    elements = body("= The story starts here.\n\n# Act One\n= Bob arrives.\n\n" + SCENE
                    + "= Bob says hi.\n\nBOB\nHi.\n")
    assert [(e.kind, e.text, e.line) for e in elements[:5]] == [
        ("synopsis", "The story starts here.", 1), ("section", "Act One", 3),
        ("synopsis", "Bob arrives.", 4), ("heading", "INT. HOUSE - DAY", 6),
        ("synopsis", "Bob says hi.", 8)]


def test_page_break():
    elements = body(SCENE + "BOB\nHi.\n\n===\n\nINT. HALL - NIGHT\n\n=====\n")
    assert [(e.kind, e.line) for e in elements if e.kind == "page_break"] == [("page_break", 6),
                                                                               ("page_break", 10)]


# --- emphasis ----------------------------------------------------------------------------------

def test_emphasis_markers_are_removed_from_text_and_kept_in_raw():
    source = ("*italic* **bold** ***bold italic*** _underline_ "
              "\\*not italic\\* and \\_not underlined\\_")
    action = only(SCENE + source + "\n\nBOB\n*Hi* _there_.\n", "action")
    assert action.text == ("italic bold bold italic underline *not italic* and "
                           "_not underlined_")
    assert action.raw == source
    assert only(SCENE + "BOB\n*Hi* _there_.\n", "dialogue").text == "Hi there."


# --- whole documents ---------------------------------------------------------------------------

def test_every_element_kind_in_one_file():
    play = load_screenplay(DATA / "all_elements.fountain")
    assert play.source == str(DATA / "all_elements.fountain")
    assert play.title == "LAST TRAIN A Test Script"
    assert play.title_page["contact"] == "ada@example.com"
    assert [(e.kind, e.line) for e in play.elements] == [
        ("section", 10), ("synopsis", 12), ("section", 14), ("heading", 16), ("action", 18),
        ("note", 18), ("action", 24), ("dialogue", 26), ("dialogue", 32), ("dialogue", 35),
        ("dialogue", 38), ("lyric", 41), ("centered", 44), ("transition", 46), ("heading", 48),
        ("heading", 50), ("action", 51), ("transition", 53), ("page_break", 55), ("note", 57),
        ("action", 60), ("transition", 62)]
    kinds = {e.kind for e in play.elements}
    assert kinds == {"heading", "action", "dialogue", "transition", "centered", "section",
                     "synopsis", "page_break", "note", "lyric"}
    heading = play.elements[3]
    assert (heading.scene_number, heading.location) == ("1", "SUBWAY PLATFORM")
    assert play.elements[4].text == "A tiled platform. A CLOCK reads 11:58."
    assert [e.dual for e in play.elements if e.kind == "dialogue"] == [False, False, True, False]


def test_scenes_group_elements_under_their_heading():
    play = parse_fountain("Before any scene.\n\n" + SCENE + "BOB\nHi.\n\nEXT. YARD - NIGHT\n\n"
                          "Crickets.\n")
    scenes = play.scenes()
    assert [(h.text, [e.kind for e in rest]) for h, rest in scenes] == [
        ("INT. HOUSE - DAY", ["dialogue"]), ("EXT. YARD - NIGHT", ["action"])]


def test_windows_line_endings_and_tabs_keep_line_numbers():
    play = parse_fountain("Title: T\r\n\r\nINT. HOUSE - DAY\r\n\r\nBOB\r\n\tHi.\r\n\r\nCUT TO:\r\n")
    assert [(e.kind, e.line) for e in play.elements] == [("heading", 3), ("dialogue", 5),
                                                        ("transition", 8)]
    assert play.elements[1].text == "Hi."


@pytest.mark.parametrize("name, headings, speakers, last", [
    ("coffee_shop", ["INT. CORNER CAFE - MORNING"], {"MAYA", "DANIEL"}, "FADE OUT."),
    ("hallway_argument", ["INT. OFFICE HALLWAY - DAY"], {"PRIYA", "TOM", "LENA"}, "CUT TO BLACK."),
    ("rooftop_monologue", ["EXT. APARTMENT ROOFTOP - NIGHT"], {"JONAH", "ROSA"}, "FADE OUT."),
])
def test_shared_samples(samples, name, headings, speakers, last):
    play = load_screenplay(samples / f"{name}.fountain")
    assert play.title and play.title_page["author"] == "FilmCrew sample"
    assert [h.text for h, _ in play.scenes()] == headings
    assert {e.character for e in play.elements if e.kind == "dialogue"} == speakers
    assert (play.elements[-1].kind, play.elements[-1].text) == ("transition", last)
    assert all(not e.extensions for e in play.elements
               if e.kind == "dialogue" and e.character != "JONAH")
    for element in play.elements:
        if element.kind == "dialogue":
            assert element.text and "(" not in element.text and element.character.isupper()


def test_coffee_shop_parentheticals(samples):
    play = load_screenplay(samples / "coffee_shop.fountain")
    assert [(e.character, e.parenthetical, e.line) for e in play.elements
            if e.kind == "dialogue" and e.parenthetical] == [
        ("MAYA", "without looking up", 14), ("MAYA", "leaning back", 31),
        ("MAYA", "to the counter", 42)]


# --- errors ------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    assert "no such file" in load_error(tmp_path / "nope.fountain")


def test_directory(tmp_path):
    message = load_error(tmp_path)
    assert str(tmp_path) in message and "directory" in message


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "locked.fountain"
    path.write_text(SCENE)

    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert "permission denied" in load_error(path)


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin1.fountain"
    path.write_bytes("INT. CAFÉ - DAY\n\nBOB\n".encode() + b"Caf\xe9?\n")  # Latin-1 é
    message = load_error(path)
    assert message.startswith(f"{path}:4:") and "UTF-8" in message and "0xe9" in message


def test_binary_file(tmp_path):
    path = tmp_path / "image.fountain"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    message = load_error(path)
    assert "binary" in message and message.startswith(f"{path}:3:")


def test_utf16_file(tmp_path):
    path = tmp_path / "wide.fountain"
    path.write_text(SCENE + "BOB\nHi.\n", encoding="utf-16")
    assert "UTF-16" in load_error(path)


def test_utf8_with_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "bom.fountain"
    path.write_text("Title: T\n\n" + SCENE + "BOB\nHi.\n", encoding="utf-8-sig")
    assert load_screenplay(path).title == "T"


@pytest.mark.parametrize("text", ["", "   \n\n\t\n"])
def test_empty_file(tmp_path, text):
    path = tmp_path / "empty.fountain"
    path.write_text(text)
    message = load_error(path)
    assert message == f"{path}: the screenplay is empty"


def test_title_page_only():
    assert "title page but nothing after it" in error_of("Title: Nothing\nAuthor: Me\n\n\n")


def test_only_boneyard():
    assert "empty" in error_of("/* everything\n\ncut */\n")


def test_json_file_is_refused():
    message = load_error(DATA / "not_fountain.json")
    assert "not a Fountain screenplay" in message and "JSON" in message


def test_python_file_is_refused():
    message = load_error(DATA / "not_fountain.py")
    assert "not a Fountain screenplay" in message and "no scene heading" in message
    assert "source code" in message


def test_action_only_text_is_refused():
    assert "no scene heading" in error_of("Just some prose.\n\nMore prose.\n")


def test_unterminated_boneyard_names_its_line():
    message = error_of(SCENE + "BOB\nHi.\n\n/* never closed\n\nALICE\nBye.\n")
    assert message.startswith("x.fountain:6:") and "boneyard" in message


def test_unterminated_note_names_its_line():
    message = error_of(SCENE + "BOB\nHi. [[open note\n\nstill open]]\n")
    assert message.startswith("x.fountain:4:") and "note" in message


# --- export ------------------------------------------------------------------------------------

def test_write_pdf(tmp_path):
    play = load_screenplay(DATA / "all_elements.fountain")
    out = tmp_path / "out" / "screenplay.pdf"
    write_pdf(play, out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 10_000
    # Title page, the script, and a page after the "===" page break.
    assert re.findall(rb"/Count (\d+)", data) == [b"3"]
    assert b"LAST TRAIN A Test Script" in data  # document title metadata
    assert not list(tmp_path.glob("out/.*.tmp"))


def test_write_pdf_of_a_sample(tmp_path, samples):
    out = tmp_path / "screenplay.pdf"
    write_pdf(load_screenplay(samples / "coffee_shop.fountain"), out)
    assert out.read_bytes().startswith(b"%PDF")


def test_write_fdx(tmp_path):
    play = load_screenplay(DATA / "all_elements.fountain")
    out = tmp_path / "screenplay.fdx"
    write_fdx(play, out)
    root = ET.parse(out).getroot()
    types = [p.get("Type") for p in root.iter("Paragraph")]
    assert types[:3] == ["Scene Heading", "Action", "Action"]
    assert "Lyric" not in types and root.find(".//DualDialogue") is not None
    texts = "".join(t.text or "" for t in root.iter("Text"))
    assert "Check the tile colour" not in texts and "ACT ONE" not in texts
    assert "FADE TO BLACK." in texts and "Last train, last train," in texts


def test_screenplay_is_immutable():
    play = parse_fountain(SCENE + "BOB\nHi.\n")
    assert isinstance(play, Screenplay)
    with pytest.raises(AttributeError):
        play.elements[0].text = "changed"  # type: ignore[misc]
