"""Reading action lines: sentences into (subjects, verb, rest) clauses.

Pure text rules; resolving names, pronouns and places is the director's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CLAUSE = re.compile(r",\s*(?:and\s+)?(?:then\s+)?|\s+and\s+(?:then\s+)?|\s+then\s+")
_NEGATION = re.compile(r"^(?:does not|doesn't|do not|don't|did not|didn't|never|cannot|can't)\b\s*")
_FILLERS = {"both", "then", "also", "still", "finally", "just", "again", "slowly", "quickly",
            "suddenly", "immediately", "silently", "quietly", "all", "each", "now"}
_IRREGULAR = {"goes": "go", "does": "do", "has": "have", "is": "be", "are": "be",
              "staring": "stare", "holding": "hold", "looking": "look", "reading": "read",
              "walking": "walk", "pointing": "point", "leaning": "lean", "smiling": "smile",
              "sitting": "sit", "standing": "stand", "waving": "wave", "nodding": "nod",
              "shaking": "shake", "turning": "turn", "watching": "watch", "typing": "type",
              "gets": "get", "rises": "rise", "leaves": "leave", "closes": "close",
              "places": "place", "paces": "pace", "takes": "take", "continues": "continue",
              "raises": "raise", "glances": "glance", "shrugs": "shrug", "stares": "stare",
              "waves": "wave", "moves": "move", "approaches": "approach", "crosses": "cross",
              "reaches": "reach", "watches": "watch", "rushes": "rush", "pushes": "push",
              "wanders": "wander", "strides": "stride", "arrives": "arrive",
              "returns": "return", "enters": "enter", "exits": "exit", "hands": "hand",
              "offers": "offer", "opens": "open", "sighs": "sigh", "laughs": "laugh",
              "smiles": "smile", "nods": "nod", "shakes": "shake", "sips": "sip"}


@dataclass(frozen=True)
class Clause:
    """One verb phrase of a sentence, e.g. verb "walk", rest "to the counter"."""

    subject_text: str
    verb: str
    rest: str
    negated: bool
    sentence: str
    gerund: bool = False  # "holding a folder": manner, happening with the clause before


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.replace("\n", " ")) if s.strip()]


def lemma(word: str) -> str:
    """Base form of a verb as action lines use it ("hurries" -> "hurry")."""
    word = word.lower().strip(",.;:!?")
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def split_subject(sentence: str, names: list[str]) -> tuple[str, str]:
    """Split a sentence into its subject (names, pronouns) and its predicate."""
    pattern = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    subject_word = rf"(?:{pattern}|he|she|they|both of them)" if pattern else r"(?:he|she|they)"
    match = re.match(rf"^((?:{subject_word})(?:(?:\s*,\s*|\s+and\s+)(?:{subject_word}))*)\b\s*(.*)$",
                     sentence, re.I)
    if not match:
        return "", sentence
    return match.group(1), match.group(2)


def clauses(sentence: str, names: list[str]) -> list[Clause]:
    """The verb clauses of a sentence; clauses without a verb of their own reuse the last one."""
    subject, predicate = split_subject(sentence.rstrip(".!?"), names)
    result: list[Clause] = []
    negated = False
    for raw in _CLAUSE.split(predicate):
        words = raw.strip().split()
        while words and (words[0].lower() in _FILLERS or
                         (words[0].lower().endswith("ly") and len(words) > 1)):
            words.pop(0)
        text = " ".join(words)
        neg = _NEGATION.match(text.lower())
        if neg:
            negated, text = True, text[neg.end():]
            words = text.split()
        else:
            negated = False
        if not words:
            continue
        first = words[0].lower()
        if first in ("at", "to", "toward", "towards", "into", "on", "with") and result:
            previous = result[-1]
            result.append(Clause(subject, previous.verb, text, previous.negated, sentence))
            continue
        result.append(Clause(subject, lemma(first), " ".join(words[1:]), negated, sentence,
                             gerund=first.endswith("ing") and bool(result)))
    return result
