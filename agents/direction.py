"""Blocking one scene from its action lines: placements, moves and actions as plan beats.

The rules read each clause of an action line ("Daniel walks to Maya's table") and keep
track of where everyone is, so relative phrases ("across from her", "next to him",
"a few steps") resolve to concrete marks of the set.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property

from ..plan.actions import ACTIONS
from ..plan.model import ActionBeat, Character, DialogueBeat, Mark, MoveBeat, PauseBeat, Placement, SetSpec
from ..screenplay import Element
from ..staging.blocking import ARRIVE_SECONDS, TURN_SECONDS
from ..staging.paths import ACCELERATION_TIME, Floor, PathError, Walker
from ..staging.sets import find_mark
from .action_text import Clause, clauses, sentences

WALK_SPEED = 1.3  # m/s, an unhurried adult
WALK_OVERHEAD = TURN_SECONDS + ARRIVE_SECONDS + ACCELERATION_TIME
"""Seconds a walk spends turning to set off, turning to the mark's way, and speeding up and slowing."""
MOVE_VERBS = {"walk", "hurry", "run", "go", "cross", "move", "head", "step", "rush", "stride",
              "wander", "approach", "come", "continue", "pace", "return", "follow", "make"}
FAST_WORDS = {"fast", "quickly", "hurry", "rush", "run", "briskly"}
LOOK_VERBS = {"look", "watch", "stare", "glance", "gaze", "scan", "observe", "study", "read"}
SIMPLE_ACTIONS = {"nod": "nod", "shrug": "shrug", "wave": "wave", "lean": "lean", "open": "open",
                  "close": "close", "take": "take", "pick": "take", "grab": "take", "hold": "hold",
                  "give": "give", "hand": "give", "offer": "give", "place": "give", "put": "give",
                  "slide": "give", "point": "point", "turn": "turn", "stop": "stop", "stay": "stay",
                  "remain": "stay", "wait": "stay", "smile": "react", "laugh": "react",
                  "sigh": "react", "frown": "react", "cry": "react", "sip": "react",
                  "drink": "react", "type": "react", "shake": "shake_head"}
_BODY_PART = r"\b(face|chin|forehead|eyes|mouth|temple|temples|neck|head|cheek|nose|brow)\b"
GESTURES = (  # (verbs, pattern the rest of the clause must match, action): checked before moves
    (("cross", "fold"), r"^(his|her|their)\s+arms", "arms_crossed"),
    (("shake",), r"\bhands?\b", "handshake"),
    (("crouch", "kneel", "squat", "duck"), r"", "crouch"),
    (("put", "place", "rest", "plant"), r"\bhands? on (his|her|their) hips", "hands_on_hips"),
    (("rub", "touch", "scratch", "cover", "cup", "press", "put", "rest"), _BODY_PART, "hand_to_face"),
    (("extend", "offer", "hold", "reach", "stretch"), r"\b(a|his|her|their)\s+hand\b|^out\s+(a|his|her|their)\s+hand",
     "offer_hand"),
)
PAREN_ACTIONS = {"leaning": "lean", "nodding": "nod", "shrugging": "shrug", "waving": "wave",
                 "pointing": "point", "turning": "turn"}
_PRONOUNS = {"he": 1.0, "him": 1.0, "his": 1.0, "she": 0.0, "her": 0.0}


def gesture_action(verb: str, rest: str) -> str | None:
    """The gesture of the motion library a clause names ("crosses her arms"), or None."""
    for verbs, pattern, action in GESTURES:
        if verb in verbs and re.search(pattern, rest.lower()):
            return action
    return None


@dataclass
class Actor:
    """Where one character is while the scene is being blocked."""

    cid: str
    gender: float
    slow: bool
    mark: str | None = None
    posture: str = "stand"
    present: bool = True
    placed: bool = False


