"""The per-shot prompt, written from the plan: style, set, people, action, camera."""

from __future__ import annotations

from ..plan.model import (
    ActionBeat,
    Character,
    DialogueBeat,
    MoveBeat,
    PauseBeat,
    Plan,
    Shot,
)

NEGATIVE_PROMPT = ("blurry, low quality, jpeg artifacts, flicker, distorted faces, deformed hands, "
                   "extra fingers, extra limbs, extra people, duplicated person, text, subtitles, "
                   "watermark, logo, overexposed, static still frame")

SIZES = {"ECU": "extreme close-up", "CU": "close-up", "MCU": "medium close-up", "MS": "medium shot",
         "MLS": "medium long shot", "FS": "full shot", "LS": "long shot", "ELS": "extreme long shot"}
ANGLES = {"eye": "eye-level", "high": "high-angle", "low": "low-angle", "overhead": "overhead",
          "dutch": "dutch-angle"}
MOVES = {"static": "static camera", "pan": "slow pan", "tilt": "slow tilt", "dolly_in": "slow dolly in",
         "dolly_out": "slow dolly out", "truck": "trucking shot", "orbit": "orbiting camera",
         "crane": "crane shot", "follow": "camera following the subject", "handheld": "handheld camera"}
FRAMINGS = {"establishing": "establishing shot", "single": "single", "two_shot": "two-shot",
            "over_the_shoulder": "over-the-shoulder shot", "group": "group shot", "insert": "insert shot",
            "pov": "point-of-view shot"}
PALETTE = {
    "black": (20, 20, 20), "charcoal": (54, 54, 60), "grey": (128, 128, 128), "light grey": (190, 190, 190),
    "white": (240, 240, 240), "red": (190, 40, 40), "dark red": (120, 30, 30), "orange": (230, 130, 40),
    "brown": (110, 70, 40), "dark brown": (60, 40, 28), "beige": (210, 190, 150), "yellow": (230, 210, 60),
    "olive": (110, 110, 50), "green": (60, 140, 60), "dark green": (30, 80, 40), "teal": (40, 130, 130),
    "blue": (55, 105, 170), "navy": (30, 40, 90), "light blue": (140, 180, 220), "purple": (110, 60, 140),
    "pink": (230, 150, 170),
}
SKIN = ((235, "very fair"), (205, "fair"), (175, "light"), (145, "medium"), (115, "tan"), (85, "brown"),
        (0, "dark brown"))


def colour_name(hex_colour: str) -> str:
    """The nearest plain colour name of ``#rrggbb``."""
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    return min(PALETTE, key=lambda name: sum((a - b) ** 2 for a, b in zip(PALETTE[name], rgb)))


def skin_name(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    return next(name for threshold, name in SKIN if luma >= threshold)


def describe_character(character: Character) -> str:
    """``Maya, a woman in her 30s, slim build, fair skin, dark brown hair, wearing ...``."""
    look = character.appearance
    noun, pronoun = ("woman", "her") if look.gender < 0.35 else ("man", "his") if look.gender > 0.65 \
        else ("person", "their")
    age = int(look.age_years)
    if age < 13:
        noun = {"woman": "girl", "man": "boy"}.get(noun, "child")
        ages = f"aged {age}"
    elif age < 20:
        noun = {"woman": "teenage girl", "man": "teenage boy"}.get(noun, "teenager")
        ages = f"aged {age}"
    else:
        ages = f"in {pronoun} {age // 10 * 10}s"
    build = ("heavy-set" if look.weight > 0.7 else "slim" if look.weight < 0.3 else
             "muscular" if look.muscle > 0.7 else "average")
    height = "tall, " if look.height > 0.75 else "short, " if look.height < 0.25 else ""
    outfit = look.outfit
    return (f"{character.name}, a {noun} {ages}, {height}{build} build, {skin_name(look.skin_tone)} skin, "
            f"{colour_name(outfit.hair)} hair, wearing a {colour_name(outfit.top)} top, "
            f"{colour_name(outfit.bottom)} trousers and {colour_name(outfit.shoes)} shoes")


def shot_people(plan: Plan, shot: Shot) -> list[Character]:
    """The characters a shot shows: its subjects, else everyone acting in its beats."""
    ids = list(shot.subjects)
    if not ids:
        scene = plan.scene(shot.scene)
        for beat in scene.beats[shot.first_beat:shot.last_beat + 1]:
            who = getattr(beat, "character", None)
            if who and who not in ids:
                ids.append(who)
    known = {c.id: c for c in plan.characters}
    return [known[i] for i in ids if i in known]


def _action(plan: Plan, shot: Shot) -> list[str]:
    names = {c.id: c.name for c in plan.characters}
    scene = plan.scene(shot.scene)
    said: list[str] = []
    for beat in scene.beats[shot.first_beat:shot.last_beat + 1]:
        if isinstance(beat, DialogueBeat):
            line = f"{names.get(beat.character, beat.character)} speaks"
            if beat.addressee:
                line += f" to {names.get(beat.addressee, beat.addressee)}"
            mood = beat.emotion or beat.parenthetical
            if mood:
                line += f", {mood}"
        elif isinstance(beat, (ActionBeat, MoveBeat, PauseBeat)) and beat.text:
            line = " ".join(beat.text.split()).rstrip(".")
        elif isinstance(beat, ActionBeat):
            line = f"{names.get(beat.character, beat.character)} {beat.action.replace('_', ' ')}s"
        elif isinstance(beat, MoveBeat):
            line = f"{names.get(beat.character, beat.character)} walks to the {beat.to_mark.replace('_', ' ')}"
        else:
            continue
        if line not in said:
            said.append(line)
    return said


def shot_prompt(plan: Plan, shot: Shot) -> str:
    """The prompt of one shot, from the plan alone (same plan, same prompt)."""
    scene = plan.scene(shot.scene)
    set_spec = plan.set(scene.set)
    heading = scene.heading
    place = "interior" if heading.int_ext.upper().startswith("INT") else "exterior"
    where = f"{place} of a {set_spec.kind.replace('_', ' ')}, {heading.location.lower()}"
    if heading.time:
        where += f", {heading.time.lower()}"
    # "previz" describes the animatic, not the film the refinement is drawing.
    style = ", ".join(p.strip() for p in plan.style.replace("previz", "").split(",") if p.strip())
    parts = [style.rstrip("."), where]
    people = shot_people(plan, shot)
    if people:
        parts.append("; ".join(describe_character(c) for c in people))
    parts.extend(_action(plan, shot))
    camera = f"{SIZES[shot.size]}, {ANGLES[shot.angle]}, {MOVES[shot.movement]}, {FRAMINGS[shot.framing]}"
    if people and shot.framing in ("single", "over_the_shoulder", "insert", "pov"):
        camera += f" on {people[0].name}"
    parts.append(camera)
    parts.append("cinematic, photorealistic, natural skin, consistent lighting")
    return ". ".join(p[0].upper() + p[1:] for p in parts if p) + "."
