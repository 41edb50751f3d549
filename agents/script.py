"""The crew's script as Fountain: written so the offline director reads back every beat.

The screenwriter's typed draft (lines, actions from the motion library, moves to marks) is
written as plain screenplay prose with the verbs and mark names that :mod:`.direction` resolves,
then goes through the same ``parse_fountain`` + ``direct_screenplay`` as any screenplay, so
staging stays deterministic. Model text is flattened to single lines and stripped of Fountain
markup, so it can never add scenes, notes or title-page fields of its own.
"""

from __future__ import annotations

import re

from ..plan.model import ActionBeat, MoveBeat, Plan, SetSpec
from ..staging.sets import choose_recipe, find_mark, recipe_keywords
from .roles import ActionItem, LineItem, MoveItem, Outline, PauseItem, ScriptDraft, scene_ids

_MARKUP = re.compile(r"\[\[|\]\]|/\*|\*/|[*_~`#=<>|\\]")


def clean_text(text: str, *, limit: int = 400) -> str:
    """One line of plain text: no newlines, no Fountain markup, no forcing characters."""
    text = _MARKUP.sub("", " ".join(str(text).split()))
    text = text.lstrip("!@.>^ ").strip()
    return text[:limit]


def _plain_prose(text: str) -> str:
    """Action prose that cannot be read as a cue, transition or character introduction."""
    text = clean_text(text).replace("(", ", ").replace(")", "")
    if text.isupper() or text.endswith("TO:"):
        text = text.capitalize()
    text = text.rstrip(" ,")
    return text if text.endswith((".", "!", "?")) else text + "."


def heading_location(location: str, kind: str) -> str:
    """The heading's place, with a keyword added when its words would pick another recipe."""
    place = re.sub(r"[^A-Z0-9' &-]+", " ", location.upper())
    place = " ".join(place.split()) or kind.upper().replace("_", " ")
    if choose_recipe(place) != kind:
        place = f"{place} {recipe_keywords(kind)[0].upper()}"
        if choose_recipe(place) != kind:
            place = recipe_keywords(kind)[0].upper()
    return place


def mark_phrase(set_spec: SetSpec, mark_id: str) -> str:
    """Words that the set's mark finder resolves to exactly ``mark_id``."""
    mark = set_spec.mark(mark_id)
    for candidate in [*mark.aliases, mark_id.replace("_", " ")]:
        found = find_mark(set_spec, candidate, kind=mark.kind if mark.kind == "sit" else None)
        if found is not None and found.id == mark_id:
            return candidate
    return mark_id.replace("_", " ")


def _intro(cid: str, outline: Outline) -> str:
    brief = next(c for c in outline.characters if c.id == cid)
    gender = brief.appearance.gender
    words = [str(int(round(brief.appearance.age_years)))]
    if gender >= 0.7 or gender <= 0.3:
        words.append("man" if gender >= 0.7 else "woman")
    profile = clean_text(brief.profile, limit=60).replace("(", "").replace(")", "").strip(" ,.")
    if profile:
        words.append(profile)
    return f"{cid} ({', '.join(words)})"


class _Writer:
    def __init__(self, outline: Outline, sets: dict[str, SetSpec]) -> None:
        self.outline = outline
        self.sets = sets
        self.introduced: set[str] = set()
        self.out: list[str] = []

    def name(self, cid: str) -> str:
        if cid in self.introduced:
            return cid.title()
        self.introduced.add(cid)
        return _intro(cid, self.outline)

    def target(self, set_spec: SetSpec, target: str, cast: list[str]) -> str:
        if target in cast:
            return target.title()
        if target in {m.id for m in set_spec.marks}:
            return f"the {mark_phrase(set_spec, target)}"
        prop = next(p for p in set_spec.props if p.id == target)
        return f"the {(prop.aliases or [prop.id.replace('_', ' ')])[0]}"

    def paragraph(self, text: str) -> None:
        self.out.extend([text, ""])

    def action(self, item: ActionItem, set_spec: SetSpec, cast: list[str]) -> str:
        who = self.name(item.character)
        target = self.target(set_spec, item.target, cast) if item.target else ""
        person = item.target in cast
        verbs = {
            "enter": f"{who} enters" + (f" through {target}" if target and not person else ""),
            "exit": f"{who} leaves",
            "sit": f"{who} sits at {target}" if target and not person else f"{who} sits down",
            "stand_up": f"{who} stands up",
            "stop": f"{who} stops",
            "turn": f"{who} turns to {target}" if target else f"{who} turns around",
            "look": f"{who} looks at {target}" if target else f"{who} looks around",
            "point": f"{who} points at {target}" if target else f"{who} points ahead",
            "give": f"{who} hands it to {target}" if person else f"{who} hands it over",
            "take": (f"{who} takes it from {target}" if person else f"{who} takes {target}") if target
            else f"{who} takes it",
            "hold": f"{who} holds it",
            "open": f"{who} opens {target}" if target and not person else f"{who} opens it",
            "close": f"{who} closes {target}" if target and not person else f"{who} closes it",
            "wave": f"{who} waves at {target}" if target else f"{who} waves",
            "nod": f"{who} nods at {target}" if person else f"{who} nods",
            "shake_head": f"{who} shakes their head",
            "shrug": f"{who} shrugs",
            "lean": f"{who} leans on {target}" if target and not person else f"{who} leans back",
            "react": f"{who} smiles at {target}" if person else f"{who} smiles",
            "stay": f"{who} waits",
        }
        return verbs[item.action] + "."

    def move(self, item: MoveItem, set_spec: SetSpec) -> str:
        who = self.name(item.character)
        phrase = mark_phrase(set_spec, item.to_mark)
        if set_spec.mark(item.to_mark).kind == "sit":
            return f"{who} sits at the {phrase}."
        return f"{who} walks to the {phrase}."


