"""What each role of the crew answers: typed outputs and the reference checks on them.

Every answer is data. A check returns one line per dangling reference, naming the field path
and what exists instead, so the line can go back verbatim to the agent that wrote it.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from ..plan.actions import ACTIONS
from ..plan.model import ANGLES, FRAMINGS, MOVEMENTS, SIZES, Appearance, Plan, SetSpec
from ..staging.sets import recipe_kinds


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _enum(values) -> dict:
    return {"enum": list(values)}


# --- director: the outline --------------------------------------------------------------------
class CharacterBrief(_Out):
    id: str = Field(pattern=r"^[A-Z][A-Z]{1,19}$",
                    description="the character's first name in capitals, letters only (e.g. MAYA); "
                                "used as the dialogue cue")
    name: str = Field(min_length=1, max_length=60, description="full name")
    profile: str = Field("", max_length=300, description="who they are, how they behave")
    appearance: Appearance = Field(default_factory=Appearance)


class SetChoice(_Out):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")
    kind: str = Field(description="a set recipe", json_schema_extra=lambda s: s.update(enum=recipe_kinds()))
    location: str = Field(min_length=1, max_length=60,
                          description="the place as a scene heading names it, e.g. CORNER CAFE")


class SceneOutline(_Out):
    set: str = Field(description="id of one of the outline's sets")
    int_ext: Literal["INT", "EXT"] = "INT"
    time: str = Field("DAY", max_length=20)
    cast: list[str] = Field(min_length=1, description="character ids in the scene")
    summary: str = Field(min_length=1, max_length=600, description="what happens, in two or three sentences")


class Outline(_Out):
    title: str = Field(min_length=1, max_length=80)
    logline: str = Field(min_length=1, max_length=300)
    style: str = Field("naturalistic previz, soft daylight", max_length=200)
    characters: list[CharacterBrief] = Field(min_length=1, max_length=8)
    sets: list[SetChoice] = Field(min_length=1, max_length=6)
    scenes: list[SceneOutline] = Field(min_length=1, max_length=8)


def scene_ids(outline: Outline) -> list[str]:
    return [f"S{i:02d}" for i in range(1, len(outline.scenes) + 1)]


def _known(values, limit: int = 14) -> str:
    values = list(values)
    shown = ", ".join(values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _dups(label: str, ids: list[str]) -> list[str]:
    seen: set[str] = set()
    return [f"{label}: duplicate id '{i}'" for i in ids if i in seen or seen.add(i)]


def outline_errors(outline: Outline) -> list[str]:
    """Dangling references of an outline: set kinds, scene sets and casts."""
    errors = _dups("characters", [c.id for c in outline.characters]) + _dups("sets", [s.id for s in outline.sets])
    kinds = recipe_kinds()
    places: dict[str, int] = {}
    for i, choice in enumerate(outline.sets):
        if choice.kind not in kinds:
            errors.append(f"sets[{i}].kind: unknown set kind '{choice.kind}' (known: {_known(kinds)})")
        place = " ".join(choice.location.upper().split())
        if place in places:
            errors.append(f"sets[{i}].location: '{choice.location}' is already the location of sets[{places[place]}]")
        places.setdefault(place, i)
    chars = [c.id for c in outline.characters]
    sets = [s.id for s in outline.sets]
    for i, scene in enumerate(outline.scenes):
        if scene.set not in sets:
            errors.append(f"scenes[{i}].set: unknown set '{scene.set}' (sets: {_known(sets)})")
        for j, cid in enumerate(scene.cast):
            if cid not in chars:
                errors.append(f"scenes[{i}].cast[{j}]: unknown character '{cid}' (characters: {_known(chars)})")
        errors += [f"scenes[{i}].cast: {e}" for e in _dups("cast", scene.cast)]
    return errors


# --- screenwriter: the script -----------------------------------------------------------------
class LineItem(_Out):
    kind: Literal["line"] = "line"
    character: str
    text: str = Field(min_length=1, max_length=400)
    parenthetical: str = Field("", max_length=60, description="e.g. quietly; without parentheses")


class ActionItem(_Out):
    kind: Literal["action"] = "action"
    character: str
    action: str = Field(description="one action of the motion library",
                        json_schema_extra=lambda s: s.update(enum=sorted(ACTIONS)))
    target: str = Field("", description="a character id or a mark id of the set, or empty")


class MoveItem(_Out):
    kind: Literal["move"] = "move"
    character: str
    to_mark: str = Field(description="a mark id of the scene's set; a sit mark means sitting down there")


class PauseItem(_Out):
    kind: Literal["pause"] = "pause"
    long: bool = False


ScriptItem = Annotated[Union[LineItem, ActionItem, MoveItem, PauseItem], Field(discriminator="kind")]


class StartMark(_Out):
    character: str
    mark: str = Field(description="a mark id of the scene's set (a sit mark: seated there)")


class SceneScript(_Out):
    scene: str = Field(description="the outline scene id, S01, S02, ...")
    description: str = Field(min_length=1, max_length=300,
                             description="the place as the scene opens; no character names")
    start: list[StartMark] = Field(default_factory=list, description="who is on stage at the start, where")
    beats: list[ScriptItem] = Field(min_length=1, max_length=60)


class ScriptDraft(_Out):
    scenes: list[SceneScript] = Field(min_length=1)


def _targets(set_spec: SetSpec, cast: list[str]) -> set[str]:
    return {m.id for m in set_spec.marks} | {p.id for p in set_spec.props} | set(cast)


def item_errors(where: str, item, *, cast: list[str], set_spec: SetSpec) -> list[str]:
    """Dangling references of one script item in a scene with ``cast`` on ``set_spec``."""
    errors = []
    marks = [m.id for m in set_spec.marks]
    if isinstance(item, PauseItem):
        return errors
    if item.character not in cast:
        errors.append(f"{where}.character: '{item.character}' is not in the cast of this scene "
                      f"(cast: {_known(cast)})")
    if isinstance(item, ActionItem):
        if item.action not in ACTIONS:
            errors.append(f"{where}.action: unknown action '{item.action}' (known: {_known(sorted(ACTIONS), 30)})")
        if item.target and item.target not in _targets(set_spec, cast):
            errors.append(f"{where}.target: unknown target '{item.target}' (a character of the cast or a "
                          f"mark of set '{set_spec.kind}': {_known(marks)})")
    if isinstance(item, MoveItem) and item.to_mark not in marks:
        errors.append(f"{where}.to_mark: unknown mark '{item.to_mark}' in set '{set_spec.kind}' "
                      f"(marks: {_known(marks)})")
    return errors


def script_errors(draft: ScriptDraft, *, outline: Outline, sets: dict[str, SetSpec]) -> list[str]:
    """Dangling references of a script: scenes, cast, marks, actions, targets.

    Args:
        sets: the set of each outline set id.
    """
    errors = []
    ids = scene_ids(outline)
    if [s.scene for s in draft.scenes] != ids:
        errors.append(f"scenes: must be {', '.join(ids)} in this order, one each "
                      f"(got {', '.join(s.scene for s in draft.scenes) or 'none'})")
    names = {c.id: c.id.title() for c in outline.characters}
    for si, scene in enumerate(draft.scenes):
        if scene.scene not in ids:
            continue
        plan_scene = outline.scenes[ids.index(scene.scene)]
        cast, set_spec = plan_scene.cast, sets[plan_scene.set]
        where = f"scenes[{si}]"
        words = {w.strip(".,;:!?'\"").lower() for w in scene.description.split()}
        named = [n for n in names.values() if n.lower() in words]
        if named:
            errors.append(f"{where}.description: describe the place only; '{named[0]}' is a character "
                          "(put people in start and beats)")
        marks = {m.id: m for m in set_spec.marks}
        placed: dict[str, str] = {}
        for pi, place in enumerate(scene.start):
            if place.character not in cast:
                errors.append(f"{where}.start[{pi}].character: '{place.character}' is not in the cast "
                              f"of this scene (cast: {_known(cast)})")
            if place.mark not in marks:
                errors.append(f"{where}.start[{pi}].mark: unknown mark '{place.mark}' in set "
                              f"'{set_spec.kind}' (marks: {_known(marks)})")
            elif place.mark in placed.values():
                errors.append(f"{where}.start[{pi}].mark: '{place.mark}' is taken by another character")
            if place.character in placed:
                errors.append(f"{where}.start[{pi}].character: '{place.character}' is placed twice")
            placed[place.character] = place.mark
        first_beat: dict[str, str] = {}
        for bi, item in enumerate(scene.beats):
            errors += item_errors(f"{where}.beats[{bi}]", item, cast=cast, set_spec=set_spec)
            if isinstance(item, ActionItem | MoveItem | LineItem):
                first_beat.setdefault(item.character, item.action if isinstance(item, ActionItem) else item.kind)
        for cid, first in first_beat.items():
            if first == "enter" and cid in placed:
                errors.append(f"{where}.start: '{cid}' enters later, so must not be in start")
    return errors


# --- actors -----------------------------------------------------------------------------------
class BeatChange(_Out):
    scene: str
    beat: int = Field(ge=0, description="index of the beat in the scene's beats")
    item: ScriptItem = Field(description="the beat as the actor plays it; same kind, same character")


class ActorRevision(_Out):
    changes: list[BeatChange] = Field(default_factory=list, max_length=20)
    notes: str = Field("", max_length=400)


def revision_errors(revision: ActorRevision, *, actor: str, draft: ScriptDraft, outline: Outline,
                    sets: dict[str, SetSpec]) -> list[str]:
    """An actor may rewrite only their own beats, keeping each beat's kind."""
    errors = []
    scenes = {s.scene: s for s in draft.scenes}
    outlines = dict(zip(scene_ids(outline), outline.scenes))
    for ci, change in enumerate(revision.changes):
        where = f"changes[{ci}]"
        scene = scenes.get(change.scene)
        if scene is None:
            errors.append(f"{where}.scene: unknown scene '{change.scene}' (scenes: {_known(scenes)})")
            continue
        if change.beat >= len(scene.beats):
            errors.append(f"{where}.beat: {change.beat} is past the {len(scene.beats)} beats of {change.scene}")
            continue
        original = scene.beats[change.beat]
        owner = getattr(original, "character", None)
        if owner != actor:
            errors.append(f"{where}.beat: beat {change.beat} of {change.scene} belongs to "
                          f"{owner or 'no one'}, not to {actor}; change only your own beats")
            continue
        if change.item.kind != original.kind:
            errors.append(f"{where}.item.kind: must stay '{original.kind}' (the director's structure)")
            continue
        if getattr(change.item, "character", actor) != actor:
            errors.append(f"{where}.item.character: must be {actor}")
        plan_scene = outlines[change.scene]
        errors += item_errors(f"{where}.item", change.item, cast=plan_scene.cast, set_spec=sets[plan_scene.set])
    return errors


