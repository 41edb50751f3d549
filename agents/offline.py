"""The offline director: a deterministic path from a parsed screenplay to a plan, no LLM."""

from __future__ import annotations

import re

from ..errors import ScreenplayError
from ..plan.io import plan_from_data
from ..plan.model import Heading, PauseBeat, Plan, Scene, SetSpec
from ..screenplay import Element, Screenplay
from ..staging.sets import choose_recipe, load_recipe
from .casting import INTRO, cast_character, character_id, collect_cast
from .coverage import cover_scene
from .action_text import sentences
from .direction import SceneBlocker


def _scene_cast(elements: list[Element], known: dict[str, str]) -> list[str]:
    """Characters who speak in, or are named in the action of, a scene (in order of appearance)."""
    cast: list[str] = []
    for element in elements:
        if element.kind == "dialogue":
            cast.append(character_id(element.character))
        elif element.kind == "action":
            for word in re.findall(r"[A-Za-z']+", INTRO.sub(r"\1", element.text)):
                cid = known.get(word.lower().removesuffix("'s"))
                if cid:
                    cast.append(cid)
    return list(dict.fromkeys(cast))


def location_id(location: str) -> str:
    """The set id of a scene heading's location, e.g. "CORNER CAFE" -> "corner_cafe"."""
    return re.sub(r"[^a-z0-9]+", "_", location.lower()).strip("_") or "set"


def _set_for(heading: Element, sets: dict[str, SetSpec], user_sets: dict[str, SetSpec]) -> SetSpec:
    set_id = location_id(heading.location)
    if set_id not in sets:
        user = user_sets.get(set_id)
        sets[set_id] = user if user is not None else load_recipe(choose_recipe(heading.location), set_id=set_id)
    return sets[set_id]


def _establishing_text(elements: list[Element]) -> str:
    """The opening description of a scene: action sentences before anyone is named."""
    for element in elements:
        if element.kind == "action":
            first = sentences(element.text)
            return " ".join(s for s in first[:2] if not INTRO.search(s))[:200]
    return ""


def _direct_scene(*, number: int, heading: Element, elements: list[Element], plan_chars: dict,
                  sets: dict[str, SetSpec], source: str, user_sets: dict[str, SetSpec]) -> Scene:
    known = {c.name.lower(): cid for cid, c in plan_chars.items()}
    known.update({cid.lower(): cid for cid in plan_chars})
    cast = _scene_cast(elements, known)
    if not cast:
        raise ScreenplayError(f"scene '{heading.text}' has no characters (no dialogue and no one "
                              "introduced in caps); FilmCrew needs someone to stage", path=source,
                              line=heading.line)
    set_spec = _set_for(heading, sets, user_sets)
    blocker = SceneBlocker(set_spec=set_spec, characters=plan_chars, cast=cast)
    blocker.beats.append(PauseBeat(duration=3.0, line=heading.line,
                                   text=_establishing_text(elements) or heading.text))
    for element in elements:
        if element.kind == "action":
            blocker.action_element(element)
        elif element.kind == "dialogue":
            blocker.dialogue(element, character_id(element.character))
    for cid in cast:
        blocker.ensure_placed(cid)
    return Scene(id=f"S{number:02d}", heading=Heading(int_ext=heading.int_ext or "INT",
                                                        location=heading.location or heading.text,
                                                        time=heading.time),
                 set=set_spec.id, cast=cast, start=blocker.start, beats=blocker.beats,
                 line=heading.line)


def direct_screenplay(*, screenplay: Screenplay, fps: int = 24, resolution: tuple[int, int] = (480, 270),
                      user_sets: dict[str, SetSpec] | None = None) -> Plan:
    """Build a validated plan from a parsed screenplay, with no model calls.

    Args:
        screenplay: the parsed Fountain screenplay.
        fps: frames per second of the production.
        resolution: preview render size (width, height).
        user_sets: the user's own sets by location id (``location_id``), in place of recipes.

    Raises:
        ScreenplayError: the screenplay has no scene, or a scene has no characters.
    """
    scenes_src = screenplay.scenes()
    if not scenes_src:
        raise ScreenplayError("no scene heading (INT./EXT. ...) found; nothing to stage",
                              path=screenplay.source)
    notes = collect_cast(list(screenplay.elements))
    plan_chars = {cid: cast_character(cid, n, i) for i, (cid, n) in enumerate(notes.items())}
    sets: dict[str, SetSpec] = {}
    scenes = [_direct_scene(number=i, heading=h, elements=els, plan_chars=plan_chars, sets=sets,
                            source=screenplay.source, user_sets=user_sets or {})
              for i, (h, els) in enumerate(scenes_src, start=1)]
    shots = []
    for number, scene in enumerate(scenes, start=1):
        shots += cover_scene(scene=scene, scene_number=number,
                             exterior=not sets[scene.set].interior)
    used = {c for s in scenes for c in s.cast}
    data = Plan.model_construct(
        title=screenplay.title or "Untitled",
        logline="",
        fps=fps,
        resolution=resolution,
        characters=[c for cid, c in plan_chars.items() if cid in used],
        sets=list(sets.values()),
        scenes=scenes,
        shots=shots,
    )
    return plan_from_data(data.model_dump(mode="json"), source=screenplay.source)