def render_fountain(*, outline: Outline, draft: ScriptDraft, sets: dict[str, SetSpec]) -> str:
    """The draft as a Fountain screenplay.

    Args:
        outline: the director's outline (title, characters, sets, scene headings).
        draft: a script whose references have been checked (see ``roles.script_errors``).
        sets: the set of each outline set id.
    """
    writer = _Writer(outline, sets)
    writer.paragraph(f"Title: {clean_text(outline.title, limit=80)}\nCredit: written by the FilmCrew agents")
    by_id = dict(zip(scene_ids(outline), outline.scenes))
    choices = {s.id: s for s in outline.sets}
    for scene in draft.scenes:
        plan_scene = by_id[scene.scene]
        set_spec = sets[plan_scene.set]
        place = heading_location(choices[plan_scene.set].location, set_spec.kind)
        time = " ".join(re.sub(r"[^A-Z ]+", " ", plan_scene.time.upper()).split()) or "DAY"
        writer.paragraph(f"{plan_scene.int_ext}. {place} - {time}")
        opening = [_plain_prose(scene.description)]
        for place_item in scene.start:
            who = writer.name(place_item.character)
            phrase = mark_phrase(set_spec, place_item.mark)
            verb = "sits at" if set_spec.mark(place_item.mark).kind == "sit" else "stands at"
            opening.append(f"{who} {verb} the {phrase}.")
        placed = {p.character for p in scene.start}
        for cid in plan_scene.cast:
            first = next((b for b in scene.beats if getattr(b, "character", None) == cid), None)
            enters = isinstance(first, ActionItem) and first.action == "enter"
            if cid not in placed and cid not in writer.introduced and first is not None and not enters:
                opening.append(f"{writer.name(cid)} is there.")
        writer.paragraph(" ".join(opening))
        for item in scene.beats:
            if isinstance(item, LineItem):
                writer.introduced.add(item.character)
                paren = clean_text(item.parenthetical, limit=60).replace("(", "").replace(")", "")
                text = clean_text(item.text).lstrip("(")
                lines = [item.character] + ([f"({paren})"] if paren else []) + [text or "..."]
                writer.paragraph("\n".join(lines))
            elif isinstance(item, ActionItem):
                writer.paragraph(writer.action(item, set_spec, plan_scene.cast))
            elif isinstance(item, MoveItem):
                writer.paragraph(writer.move(item, set_spec))
            elif isinstance(item, PauseItem):
                writer.paragraph("A long pause." if item.long else "A pause.")
    return "\n".join(writer.out).rstrip() + "\n"


def unstaged_beats(*, draft: ScriptDraft, plan: Plan) -> list[str]:
    """Scripted actions and moves that the staged plan does not perform (in order, per character)."""
    missing = []
    for scene, staged in zip(draft.scenes, plan.scenes):
        set_spec = plan.set(staged.set)
        done: dict[str, list[tuple[str, str]]] = {}
        for beat in staged.beats:
            if isinstance(beat, ActionBeat):
                done.setdefault(beat.character, []).append(("action", beat.action))
            elif isinstance(beat, MoveBeat):
                done.setdefault(beat.character, []).append(("move", beat.to_mark))
        starts = {p.character: p.mark for p in staged.start}
        for place in scene.start:
            if starts.get(place.character) != place.mark:
                missing.append(f"{scene.scene}: {place.character} starts at {starts.get(place.character)}, "
                               f"not {place.mark}")
        cursor: dict[str, int] = {}
        for index, item in enumerate(scene.beats):
            wanted = []
            if isinstance(item, MoveItem):
                wanted.append(("move", item.to_mark))
                if set_spec.mark(item.to_mark).kind == "sit":
                    wanted.append(("action", "sit"))
            elif isinstance(item, ActionItem):
                wanted.append(("action", item.action))
            for step in wanted:
                sequence = done.get(item.character, [])
                start = cursor.get(item.character, 0)
                hit = next((i for i in range(start, len(sequence)) if sequence[i] == step), None)
                if hit is None:
                    missing.append(f"{scene.scene} beat {index}: {item.character} {step[0]} {step[1]}")
                else:
                    cursor[item.character] = hit + 1
    return missing