def apply_revision(draft: ScriptDraft, revision: ActorRevision) -> ScriptDraft:
    data = draft.model_copy(deep=True)
    scenes = {s.scene: s for s in data.scenes}
    for change in revision.changes:
        scenes[change.scene].beats[change.beat] = change.item
    return data


# --- director: reviews ------------------------------------------------------------------------
class Note(_Out):
    scene: str
    beat: int | None = Field(None, ge=0)
    note: str = Field(min_length=1, max_length=400)


class Review(_Out):
    approved: bool
    notes: list[Note] = Field(default_factory=list, max_length=20)


def review_errors(review: Review, *, draft: ScriptDraft) -> list[str]:
    errors = []
    scenes = {s.scene: s for s in draft.scenes}
    for ni, note in enumerate(review.notes):
        scene = scenes.get(note.scene)
        if scene is None:
            errors.append(f"notes[{ni}].scene: unknown scene '{note.scene}' (scenes: {_known(scenes)})")
        elif note.beat is not None and note.beat >= len(scene.beats):
            errors.append(f"notes[{ni}].beat: {note.beat} is past the {len(scene.beats)} beats of {note.scene}")
    if not review.approved and not review.notes:
        errors.append("notes: a review that does not approve must say what to change")
    return errors


# --- cinematographer --------------------------------------------------------------------------
class ShotSpec(_Out):
    first_beat: int = Field(ge=0)
    last_beat: int = Field(ge=0)
    framing: str = Field(json_schema_extra=lambda s: s.update(enum=list(FRAMINGS)))
    size: str = Field(json_schema_extra=lambda s: s.update(enum=list(SIZES)))
    angle: str = Field("eye", json_schema_extra=lambda s: s.update(enum=list(ANGLES)))
    movement: str = Field("static", json_schema_extra=lambda s: s.update(enum=list(MOVEMENTS)))
    subjects: list[str] = Field(default_factory=list, description="character ids in frame")
    rationale: str = Field(min_length=1, max_length=200)