@dataclass
class SceneBlocker:
    """Turns one scene's elements into beats and start placements."""

    set_spec: SetSpec
    characters: dict[str, Character]
    cast: list[str]
    beats: list = field(default_factory=list)
    start: list[Placement] = field(default_factory=list)
    actors: dict[str, Actor] = field(default_factory=dict)
    last_subjects: list[str] = field(default_factory=list)
    last_speaker: str | None = None
    last_point_target: str | None = None
    in_opening: bool = True
    following: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for cid in self.cast:
            appearance = self.characters[cid].appearance
            slow = appearance.age_years >= 60 or "slow" in self.characters[cid].profile.lower()
            self.actors[cid] = Actor(cid=cid, gender=appearance.gender, slow=slow)
        self.names = {self.characters[c].name.lower(): c for c in self.cast}
        self.names.update({c.lower(): c for c in self.cast})

    # --- marks -------------------------------------------------------------------------
    def _pos(self, mark_id: str) -> tuple[float, float]:
        return self.set_spec.mark(mark_id).position

    def _occupied(self, exclude: str | None = None) -> set[str]:
        return {a.mark for a in self.actors.values()
                if a.mark and a.present and a.placed and a.cid != exclude}

    def _free_marks(self, cid: str, kind: str | None = None) -> list[Mark]:
        taken = self._occupied(exclude=cid)
        return [m for m in self.set_spec.marks
                if m.id not in taken and (kind is None or m.kind == kind) and m.id != "door"]

    def _nearest(self, marks: list[Mark], point: tuple[float, float]) -> Mark | None:
        return min(marks, key=lambda m: math.dist(m.position, point), default=None)

    def _door(self) -> Mark:
        doors = [m for m in self.set_spec.marks if m.id == "door" or m.id.startswith("door")]
        return doors[0] if doors else self.set_spec.marks[0]

    def _place(self, cid: str, mark: str, posture: str = "stand", present: bool = True) -> None:
        actor = self.actors[cid]
        actor.mark, actor.posture, actor.present, actor.placed = mark, posture, present, True
        self.start = [p for p in self.start if p.character != cid]
        self.start.append(Placement(character=cid, mark=mark, posture=posture, present=present))

    def ensure_placed(self, cid: str) -> None:
        """Characters the action never places stand near the others, facing them."""
        if self.actors[cid].placed:
            return
        others = [self._pos(a.mark) for a in self.actors.values() if a.placed and a.mark]
        centre = (sum(p[0] for p in others) / len(others), sum(p[1] for p in others) / len(others)) \
            if others else (0.0, 0.0)
        mark = self._nearest(self._free_marks(cid, "stand"), centre) or self._door()
        self._place(cid, mark.id)

    # --- people ------------------------------------------------------------------------
    def _resolve_people(self, text: str, subject: str | None = None) -> list[str]:
        """Characters named or referred to by pronouns in ``text``, in order."""
        found: list[str] = []
        for word in re.findall(r"[A-Za-z']+", text):
            low = word.lower().removesuffix("'s")
            if low in self.names:
                found.append(self.names[low])
            elif low in ("they", "both", "them"):
                group = self.last_subjects if len(self.last_subjects) > 1 else \
                    [c for c in self.cast if self.actors[c].present and self.actors[c].placed]
                found.extend(c for c in group if c not in found)
            elif low in _PRONOUNS:
                objective = low in ("him", "her") and subject is not None
                match = self._pronoun(_PRONOUNS[low], never=subject if objective else None,
                                      avoid={subject, *self.last_subjects} if objective else set())
                if match:
                    found.append(match)
        return list(dict.fromkeys(found))

    def _pronoun(self, gender: float, *, avoid: set, never: str | None) -> str | None:
        """Most recent character of that gender; objects avoid the sentence's subjects
        ("her" in "Priya and Tom turn to face her" is neither of them)."""
        recent = self.last_subjects + [self.last_speaker or ""] + list(self.actors)
        matches = [c for c in recent if c and c in self.actors and abs(self.actors[c].gender - gender) < 0.51]
        preferred = [c for c in matches if c not in avoid]
        fallback = [c for c in matches if c != never]
        return (preferred or fallback or [None])[0]

    # --- beats -------------------------------------------------------------------------
    def _add(self, beat, *, parallel: bool = False) -> None:
        beat.parallel = parallel and bool(self.beats)
        self.beats.append(beat)

    def _move(self, cid: str, mark: Mark, *, line: int, text: str, fast: bool, parallel: bool) -> None:
        actor = self.actors[cid]
        if not actor.placed:
            start = self._start_mark_for(cid, mark)
            self._place(cid, start.id)
        if actor.mark == mark.id:
            return
        if actor.posture == "sit":
            self._add(ActionBeat(character=cid, action="stand_up", duration=ACTIONS["stand_up"].seconds,
                                 line=line, text=text))
            actor.posture = "stand"
        speed = WALK_SPEED * (1.45 if fast else 1.0) * (0.7 if actor.slow else 1.0)
        distance = self._walk_length(self._pos(actor.mark), mark)
        self._add(MoveBeat(character=cid, to_mark=mark.id, duration=round(distance / speed + WALK_OVERHEAD, 2),
                           line=line, text=text), parallel=parallel)
        actor.mark = mark.id

    @cached_property
    def walker(self) -> Walker:
        """Routes on this scene's set, as staging will plan them."""
        return Walker(Floor(self.set_spec))

    def _walk_length(self, start: tuple[float, float], mark: Mark) -> float:
        """How far the walk to ``mark`` is along the route staging will plan (around furniture,
        to the spot in front of a seat); the straight line when no route is found here (staging
        then reports the beat)."""
        goal = self.walker.standing_spot(mark) if mark.kind == "sit" else None
        goal = goal or mark.position
        try:
            route = self.walker.route(start=start, goal=goal, where="direction", goal_name=mark.id)
        except PathError:
            return math.dist(start, goal)
        return route.length

    def _start_mark_for(self, cid: str, target: Mark) -> Mark:
        """Where someone who is first seen walking starts: far from where they go."""
        leaders = [a for a in self.actors.values() if a.placed and a.cid != cid]
        starts = {p.mark for p in self.start}
        free = [m for m in self._free_marks(cid, "stand") if m.id != target.id and m.id not in starts]
        if leaders:
            anchor = self._pos(self.start[-1].mark) if self.start else target.position
            return self._nearest(free, anchor) or target
        return max(free, key=lambda m: math.dist(m.position, target.position), default=target)

    def _action(self, cid: str, action: str, *, line: int, text: str, target: str | None = None,
                parallel: bool = False) -> None:
        self.ensure_placed(cid)
        self._add(ActionBeat(character=cid, action=action, target=target, line=line, text=text,
                             duration=ACTIONS[action].seconds), parallel=parallel)

    # --- target phrases ----------------------------------------------------------------
    def _mark_for_phrase(self, cid: str, phrase: str, kind: str | None = None) -> Mark | None:
        """A mark for "Maya's table", "the counter", "across from her", "next to him"."""
        people = self._resolve_people(phrase, subject=cid)
        relational = re.search(r"\b(across from|opposite|next to|beside|near|by|with)\b", phrase)
        possessive = re.search(r"([A-Za-z]+)'s\b", phrase)
        if people and (relational or possessive):
            other = self.actors[people[0]]
            self.ensure_placed(other.cid)
            anchor = self.set_spec.mark(other.mark)
            candidates = self._free_marks(cid, kind)
            place = find_mark(self.set_spec, re.sub(r"\b(across from|next to|beside|near)\b.*", "", phrase))
            if place is not None and place.prop:
                same_kind = [m for m in candidates if m.kind == place.kind]
                candidates = same_kind or candidates
            if relational and relational.group(1) in ("across from", "opposite") or possessive:
                facing = [m for m in candidates if _faces_towards(m, anchor)] or candidates
                return self._nearest(facing, anchor.position)
            return self._nearest(candidates, anchor.position)
        mark = find_mark(self.set_spec, phrase) if phrase.strip() else None
        if mark is not None and kind is not None and mark.kind != kind:
            siblings = [m for m in self._free_marks(cid, kind)
                        if mark.prop and m.prop == mark.prop or math.dist(m.position, mark.position) < 1.5]
            mark = self._nearest(siblings, mark.position) or None
        if mark is not None and mark.id in self._occupied(exclude=cid):
            free = self._free_marks(cid, mark.kind)
            mark = self._nearest(free, mark.position)
        return mark

    def _far_mark(self, cid: str, away_from: list[str]) -> Mark | None:
        actor = self.actors[cid]
        here = self._pos(actor.mark) if actor.mark else (0.0, 0.0)
        others = [self._pos(self.actors[o].mark) for o in away_from if self.actors[o].mark]
        free = self._free_marks(cid, "stand")
        if not free:
            return None

        def score(m: Mark) -> float:
            gain = min((math.dist(m.position, o) for o in others), default=0.0)
            return gain + 0.2 * math.dist(m.position, here)
        return max(free, key=score)

    def _steps_ahead(self, cid: str) -> Mark | None:
        """A free stand mark 1-3.5 m ahead of where the character last walked."""
        actor = self.actors[cid]
        moves = [b for b in self.beats if isinstance(b, MoveBeat) and b.character == cid]
        if not actor.mark or not moves:
            return None
        here = self._pos(actor.mark)
        previous = [s.mark for s in self.start if s.character == cid]
        origin = self._pos(moves[-2].to_mark) if len(moves) > 1 else self._pos(previous[0])
        heading = (here[0] - origin[0], here[1] - origin[1])
        norm = math.hypot(*heading) or 1.0
        ahead = [m for m in self._free_marks(cid, "stand")
                 if 1.0 <= ((m.position[0] - here[0]) * heading[0] + (m.position[1] - here[1]) * heading[1]) / norm <= 3.5]
        return self._nearest(ahead, here)

    # --- clauses -------------------------------------------------------------------------
    def action_element(self, element: Element) -> None:
        for sentence in sentences(re.sub(r"\s*\([^)]*\)", "", element.text)):
            self.sentence(sentence, element.line)

    def sentence(self, sentence: str, line: int) -> None:
        parts = clauses(sentence, list(self.names))
        if not parts or not parts[0].subject_text:
            if re.search(r"\b(pause|beat|silence|moment)\b", sentence, re.I):
                long = re.search(r"\b(long|awkward|heavy)\b", sentence, re.I)
                self._add(PauseBeat(duration=3.0 if long else 1.5, line=line, text=sentence))
            return
        subjects = self._resolve_people(parts[0].subject_text)
        if not subjects:
            return
        self.last_subjects = subjects
        for index, clause in enumerate(parts):
            if clause.negated:
                continue
            following = parts[index + 1] if index + 1 < len(parts) else None
            for position, cid in enumerate(subjects):
                self.clause(cid, clause, following, line=line, parallel=position > 0)

    def clause(self, cid: str, clause: Clause, following: Clause | None, *, line: int,
               parallel: bool) -> None:
        verb, rest, text = clause.verb, clause.rest, clause.sentence
        parallel = parallel or clause.gerund
        actor = self.actors[cid]
        if verb in ("enter", "arrive", "appear") or (verb in ("step", "come", "walk") and
                                                     re.match(r"^(out|in|inside)\b", rest)):
            self._enter(cid, line=line, text=text, phrase=rest)
        elif verb in ("leave", "exit") or (verb in MOVE_VERBS and re.match(r"^(out)\b", rest)):
            door = self._door()
            self._move(cid, door, line=line, text=text, fast=False, parallel=parallel)
            self._action(cid, "exit", line=line, text=text, target=door.id)
            actor.present = False
        elif verb == "sit":
            self._sit(cid, rest, line=line, text=text, parallel=parallel)
        elif verb in ("stand", "rise", "get") and re.match(r"^(up)\b", rest or "up"):
            if self.in_opening and not actor.placed:
                self._place(cid, (self._free_marks(cid, "stand") or [self._door()])[0].id)
            elif actor.posture == "sit":
                self._action(cid, "stand_up", line=line, text=text, parallel=parallel)
                actor.posture = "stand"
        elif verb in ("stand", "stay", "remain", "wait") and rest and not rest.startswith("seated"):
            self._go_to_phrase(cid, rest, line=line, text=text, parallel=parallel, kind="stand")
        elif verb == "follow" and re.match(r"^(his|her|their)\s+(finger|gaze|eyes|look)", rest):
            self._action(cid, "look", line=line, text=text, target=self.last_point_target,
                         parallel=parallel)
        elif gesture_action(verb, rest):
            action = gesture_action(verb, rest)
            self._action(cid, action, line=line, text=text, parallel=parallel,
                         target=self._target(cid, rest, glance=action in ("handshake", "offer_hand")))
        elif verb in MOVE_VERBS:
            self._walk(cid, verb, rest, following, line=line, text=text, parallel=parallel)
        elif verb in LOOK_VERBS:
            self._action(cid, "look", line=line, text=text, parallel=parallel,
                         target=self._target(cid, rest, glance=True))
        elif verb in SIMPLE_ACTIONS:
            action = "give" if verb == "hold" and rest.startswith("out") else SIMPLE_ACTIONS[verb]
            target = self._target(cid, rest, glance=action in ("turn", "point", "nod"))
            if action == "point":
                self.last_point_target = target
            if action == "turn" and actor.posture == "sit" and not target:
                return
            self._action(cid, action, line=line, text=text, target=target, parallel=parallel)

    def _target(self, cid: str, phrase: str, *, glance: bool) -> str | None:
        """A character or mark the phrase names; a bare glance ("looks up") meets the last speaker."""
        people = [p for p in self._resolve_people(phrase, subject=cid) if p != cid]
        if people and not re.search(r"\b(his|her|their)\s+\w+", phrase):
            return people[0]
        mark = None
        if phrase.strip():
            mark = find_mark(self.set_spec, phrase, kind="stand") or find_mark(self.set_spec, phrase)
        if mark is not None:
            return mark.id
        if people:
            return people[0]
        bare = phrase.strip().lower() in ("", "up", "over", "around", "back", "away")
        return self.last_speaker if glance and bare and self.last_speaker != cid else None

    def _enter(self, cid: str, *, line: int, text: str, phrase: str) -> None:
        door = find_mark(self.set_spec, phrase) if phrase else None
        if door is None or door.kind != "stand":
            door = self._door()
        actor = self.actors[cid]
        if not actor.placed or not actor.present:
            self._place(cid, door.id, present=False) if not actor.placed else None
            actor.mark = door.id
            self._action(cid, "enter", line=line, text=text, target=door.id)
            actor.present = True

    def _sit(self, cid: str, phrase: str, *, line: int, text: str, parallel: bool) -> None:
        actor = self.actors[cid]
        current = self.set_spec.mark(actor.mark) if actor.mark else None
        seat = self._mark_for_phrase(cid, phrase, kind="sit") if phrase else None
        if seat is None and current is not None and current.kind == "sit":
            seat = current
        if seat is None:
            here = current.position if current else (0.0, 0.0)
            seat = self._nearest(self._free_marks(cid, "sit"), here)
        if seat is None:
            return
        if self.in_opening and not actor.placed:
            self._place(cid, seat.id, posture="sit")
            return
        self._move(cid, seat, line=line, text=text, fast=False, parallel=parallel)
        if actor.posture != "sit":
            self._action(cid, "sit", line=line, text=text, target=seat.id)
            actor.posture = "sit"

    def _go_to_phrase(self, cid: str, phrase: str, *, line: int, text: str, parallel: bool,
                      kind: str | None) -> None:
        mark = self._mark_for_phrase(cid, phrase, kind=kind)
        actor = self.actors[cid]
        if mark is None:
            self.ensure_placed(cid)
            return
        if self.in_opening and not actor.placed:
            self._place(cid, mark.id)
            return
        if mark.id == actor.mark:
            self._action(cid, "stay", line=line, text=text, parallel=parallel)
            return
        self._move(cid, mark, line=line, text=text, fast=False, parallel=parallel)

    def _walk(self, cid: str, verb: str, rest: str, following: Clause | None, *, line: int,
              text: str, parallel: bool) -> None:
        fast = verb in FAST_WORDS or any(w in FAST_WORDS for w in rest.lower().split())
        destination: Mark | None = None
        if verb == "continue" or re.search(r"\b(a few|few|some) steps\b", rest) and verb != "follow":
            destination = self._steps_ahead(cid)
            parallel = parallel or (bool(self.beats) and isinstance(self.beats[-1], MoveBeat))
        elif verb == "follow" or re.match(r"^after\b", rest):
            leader = self._leader(cid, rest)
            self.following[cid] = leader
            if leader:
                destination = self._behind(cid, leader)
                parallel = True
        elif re.search(r"\b(away|down|along|up) (the )?(hall|hallway|corridor|street|path|road)\b|\baway\b", rest):
            others = [c for c in self.cast if c != cid and self.actors[c].present]
            destination = self._far_mark(cid, others) if self.actors[cid].placed \
                else self._down_the_set(cid)
        elif rest.strip() in ("", "over", "across", "in") and following and \
                following.verb in ("stand", "sit", "stop", "wait", "stay"):
            return  # "walks over and stands beside the chair": the next clause says where
        else:
            destination = self._mark_for_phrase(cid, re.sub(r"^(over )?(to|toward|towards|into|up to)\b", "", rest))
        if destination is not None:
            self._move(cid, destination, line=line, text=text, fast=fast, parallel=parallel)
        else:
            self.ensure_placed(cid)

    def _leader(self, cid: str, rest: str) -> str | None:
        people = [p for p in self._resolve_people(rest, subject=cid) if p != cid]
        if people:
            return people[0]
        movers = [b.character for b in reversed(self.beats) if isinstance(b, MoveBeat) and b.character != cid]
        return movers[0] if movers else None

    def _behind(self, cid: str, leader: str) -> Mark | None:
        """A free mark next to the leader's destination, on the side the follower comes from."""
        lead = self.actors[leader]
        self.ensure_placed(leader)
        target = self._pos(lead.mark)
        origin = self._pos(self.start[0].mark) if self.start else target
        candidates = [m for m in self._free_marks(cid, "stand") if m.id != lead.mark]
        closer = [m for m in candidates if math.dist(m.position, origin) < math.dist(target, origin)]
        return self._nearest(closer or candidates, target)

    def _down_the_set(self, cid: str) -> Mark | None:
        """First seen walking "down the hallway": start at one end, go about 6 m along it."""
        stands = self._free_marks(cid, "stand")
        if not stands:
            return None
        long_axis = 0 if self.set_spec.size[0] >= self.set_spec.size[1] else 1
        start = min(stands, key=lambda m: m.position[long_axis])
        self._place(cid, start.id)
        goal = start.position[long_axis] + 6.0
        return min((m for m in stands if m.id != start.id),
                   key=lambda m: abs(m.position[long_axis] - goal) + abs(m.position[1 - long_axis]),
                   default=None)

    # --- dialogue ------------------------------------------------------------------------
    def dialogue(self, element: Element, cid: str) -> None:
        self.ensure_placed(cid)
        words = len(re.findall(r"[\w']+", element.text))
        wpm = self.characters[cid].voice.words_per_minute
        duration = round(max(1.2, words * 60.0 / wpm + 0.5), 2)
        paren = element.parenthetical.strip() or None
        addressee = None
        if not (paren and re.match(r"^to (himself|herself|themselves|no one|the )", paren.lower())):
            addressee = self._addressee(cid, f"{paren or ''} {element.text}")
        extension = ", ".join(element.extensions) or None
        self._add(DialogueBeat(character=cid, text=element.text, parenthetical=paren, line=element.line,
                               extension=extension, duration=duration, addressee=addressee))
        for word in re.findall(r"[a-z]+", (paren or "").lower()):
            if word in PAREN_ACTIONS:
                self._action(cid, PAREN_ACTIONS[word], line=element.line, text=paren or "",
                             parallel=True, target=addressee)
        self.last_speaker = cid
        self.in_opening = False

    def _addressee(self, cid: str, paren: str) -> str | None:
        # Vocatives: "Four years, Daniel." / "Maya, wait." / "(to Tom)"
        vocative = re.findall(r"^\s*([A-Za-z]+)\s*[,!?]|,\s*([A-Za-z]+)\s*[.!?]*\s*$|\bto ([A-Za-z]+)", paren)
        named = [self.names[w.lower()] for group in vocative for w in group
                 if w and w.lower() in self.names and self.names[w.lower()] != cid]
        if named:
            return named[0]
        if self.following.get(cid) and self.last_speaker is None:
            return self.following[cid]
        if self.last_speaker and self.last_speaker != cid and self.actors[self.last_speaker].present:
            return self.last_speaker
        others = [c for c in self.cast if c != cid and self.actors[c].present and self.actors[c].placed]
        if not others:
            return None
        here = self._pos(self.actors[cid].mark)
        return min(others, key=lambda c: math.dist(self._pos(self.actors[c].mark), here))


def _faces_towards(mark: Mark, anchor: Mark) -> bool:
    """True when ``mark`` faces roughly towards ``anchor`` (e.g. the other seat at a table)."""
    dx, dy = anchor.position[0] - mark.position[0], anchor.position[1] - mark.position[1]
    norm = math.hypot(dx, dy) or 1.0
    return (math.cos(math.radians(mark.facing)) * dx + math.sin(math.radians(mark.facing)) * dy) / norm > 0.5
