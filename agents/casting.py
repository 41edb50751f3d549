"""Casting from screenplay text: who is in it, how old, which gender, what they wear.

Deterministic rules over the Fountain elements; no LLM. A character's description is the
parenthesis after their introduction in caps, e.g. ``MAYA (30s, tired, sharp)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..plan.model import Appearance, Character, Outfit, Voice
from ..screenplay import Element

INTRO = re.compile(r"\b([A-Z][A-Z'\-]+(?: [A-Z][A-Z'\-]+)?)\s*\(([^)]*)\)")
_DECADE = re.compile(r"\b(early|mid|late)?[\s-]*(\d0)s\b", re.I)
_NUMBER_AGE = re.compile(r"^\s*(\d{1,2})\s*$|\b(\d{1,2})\s*(?:years? old|yo|y/o)\b", re.I)
_AGE_WORDS = {
    "baby": 2, "toddler": 3, "child": 8, "kid": 9, "boy": 10, "girl": 10, "teen": 16,
    "teens": 16, "teenage": 16, "teenager": 16, "young": 24, "middle-aged": 48, "old": 72,
    "elderly": 76, "elder": 74, "grandpa": 70, "grandma": 70, "grandfather": 72,
    "grandmother": 72,
}
_MALE_WORDS = {"he", "him", "his", "himself", "man", "boy", "guy", "father", "dad", "grandpa",
               "grandfather", "husband", "son", "brother", "uncle", "mr", "sir", "gentleman"}
_FEMALE_WORDS = {"she", "her", "hers", "herself", "woman", "girl", "lady", "mother", "mom",
                 "grandma", "grandmother", "wife", "daughter", "sister", "aunt", "mrs", "ms"}
# Fallback when the text never says: a short list of common given names.
_FEMALE_NAMES = {"maya", "priya", "lena", "rosa", "anna", "maria", "sarah", "emma", "olivia",
                 "sophie", "julia", "laura", "nina", "grace", "alice", "clara", "eva", "mia",
                 "zoe", "lucy", "kate", "jane", "amy", "ruth", "helen", "linda", "susan"}
_MALE_NAMES = {"daniel", "tom", "jonah", "john", "david", "james", "michael", "peter", "paul",
               "mark", "sam", "ben", "jack", "leo", "max", "adam", "noah", "luke", "alex",
               "oscar", "victor", "frank", "george", "henry", "omar", "raj", "carlos"}
_BUILD_WORDS = {"heavy": (0.85, 0.4), "stocky": (0.75, 0.65), "fat": (0.9, 0.3),
                "thin": (0.15, 0.35), "skinny": (0.1, 0.3), "slim": (0.25, 0.45),
                "athletic": (0.45, 0.85), "muscular": (0.55, 0.95), "burly": (0.75, 0.85),
                "wiry": (0.2, 0.6), "frail": (0.15, 0.15)}
_TOPS = ["#3b6ea5", "#a83a32", "#4f7d3a", "#c98a2b", "#6b4c9a", "#2d8b8b", "#8c5a3c", "#b0485f"]
_BOTTOMS = ["#2f2f38", "#4a4035", "#1f2f4a", "#5a5a5a", "#3a3328", "#24343a"]
_HAIR = ["#2a1d14", "#4a3020", "#1a1a1a", "#7a5a36", "#3a2a1a"]
_SKIN = ["#c8a08a", "#8d5b3e", "#e0b99f", "#a8785a", "#6b4430", "#d6a987"]


def character_id(name: str) -> str:
    """Plan id of a cue name: upper case, non-alphanumerics as underscores."""
    return re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") or "CHARACTER"


@dataclass
class CastNotes:
    """What the text says about one character, gathered before casting."""

    name: str
    description: str = ""
    first_line: int = 0
    male_votes: int = 0
    female_votes: int = 0
    words: list[str] = field(default_factory=list)


def age_from_text(text: str) -> float | None:
    """Age in years from a description such as "30s", "late 40s", "teens", "8" or "elderly"."""
    match = _DECADE.search(text)
    if match:
        decade = int(match.group(2))
        return decade + {"early": 2.0, "mid": 5.0, "late": 8.0}.get((match.group(1) or "mid").lower(), 5.0)
    for part in text.split(","):
        number = _NUMBER_AGE.search(part)
        if number:
            return float(number.group(1) or number.group(2))
    for word in re.findall(r"[a-z\-]+", text.lower()):
        if word in _AGE_WORDS:
            return float(_AGE_WORDS[word])
    return None


def _gender_vote(words: list[str]) -> tuple[int, int]:
    male = sum(w in _MALE_WORDS for w in words)
    female = sum(w in _FEMALE_WORDS for w in words)
    return male, female


def collect_cast(elements: list[Element]) -> dict[str, CastNotes]:
    """Every character with dialogue or an introduction in caps, keyed by plan id."""
    notes: dict[str, CastNotes] = {}

    def note(name: str, line: int) -> CastNotes:
        cid = character_id(name)
        if cid not in notes:
            notes[cid] = CastNotes(name=name.title(), first_line=line)
        return notes[cid]

    speakers = {character_id(e.character) for e in elements if e.kind == "dialogue"}
    for element in elements:
        if element.kind == "dialogue":
            entry = note(element.character, element.line)
            paren_words = re.findall(r"[a-z]+", " ".join(t for k, t in element.parts if k == "paren").lower())
            male, female = _gender_vote(paren_words)
            entry.male_votes += 2 * male  # "(to himself)" speaks of the speaker
            entry.female_votes += 2 * female
        elif element.kind == "action":
            for match in INTRO.finditer(element.text):
                name, description = match.group(1), match.group(2)
                if character_id(name) in speakers or age_from_text(description) is not None:
                    entry = note(name, element.line)
                    entry.description = entry.description or description
    _vote_pronouns(elements, notes)
    return notes


def _vote_pronouns(elements: list[Element], notes: dict[str, CastNotes]) -> None:
    """Subject pronouns at a sentence start refer to the last character named as a subject."""
    names = {n.name.lower(): cid for cid, n in notes.items()}
    for element in elements:
        if element.kind != "action":
            continue
        last: str | None = None
        for sentence in re.split(r"(?<=[.!?])\s+", INTRO.sub(r"\1", element.text)):
            words = re.findall(r"[A-Za-z']+", sentence)
            if not words:
                continue
            first = words[0].lower()
            if first in names:
                last = names[first]
                own = notes[last]
                desc_words = re.findall(r"[a-z]+", own.description.lower())
                male, female = _gender_vote(desc_words)
                own.male_votes += 3 * male
                own.female_votes += 3 * female
            elif first in ("he", "she") and last:
                if first == "he":
                    notes[last].male_votes += 1
                else:
                    notes[last].female_votes += 1


def gender_of(notes: CastNotes) -> float:
    if notes.male_votes != notes.female_votes:
        return 1.0 if notes.male_votes > notes.female_votes else 0.0
    first = notes.name.split()[0].lower()
    if first in _MALE_NAMES:
        return 1.0
    if first in _FEMALE_NAMES:
        return 0.0
    return 0.5


def _build(description: str) -> tuple[float, float]:
    for word in re.findall(r"[a-z]+", description.lower()):
        if word in _BUILD_WORDS:
            return _BUILD_WORDS[word]
    return 0.5, 0.5


def cast_character(cid: str, notes: CastNotes, index: int) -> Character:
    """A plan character from the notes; colours rotate through palettes so no two match."""
    age = age_from_text(notes.description) or 35.0
    gender = gender_of(notes)
    weight, muscle = _build(notes.description)
    hair = "#9a9a96" if age >= 60 else _HAIR[index % len(_HAIR)]
    appearance = Appearance(
        gender=gender, age_years=age, weight=weight, muscle=muscle,
        height=0.55 if gender >= 0.5 else 0.45, proportions=0.5,
        skin_tone=_SKIN[index % len(_SKIN)],
        outfit=Outfit(top=_TOPS[index % len(_TOPS)], bottom=_BOTTOMS[index % len(_BOTTOMS)],
                      shoes="#1d1a18" if index % 2 == 0 else "#5a3a22", hair=hair),
    )
    pitch = 30 if gender > 0.5 else 70 if gender < 0.5 else 50
    if age < 14:
        pitch = min(99, pitch + 20)
    voice = Voice(variant="m3" if gender >= 0.5 else "f3", pitch=pitch,
                  words_per_minute=140 if age >= 60 else 175 if age < 20 else 160)
    profile = notes.description.strip()
    return Character(id=cid, name=notes.name, profile=profile, appearance=appearance, voice=voice)
