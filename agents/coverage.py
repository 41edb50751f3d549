"""A first shot list for a scene: an establishing shot, then coverage of each line.

Rules: the scene opens wide on everyone; each line is covered by a single on its speaker;
moves get a full shot of whoever moves (a wide shot when several move); silent actions stay
in the shot of whoever performs them. Neighbouring units with the same subjects merge into
one shot, so the cut never jumps on the same framing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..plan.model import ActionBeat, DialogueBeat, MoveBeat, PauseBeat, Scene, Shot


@dataclass
class _Unit:
    first: int
    last: int
    framing: str
    size: str
    subjects: list[str] = field(default_factory=list)
    rationale: str = ""
    movement: str = "static"


LONG_WALK_SECONDS = 3.0   # a single's walk longer than this is followed by the camera
MONOLOGUE_WORDS = 14      # a line this long (about 5 s spoken) gets a slow push in


def _opening_end(scene: Scene) -> int:
    for index, beat in enumerate(scene.beats):
        if isinstance(beat, DialogueBeat):
            return max(0, index - 1)
    return len(scene.beats) - 1


def _movers(scene: Scene, first: int) -> tuple[list[str], int]:
    """Characters moving in the run of parallel move beats starting at ``first``."""
    movers = [scene.beats[first].character]
    last = first
    while last + 1 < len(scene.beats) and scene.beats[last + 1].parallel:
        last += 1
        character = getattr(scene.beats[last], "character", None)
        if character and character not in movers:
            movers.append(character)
    return movers, last


REACTIONS = ("react", "look", "nod", "shake_head", "shrug", "turn", "stay")


def _group(scene: Scene, index: int) -> int:
    """The last beat of the run that starts together with beat ``index``."""
    last = index
    while last + 1 < len(scene.beats) and scene.beats[last + 1].parallel:
        last += 1
    return last


def _dialogue_idiom(scene: Scene, units: list[_Unit], index: int) -> int | None:
    """Two or more people talking, as a small state machine (after He, Cohen and Salesin).

    SPEAKER: each line on its speaker (external singles, shot/reverse-shot, all on one side of
    the line: the camera solver keeps the side); a long line pushes in; a line spoken while
    walking is a walk-and-talk that the camera follows. REACTION: a pause or a silent reaction
    of the listener right after a line cuts to the listener. Any other beat ends the idiom.
    """
    if not isinstance(scene.beats[index], DialogueBeat):
        return None
    state, listener = "speaker", None
    while index < len(scene.beats):
        beat = scene.beats[index]
        if isinstance(beat, DialogueBeat):
            last = _group(scene, index)
            units.append(_line_unit(scene, units, index, last))
            state, listener, index = "reaction", beat.addressee, last + 1
        elif state == "reaction" and listener and (
                isinstance(beat, PauseBeat) or (isinstance(beat, ActionBeat) and beat.character == listener
                                                and beat.action in REACTIONS)):
            units.append(_Unit(index, _group(scene, index), "single", "MS", [listener],
                               f"{listener} listens: a reaction shot"))
            state, index = "speaker", _group(scene, index) + 1
        else:
            return index
    return index


def _line_unit(scene: Scene, units: list[_Unit], index: int, last: int) -> _Unit:
    beat = scene.beats[index]
    walkers = [b.character for b in scene.beats[index:last + 1] if isinstance(b, MoveBeat)]
    if walkers:  # walk-and-talk: the camera travels with the talkers
        people = list(dict.fromkeys([beat.character, *walkers]))
        framing = "two_shot" if len(people) == 2 else "single" if len(people) == 1 else "group"
        return _Unit(index, last, framing, "MLS" if framing != "group" else "LS", people,
                     "walk-and-talk: follow them as they go", "follow")
    seen = any(u.framing == "single" and u.subjects == [beat.character] for u in units)
    long_line = len(beat.text.split()) >= MONOLOGUE_WORDS  # words, not seconds: voices retime lines
    return _Unit(index, last, "single", "MCU" if seen else "MS", [beat.character],
                 f"{beat.character} speaks: cover the line on the speaker"
                 + ("; a long line earns a slow push in" if long_line else ""),
                 "dolly_in" if long_line else "static")


def _movement_idiom(scene: Scene, units: list[_Unit], index: int) -> int | None:
    """Someone walks: a full shot (followed when the walk is long); several walk: a wide one."""
    beat = scene.beats[index]
    if not isinstance(beat, MoveBeat):
        return None
    movers, last = _movers(scene, index)
    framing, size = ("single", "FS") if len(movers) == 1 else ("group", "LS")
    follow = len(movers) == 1 and beat.duration >= LONG_WALK_SECONDS
    units.append(_Unit(index, last, framing, size, movers,
                       "a long walk: the camera goes with them" if follow
                       else "a move: frame wide enough to see all of it", "follow" if follow else "static"))
    return last + 1


def _exchange_idiom(scene: Scene, units: list[_Unit], index: int) -> int | None:
    """Handing something over or pointing at someone: both people in one frame."""
    beat = scene.beats[index]
    if not (isinstance(beat, ActionBeat) and beat.action in ("give", "take", "point") and beat.target in scene.cast):
        return None
    units.append(_Unit(index, index, "two_shot", "MS", [beat.character, beat.target],
                       f"{beat.action}: both people in frame"))
    return index + 1


def _pointing_idiom(scene: Scene, units: list[_Unit], index: int) -> int | None:
    """Pointing at a place or thing: what they see, from their eyes."""
    beat = scene.beats[index]
    if not (isinstance(beat, ActionBeat) and beat.action == "point" and beat.target):
        return None
    units.append(_Unit(index, index, "pov", "LS", [beat.character],
                       f"{beat.character} points: show what they see, from their eyes"))
    return index + 1


IDIOMS = (_dialogue_idiom, _movement_idiom, _exchange_idiom, _pointing_idiom)


def _units(scene: Scene, exterior: bool) -> list[_Unit]:
    """The establishing idiom opens the scene; then the first idiom that takes a beat shoots it."""
    opening = _opening_end(scene)
    units = [_Unit(0, opening, "establishing", "ELS" if exterior else "LS", list(scene.cast),
                   "open wide to show the place and who is in it (entrances play here)")]
    index = opening + 1
    while index < len(scene.beats):
        if scene.beats[index].parallel:  # it happens during the shot before: a cut here would flash
            units[-1].last = index
            index += 1
            continue
        for idiom in IDIOMS:
            following = idiom(scene, units, index)
            if following is not None:
                index = following
                break
        else:
            _attach(units, scene, index)
            index += 1
    return units


def _attach(units: list[_Unit], scene: Scene, index: int) -> None:
    """A silent action or pause joins the previous unit if it shows the actor, else gets a shot."""
    beat = scene.beats[index]
    actor = getattr(beat, "character", None)
    previous = units[-1]
    if isinstance(beat, PauseBeat) or actor is None or actor in previous.subjects:
        previous.last = index
        return
    size = "MLS" if isinstance(beat, ActionBeat) and beat.action in ("sit", "stand_up", "enter", "exit") else "MS"
    units.append(_Unit(index, index, "single", size, [actor], f"{actor} acts: show it on them"))


SIZE_ORDER = ("ECU", "CU", "MCU", "MS", "MLS", "FS", "LS", "ELS")


def _merge(units: list[_Unit]) -> list[_Unit]:
    """Join neighbours on the same framing less than two sizes apart (a cut would jump)."""
    merged: list[_Unit] = []
    for unit in units:
        previous = merged[-1] if merged else None
        if previous and previous.subjects == unit.subjects and previous.framing == unit.framing and \
                abs(SIZE_ORDER.index(previous.size) - SIZE_ORDER.index(unit.size)) < 2:
            previous.last = unit.last
            previous.size = max(previous.size, unit.size, key=SIZE_ORDER.index)
            if previous.movement == "static":
                previous.movement = unit.movement
            continue
        merged.append(unit)
    return merged


def cover_scene(*, scene: Scene, scene_number: int, exterior: bool) -> list[Shot]:
    """The shot list of one scene, covering every beat once and in order."""
    shots = []
    for n, unit in enumerate(_merge(_units(scene, exterior)), start=1):
        shots.append(Shot(id=f"S{scene_number:02d}_{n:03d}", scene=scene.id, first_beat=unit.first,
                          last_beat=unit.last, framing=unit.framing, size=unit.size,
                          movement=unit.movement, subjects=unit.subjects, rationale=unit.rationale))
    return shots