class SceneShots(_Out):
    scene: str
    shots: list[ShotSpec] = Field(min_length=1, max_length=40)


class ShotList(_Out):
    scenes: list[SceneShots] = Field(min_length=1)


class Judgement(_Out):
    choice: Literal["A", "B", "merge"]
    rationale: str = Field(min_length=1, max_length=400)
    merged: ShotList | None = Field(None, description="only with choice 'merge': the merged shot list")


def shot_list_errors(shots: ShotList, *, plan: Plan) -> list[str]:
    """Shot vocabulary, subjects and coverage (every beat once, in order) per scene."""
    errors = []
    scenes = {s.id: s for s in plan.scenes}
    listed = [s.scene for s in shots.scenes]
    missing = [sid for sid in scenes if sid not in listed]
    if missing:
        errors.append(f"scenes: no shots for {', '.join(missing)}")
    errors += _dups("scenes", listed)
    vocab = {"framing": FRAMINGS, "size": SIZES, "angle": ANGLES, "movement": MOVEMENTS}
    for si, entry in enumerate(shots.scenes):
        scene = scenes.get(entry.scene)
        if scene is None:
            errors.append(f"scenes[{si}].scene: unknown scene '{entry.scene}' (scenes: {_known(scenes)})")
            continue
        expected = 0
        for hi, shot in enumerate(entry.shots):
            where = f"scenes[{si}].shots[{hi}]"
            for name, values in vocab.items():
                value = getattr(shot, name)
                if value not in values:
                    errors.append(f"{where}.{name}: unknown {name} '{value}' (known: {', '.join(values)})")
            for ci, subject in enumerate(shot.subjects):
                if subject not in scene.cast:
                    errors.append(f"{where}.subjects[{ci}]: '{subject}' is not in the cast of {scene.id} "
                                  f"(cast: {_known(scene.cast)})")
            if shot.first_beat != expected:
                errors.append(f"{where}.first_beat: expected {expected} (shots must cover the beats "
                              "in order without gaps or overlaps)")
            if shot.last_beat < shot.first_beat:
                errors.append(f"{where}.last_beat: {shot.last_beat} is before first_beat {shot.first_beat}")
            expected = shot.last_beat + 1
        if expected != len(scene.beats):
            errors.append(f"scenes[{si}]: shots end at beat {expected - 1} but {scene.id} has beats "
                          f"0..{len(scene.beats) - 1}")
    return errors


def judgement_errors(judgement: Judgement, *, plan: Plan) -> list[str]:
    if judgement.choice != "merge":
        return []
    if judgement.merged is None:
        return ["merged: choice 'merge' needs the merged shot list"]
    return [f"merged.{e}" for e in shot_list_errors(judgement.merged, plan=plan)]
