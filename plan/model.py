"""The production plan: one typed, versioned model that every stage reads.

Coordinates are metres in the set's frame: X right, Y deeper into the set (north), Z up,
floor at Z = 0. Angles are degrees; a facing of 0 looks along +X and 90 along +Y.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1

Hex = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="sRGB colour as #rrggbb")]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Outfit(_Model):
    top: Hex = "#3b6ea5"
    bottom: Hex = "#2f2f38"
    shoes: Hex = "#1d1a18"
    hair: Hex = "#2a1d14"


class Appearance(_Model):
    """Body phenotype (anny's parameters, 0..1) plus colours."""

    gender: Unit = Field(0.5, description="0 female, 1 male")
    age_years: float = Field(35.0, ge=1.0, le=95.0)
    weight: Unit = 0.5
    muscle: Unit = 0.5
    height: Unit = 0.5
    proportions: Unit = 0.5
    skin_tone: Hex = "#c8a08a"
    outfit: Outfit = Field(default_factory=Outfit)


class Voice(_Model):
    language: str = "en"
    variant: str = "m3"
    pitch: int = Field(50, ge=0, le=99)
    words_per_minute: int = Field(160, ge=80, le=400)


class Character(_Model):
    id: str = Field(pattern=r"^[A-Z0-9_]+$")
    name: str
    profile: str = ""
    appearance: Appearance = Field(default_factory=Appearance)
    voice: Voice = Field(default_factory=Voice)


class Mark(_Model):
    id: str
    position: Vec2
    facing: float = Field(0.0, description="degrees, counter-clockwise from +X")
    kind: Literal["stand", "sit", "lean"] = "stand"
    seat_height: float | None = Field(None, ge=0.0, le=1.5)
    prop: str | None = Field(None, description="id of the prop this mark belongs to")
    aliases: list[str] = Field(default_factory=list)


class Prop(_Model):
    id: str
    kind: str
    position: Vec3
    rotation: float = 0.0
    size: Vec3
    color: Hex | None = None
    aliases: list[str] = Field(default_factory=list)


class Door(_Model):
    id: str
    wall: Literal["north", "south", "east", "west"]
    offset: float = Field(0.0, description="centre along the wall, metres from its midpoint")
    width: float = Field(1.0, gt=0.3, le=4.0)
    height: float = Field(2.1, gt=1.5, le=4.0)


class Window(_Model):
    wall: Literal["north", "south", "east", "west"]
    offset: float = 0.0
    width: float = Field(1.2, gt=0.2)
    sill: float = Field(0.9, ge=0.0)
    height: float = Field(1.2, gt=0.2)


class Light(_Model):
    kind: Literal["sun", "area", "point"]
    position: Vec3 = (0.0, 0.0, 2.8)
    rotation: Vec3 = (0.0, 0.0, 0.0)
    energy: float = Field(100.0, ge=0.0)
    color: Hex = "#ffffff"
    size: float = Field(1.0, gt=0.0)


class SetSpec(_Model):
    """A set: built from a recipe in assets/sets, or loaded from a user's .blend."""

    id: str
    kind: str
    interior: bool = True
    source_blend: str | None = Field(None, description="a user's .blend whose MARK_* empties are the marks")
    size: Vec3 = Field((8.0, 6.0, 3.0), description="width (X), depth (Y), height (Z), centred on the origin")
    floor_color: Hex = "#8a7a66"
    wall_color: Hex = "#d8d2c4"
    sky_color: Hex = "#9fb8d8"
    doors: list[Door] = Field(default_factory=list)
    windows: list[Window] = Field(default_factory=list)
    props: list[Prop] = Field(default_factory=list)
    marks: list[Mark] = Field(default_factory=list)
    lights: list[Light] = Field(default_factory=list)
    walkable: tuple[Vec2, Vec2] | None = Field(None, description="axis-aligned (min, max) of the floor people walk on")

    def mark(self, mark_id: str) -> Mark:
        for mark in self.marks:
            if mark.id == mark_id:
                return mark
        raise KeyError(mark_id)


class Heading(_Model):
    int_ext: str = "INT"
    location: str
    time: str = ""


class _Beat(_Model):
    duration: float = Field(gt=0.0, le=600.0, description="seconds")
    line: int | None = Field(None, description="line in the screenplay this beat came from")
    parallel: bool = Field(False, description="starts with the previous beat instead of after it")


class DialogueBeat(_Beat):
    type: Literal["dialogue"] = "dialogue"
    character: str
    text: str = Field(min_length=1)
    parenthetical: str | None = None
    extension: str | None = None
    emotion: str | None = None
    addressee: str | None = None


class ActionBeat(_Beat):
    type: Literal["action"] = "action"
    character: str
    action: str = Field(description="an action of the motion library (see plan.ACTIONS)")
    target: str | None = Field(None, description="a mark, character or prop id")
    clip: str | None = Field(None, description="for action 'perform': a BVH or AMASS-style SMPL-X .npz motion "
                                               "clip, a path relative to the production folder")
    text: str = ""


class MoveBeat(_Beat):
    type: Literal["move"] = "move"
    character: str
    to_mark: str
    text: str = ""


class PauseBeat(_Beat):
    type: Literal["pause"] = "pause"
    text: str = ""


Beat = Annotated[Union[DialogueBeat, ActionBeat, MoveBeat, PauseBeat], Field(discriminator="type")]


class Placement(_Model):
    character: str
    mark: str
    posture: Literal["stand", "sit"] = "stand"
    present: bool = Field(True, description="False: off stage until a beat brings them in")


class Scene(_Model):
    id: str
    heading: Heading
    set: str
    cast: list[str]
    start: list[Placement] = Field(default_factory=list)
    beats: list[Beat] = Field(min_length=1)
    line: int | None = None


FRAMINGS = ("establishing", "single", "two_shot", "over_the_shoulder", "group", "insert", "pov")
SIZES = ("ECU", "CU", "MCU", "MS", "MLS", "FS", "LS", "ELS")
ANGLES = ("eye", "high", "low", "overhead", "dutch")
MOVEMENTS = ("static", "pan", "tilt", "dolly_in", "dolly_out", "truck", "orbit", "crane", "follow",
             "handheld")


class Shot(_Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    scene: str
    first_beat: int = Field(ge=0)
    last_beat: int = Field(ge=0)
    framing: Literal[FRAMINGS] = "single"
    size: Literal[SIZES] = "MS"
    angle: Literal[ANGLES] = "eye"
    movement: Literal[MOVEMENTS] = "static"
    subjects: list[str] = Field(default_factory=list)
    rationale: str = ""
    pinned: bool = Field(False, description="a user's override: keep this spec when re-planning")

    @model_validator(mode="after")
    def _beat_order(self) -> "Shot":
        if self.last_beat < self.first_beat:
            raise ValueError(f"last_beat {self.last_beat} is before first_beat {self.first_beat}")
        return self


class Plan(_Model):
    schema_version: int = SCHEMA_VERSION
    title: str = "Untitled"
    logline: str = ""
    style: str = "naturalistic previz, soft daylight"
    fps: int = Field(24, ge=1, le=120)
    resolution: tuple[int, int] = (480, 270)
    characters: list[Character] = Field(default_factory=list)
    sets: list[SetSpec] = Field(default_factory=list)
    scenes: list[Scene] = Field(min_length=1)
    shots: list[Shot] = Field(default_factory=list)

    @field_validator("resolution")
    @classmethod
    def _even_resolution(cls, value: tuple[int, int]) -> tuple[int, int]:
        width, height = value
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise ValueError("resolution must be even and at least 16x16 (H.264 needs even sides)")
        return value

    @model_validator(mode="after")
    def _references(self) -> "Plan":
        problems = reference_errors(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def character(self, char_id: str) -> Character:
        return next(c for c in self.characters if c.id == char_id)

    def set(self, set_id: str) -> SetSpec:
        return next(s for s in self.sets if s.id == set_id)

    def scene(self, scene_id: str) -> Scene:
        return next(s for s in self.scenes if s.id == scene_id)


def _duplicates(ids: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({i for i in ids if i in seen or seen.add(i)})


def reference_errors(plan: Plan) -> list[str]:
    """Every dangling or duplicate reference in the plan, each naming its field path."""
    errors: list[str] = []
    for label, ids in (("characters", [c.id for c in plan.characters]),
                       ("sets", [s.id for s in plan.sets]),
                       ("scenes", [s.id for s in plan.scenes]),
                       ("shots", [s.id for s in plan.shots])):
        for dup in _duplicates(ids):
            errors.append(f"{label}: duplicate id '{dup}'")
    chars = {c.id for c in plan.characters}
    sets = {s.id: s for s in plan.sets}
    for si, scene in enumerate(plan.scenes):
        errors.extend(_scene_errors(f"scenes[{si}]", scene, sets.get(scene.set), chars))
    errors.extend(_shot_errors(plan))
    errors.extend(_coverage_errors(plan))
    return errors


def _scene_errors(where: str, scene: Scene, set_spec: SetSpec | None, chars: set[str]) -> list[str]:
    errors = []
    if set_spec is None:
        errors.append(f"{where}.set: unknown set '{scene.set}'")
    marks = {m.id for m in set_spec.marks} if set_spec else set()
    targets = marks | ({p.id for p in set_spec.props} if set_spec else set()) | chars
    for ci, char in enumerate(scene.cast):
        if char not in chars:
            errors.append(f"{where}.cast[{ci}]: unknown character '{char}'")
    for pi, place in enumerate(scene.start):
        if place.character not in scene.cast:
            errors.append(f"{where}.start[{pi}].character: '{place.character}' is not in the cast")
        if set_spec and place.mark not in marks:
            errors.append(f"{where}.start[{pi}].mark: unknown mark '{place.mark}' in set '{scene.set}'")
    for bi, beat in enumerate(scene.beats):
        errors.extend(_beat_errors(f"{where}.beats[{bi}]", beat, scene, marks if set_spec else None,
                                   targets if set_spec else None))
    return errors


def _beat_errors(where: str, beat, scene: Scene, marks: set[str] | None, targets: set[str] | None) -> list[str]:
    from .actions import ACTIONS

    errors = []
    character = getattr(beat, "character", None)
    if character is not None and character not in scene.cast:
        errors.append(f"{where}.character: '{character}' is not in the cast of {scene.id}")
    if isinstance(beat, MoveBeat) and marks is not None and beat.to_mark not in marks:
        errors.append(f"{where}.to_mark: unknown mark '{beat.to_mark}' in set '{scene.set}'")
    if isinstance(beat, ActionBeat):
        if beat.action not in ACTIONS:
            errors.append(f"{where}.action: unknown action '{beat.action}'")
        if beat.target and targets is not None and beat.target not in targets:
            errors.append(f"{where}.target: unknown target '{beat.target}'")
        if (beat.action == "perform") != (beat.clip is not None):
            errors.append(f"{where}.clip: action 'perform' needs a clip, and only it takes one")
    if isinstance(beat, DialogueBeat) and beat.addressee and beat.addressee not in scene.cast:
        errors.append(f"{where}.addressee: '{beat.addressee}' is not in the cast")
    return errors


def _shot_errors(plan: Plan) -> list[str]:
    errors = []
    scenes = {s.id: s for s in plan.scenes}
    for hi, shot in enumerate(plan.shots):
        where = f"shots[{hi}]"
        scene = scenes.get(shot.scene)
        if scene is None:
            errors.append(f"{where}.scene: unknown scene '{shot.scene}'")
            continue
        if shot.last_beat >= len(scene.beats):
            errors.append(f"{where}.last_beat: {shot.last_beat} is past the {len(scene.beats)} beats of {scene.id}")
        for ci, subject in enumerate(shot.subjects):
            if subject not in scene.cast:
                errors.append(f"{where}.subjects[{ci}]: '{subject}' is not in the cast of {scene.id}")
    return errors


def _coverage_errors(plan: Plan) -> list[str]:
    """Shots of a scene must cover its beats once, in order, without gaps."""
    errors = []
    for scene in plan.scenes:
        shots = [s for s in plan.shots if s.scene == scene.id]
        if not shots:
            continue
        expected = 0
        for shot in shots:
            if shot.first_beat != expected:
                errors.append(f"shots.{shot.id}.first_beat: expected {expected} "
                              f"(shots of {scene.id} must cover its beats in order without gaps)")
            expected = shot.last_beat + 1
        if expected != len(scene.beats):
            errors.append(f"shots of {scene.id}: beats {expected}..{len(scene.beats) - 1} have no shot")
    return errors
