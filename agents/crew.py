"""The crew: director, screenwriter, one actor per character and the cinematographer.

Each role is an object with the methods of its protocol below, backed by a model
(``llm``: a prompt plus a typed answer through :class:`~.llm.ChatClient`) or by rules
(``offline``: the deterministic director of :mod:`.offline`). ``--roles`` picks per role.

How they work together:

1. the director turns the idea into an outline (logline, characters, sets from the recipes,
   scenes);
2. the screenwriter writes the script; the director critiques it, the screenwriter corrects,
   the director verifies, for at most ``review_rounds`` rounds;
3. each actor revises their own lines and actions; the director accepts or sends notes back
   (same cap); a revision that is never accepted is dropped;
4. the script is written as Fountain and directed offline (staging stays deterministic);
5. two cinematographers propose shot lists, the director picks one or merges them, and the
   choice replaces the offline coverage of the scenes where it validates.

Every draft is checked; each dangling reference goes back to the agent that wrote it with the
exact error line. When repair runs out the crew keeps the last valid state; when there is none
(no outline, no script) it stops with a one-line error.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import FilmCrewError, PlanError
from ..plan.io import plan_from_data
from ..plan.model import ANGLES, FRAMINGS, MOVEMENTS, SIZES, Plan, SetSpec, reference_errors
from ..plan.actions import ACTIONS
from ..screenplay import Screenplay, parse_fountain
from ..staging.sets import load_recipe, recipe_keywords, recipe_kinds
from .config import AgentError, LLMSettings
from .llm import Answer, ChatClient, Transcript
from .offline import direct_screenplay
from .roles import (ActorRevision, Judgement, Note, Outline, Review, ScriptDraft, ShotList, ShotSpec,
                    SceneShots, apply_revision, judgement_errors, outline_errors, review_errors,
                    revision_errors, scene_ids, script_errors, shot_list_errors)
from .script import render_fountain, unstaged_beats

CREW_VERSION = 1
STYLES = {
    "A": "classical coverage: open wide, then singles and over-the-shoulder shots on the speakers, "
         "static or gently moving camera, eye level",
    "B": "expressive coverage: fewer, longer shots; moves (dolly, truck, follow) carry the action; "
         "angles (low, high) and sizes that show power and distance between the characters",
}


# --- the role interface ----------------------------------------------------------------------
class Director(Protocol):
    backend: str

    def outline(self, *, idea: str) -> Answer[Outline]: ...

    def review_script(self, *, outline: Outline, draft: ScriptDraft) -> Answer[Review]: ...

    def review_revision(self, *, outline: Outline, draft: ScriptDraft, actor: str,
                        revision: ActorRevision) -> Answer[Review]: ...

    def judge(self, *, plan: Plan, proposals: dict[str, ShotList]) -> Answer[Judgement]: ...


class Screenwriter(Protocol):
    backend: str

    def write(self, *, outline: Outline) -> Answer[ScriptDraft]: ...

    def revise(self, *, outline: Outline, draft: ScriptDraft, notes: list[Note]) -> Answer[ScriptDraft]: ...


class Actor(Protocol):
    backend: str

    def revise(self, *, outline: Outline, draft: ScriptDraft, character: str,
               notes: list[Note]) -> Answer[ActorRevision]: ...


class Cinematographer(Protocol):
    backend: str

    def propose(self, *, plan: Plan, style: str) -> Answer[ShotList]: ...


# --- shared context --------------------------------------------------------------------------
def set_for(choice_kind: str, location: str) -> SetSpec:
    """The recipe set for an outline set, with the id the offline director will give it."""
    from .script import heading_location

    place = heading_location(location, choice_kind)
    set_id = re.sub(r"[^a-z0-9]+", "_", place.lower()).strip("_") or "set"
    return load_recipe(choice_kind, set_id=set_id)


def outline_sets(outline: Outline) -> dict[str, SetSpec]:
    return {s.id: set_for(s.kind, s.location) for s in outline.sets}


def _set_brief(set_spec: SetSpec) -> dict[str, Any]:
    return {"kind": set_spec.kind,
            "marks": [{"id": m.id, "kind": m.kind, **({"names": m.aliases[:2]} if m.aliases else {})}
                      for m in set_spec.marks],
            "props": [p.id for p in set_spec.props if not re.match(r"(city|tree|building|bush|kerb)_", p.id)][:20]}


def _input(task: str, data: Any) -> str:
    return f"TASK: {task}\nINPUT (JSON):\n{json.dumps(data, indent=1, ensure_ascii=False)}"


def _script_input(outline: Outline, sets: dict[str, SetSpec]) -> dict[str, Any]:
    places = {c.id: c.location for c in outline.sets}
    return {"title": outline.title, "logline": outline.logline,
            "characters": [{"id": c.id, "name": c.name, "profile": c.profile} for c in outline.characters],
            "scenes": [{"scene": sid, "heading": f"{s.int_ext}. {places[s.set]} - {s.time}", "set": s.set,
                        "cast": s.cast, "summary": s.summary}
                       for sid, s in zip(scene_ids(outline), outline.scenes)],
            "sets": {sid: _set_brief(spec) for sid, spec in sets.items()},
            "actions": {name: spec.summary for name, spec in ACTIONS.items()}}


def _plan_input(plan: Plan) -> dict[str, Any]:
    scenes = []
    for scene in plan.scenes:
        beats = []
        for i, beat in enumerate(scene.beats):
            entry: dict[str, Any] = {"beat": i, "type": beat.type, "seconds": beat.duration}
            for name in ("character", "text", "action", "target", "to_mark", "addressee"):
                value = getattr(beat, name, None)
                if value:
                    entry[name] = value
            beats.append(entry)
        offline = [{"first_beat": s.first_beat, "last_beat": s.last_beat, "framing": s.framing, "size": s.size,
                    "subjects": s.subjects} for s in plan.shots if s.scene == scene.id]
        scenes.append({"scene": scene.id, "heading": f"{scene.heading.int_ext}. {scene.heading.location}",
                       "cast": scene.cast, "beats": beats, "rule_based_coverage": offline})
    return {"title": plan.title, "style": plan.style, "scenes": scenes,
            "vocabulary": {"framing": list(FRAMINGS), "size": list(SIZES), "angle": list(ANGLES),
                           "movement": list(MOVEMENTS)}}


# --- prompts ---------------------------------------------------------------------------------
_DATA = ("Everything you write is data for a film previsualisation tool: plain text, never code, "
         "paths or links. Use only the ids, marks, actions and terms given in the input.")
DIRECTOR_PROMPT = (
    "You are the DIRECTOR of a small film crew. " + _DATA + "\n"
    "For an idea, write the outline: a title, a one-sentence logline, a visual style prompt, 2-4 "
    "characters (id = first name in capitals, letters only; profile; appearance with gender 0 "
    "female .. 1 male, age in years, build 0..1, skin and outfit colours as #rrggbb), 1-3 sets, each "
    "a recipe kind from the list with a location as a scene heading names it, and 1-4 short "
    "scenes (set, INT or EXT, time of day, cast, a two-sentence summary).\n"
    "As reviewer you approve a draft or give precise notes (scene id, beat index, what to change); "
    "as judge of two shot lists you pick A or B, or merge them into one that covers every beat once.")
SCREENWRITER_PROMPT = (
    "You are the SCREENWRITER. " + _DATA + "\n"
    "Write each outline scene as beats: lines of dialogue (character id, text, optional "
    "parenthetical), actions (character, one action of the motion library, optional target: a "
    "character id or a mark id), moves (character to a mark id of the scene's set; a sit mark "
    "means sitting down there) and pauses. 'start' places characters on marks as the scene opens; "
    "someone who comes in later is left out of start and their first beat is the action 'enter'. "
    "The description shows the place only, without names. Keep scenes short (6-16 beats).")
ACTOR_PROMPT = (
    "You are the ACTOR playing {name} ({cid}): {profile}. " + _DATA + "\n"
    "Read the script and revise only your own beats so they fit your character: reword your lines, "
    "choose a better action or target. Each change names the scene, the beat index and the whole "
    "new beat, of the same kind, with character {cid}. Return no changes if the script already fits.")
CINEMATOGRAPHER_PROMPT = (
    "You are a CINEMATOGRAPHER. " + _DATA + "\n"
    "Give each scene a shot list that covers its beats in order, each beat exactly once (the first "
    "shot starts at beat 0, each next shot at the beat after the previous one's last_beat, the last "
    "ends at the scene's last beat). Use only the framing, size, angle and movement terms of the "
    "vocabulary and the scene's cast as subjects, and give each shot a one-line rationale. Avoid two "
    "consecutive shots of the same subjects and framing less than two sizes apart. Your approach: {style}.")


# --- llm backends ----------------------------------------------------------------------------
@dataclass
class LLMDirector:
    chat: ChatClient
    backend: str = "llm"

    def outline(self, *, idea: str) -> Answer[Outline]:
        kinds = {k: recipe_keywords(k)[:4] for k in recipe_kinds()}
        return self.chat.ask(role="director", system=DIRECTOR_PROMPT, output=Outline, check=outline_errors,
                             user=_input("outline", {"idea": idea, "set_recipes": kinds}))

    def review_script(self, *, outline: Outline, draft: ScriptDraft) -> Answer[Review]:
        return self.chat.ask(role="director", system=DIRECTOR_PROMPT, output=Review,
                             check=lambda r: review_errors(r, draft=draft),
                             user=_input("review_script", {"outline": outline.model_dump(mode="json"),
                                                           "script": draft.model_dump(mode="json")}))

    def review_revision(self, *, outline: Outline, draft: ScriptDraft, actor: str,
                        revision: ActorRevision) -> Answer[Review]:
        return self.chat.ask(role="director", system=DIRECTOR_PROMPT, output=Review,
                             check=lambda r: review_errors(r, draft=draft),
                             user=_input("review_actor", {"actor": actor, "outline": outline.model_dump(mode="json"),
                                                          "script": draft.model_dump(mode="json"),
                                                          "revision": revision.model_dump(mode="json")}))

    def judge(self, *, plan: Plan, proposals: dict[str, ShotList]) -> Answer[Judgement]:
        return self.chat.ask(role="director", system=DIRECTOR_PROMPT, output=Judgement,
                             check=lambda j: judgement_errors(j, plan=plan),
                             user=_input("judge_shots", {"plan": _plan_input(plan),
                                                         "proposals": {k: v.model_dump(mode="json")
                                                                       for k, v in proposals.items()}}))


@dataclass
class LLMScreenwriter:
    chat: ChatClient
    sets: dict[str, SetSpec] = field(default_factory=dict)
    history: list[dict[str, str]] | None = None
    backend: str = "llm"

    def _check(self, outline: Outline):
        return lambda d: script_errors(d, outline=outline, sets=self.sets)

    def write(self, *, outline: Outline) -> Answer[ScriptDraft]:
        answer = self.chat.ask(role="screenwriter", system=SCREENWRITER_PROMPT, output=ScriptDraft,
                               check=self._check(outline),
                               user=_input("write_script", _script_input(outline, self.sets)))
        self.history = answer.messages
        return answer

    def revise(self, *, outline: Outline, draft: ScriptDraft, notes: list[Note]) -> Answer[ScriptDraft]:
        user = _input("revise_script", {"director_notes": [n.model_dump(mode="json") for n in notes],
                                        "current_script": draft.model_dump(mode="json")})
        answer = self.chat.ask(role="screenwriter", system=SCREENWRITER_PROMPT, output=ScriptDraft,
                               check=self._check(outline), user=user, history=self.history)
        if answer.value is not None:
            self.history = answer.messages
        return answer


@dataclass
class LLMActor:
    chat: ChatClient
    sets: dict[str, SetSpec] = field(default_factory=dict)
    backend: str = "llm"

    def revise(self, *, outline: Outline, draft: ScriptDraft, character: str,
               notes: list[Note]) -> Answer[ActorRevision]:
        brief = next(c for c in outline.characters if c.id == character)
        system = ACTOR_PROMPT.format(name=brief.name, cid=brief.id, profile=brief.profile or "no profile")
        data = {"script": draft.model_dump(mode="json"), "your_beats": [
            {"scene": s.scene, "beat": i} for s in draft.scenes for i, b in enumerate(s.beats)
            if getattr(b, "character", None) == character],
            "sets": {sid: _set_brief(spec) for sid, spec in self.sets.items()},
            "actions": sorted(ACTIONS)}
        if notes:
            data["director_notes"] = [n.model_dump(mode="json") for n in notes]
        return self.chat.ask(role=f"actor:{character}", system=system, output=ActorRevision,
                             check=lambda r: revision_errors(r, actor=character, draft=draft, outline=outline,
                                                             sets=self.sets),
                             user=_input("revise_own_beats", data))


@dataclass
class LLMCinematographer:
    chat: ChatClient
    backend: str = "llm"

    def propose(self, *, plan: Plan, style: str) -> Answer[ShotList]:
        return self.chat.ask(role="cinematographer", output=ShotList,
                             system=CINEMATOGRAPHER_PROMPT.format(style=STYLES.get(style, style)),
                             check=lambda s: shot_list_errors(s, plan=plan),
                             user=_input("shot_list", _plan_input(plan)))


# --- offline backends ------------------------------------------------------------------------
def _offline_only(role: str, what: str) -> AgentError:
    return AgentError(f"the offline {role} cannot {what}; use --roles {role}=llm with an LLM endpoint, "
                      "or give a screenplay instead of --idea")


class OfflineDirector:
    """The rule-based director: stages screenplays; as a reviewer it approves, as a judge it keeps A."""

    backend = "offline"

    def outline(self, *, idea: str) -> Answer[Outline]:
        raise _offline_only("director", "turn an idea into an outline")

    def review_script(self, *, outline: Outline, draft: ScriptDraft) -> Answer[Review]:
        return Answer(Review(approved=True), [])

    def review_revision(self, *, outline, draft, actor, revision) -> Answer[Review]:
        return Answer(Review(approved=True), [])

    def judge(self, *, plan: Plan, proposals: dict[str, ShotList]) -> Answer[Judgement]:
        return Answer(Judgement(choice="A", rationale="the rule-based director keeps the first proposal"), [])


class OfflineScreenwriter:
    backend = "offline"

    def write(self, *, outline: Outline) -> Answer[ScriptDraft]:
        raise _offline_only("screenwriter", "write a script from an outline")

    def revise(self, *, outline, draft, notes) -> Answer[ScriptDraft]:
        return Answer(draft, [])


class OfflineActor:
    """Plays the lines as written."""

    backend = "offline"

    def revise(self, *, outline, draft, character, notes) -> Answer[ActorRevision]:
        return Answer(ActorRevision(), [])


class OfflineCinematographer:
    """The rule-based coverage of :mod:`.coverage`, which the offline director already made."""

    backend = "offline"

    def propose(self, *, plan: Plan, style: str) -> Answer[ShotList]:
        scenes = [SceneShots(scene=scene.id, shots=[
            ShotSpec(first_beat=s.first_beat, last_beat=s.last_beat, framing=s.framing, size=s.size,
                     angle=s.angle, movement=s.movement, subjects=s.subjects, rationale=s.rationale or "coverage")
            for s in plan.shots if s.scene == scene.id]) for scene in plan.scenes]
        return Answer(ShotList(scenes=scenes), [])


# --- the crew --------------------------------------------------------------------------------
@dataclass
class CrewReport:
    invalid_refs_before: int = 0
    invalid_refs_after: int = 0
    review: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    unstaged: list[str] = field(default_factory=list)


@dataclass
class CrewResult:
    plan: Plan
    fountain: str | None
    report: dict[str, Any]


class Crew:
    """The four roles over one chat client (when any role uses a model).

    Args:
        settings: server, model, rounds and which backend each role uses.
        workdir: the production folder's ``agents/`` (cache and transcript); None keeps nothing.
        cancel: set it to stop at the next request, wait or streamed chunk.
    """

    def __init__(self, *, settings: LLMSettings, workdir: Path | None, cancel: threading.Event | None = None,
                 idea: bool) -> None:
        self.settings = settings
        roles = {r: settings.backend(r) for r in ("director", "screenwriter", "actor", "cinematographer")}
        if idea:
            roles = {r: settings.roles.get(r, "llm") for r in roles}
        else:  # a written screenplay is staged as written; a model may judge and shoot it
            roles.update(screenwriter="offline", actor="offline")
        self.roles = roles
        self.transcript = Transcript(workdir / "transcript.jsonl" if workdir else None)
        self.chat: ChatClient | None = None
        if "llm" in roles.values():
            settings.require_endpoint(why="--idea" if idea else "--roles ...=llm")
            self.chat = ChatClient(settings=settings, cache_dir=workdir / "cache" if workdir else None,
                                   transcript=self.transcript, cancel=cancel)
        self.director: Director = LLMDirector(self.chat) if roles["director"] == "llm" else OfflineDirector()
        self.screenwriter: Screenwriter = LLMScreenwriter(self.chat) if roles["screenwriter"] == "llm" \
            else OfflineScreenwriter()
        self.actor: Actor = LLMActor(self.chat) if roles["actor"] == "llm" else OfflineActor()
        self.cinematographer: Cinematographer = LLMCinematographer(self.chat) \
            if roles["cinematographer"] == "llm" else OfflineCinematographer()
        self.log = CrewReport()

    # --- helpers ---------------------------------------------------------------------------
    def _count_first(self, answer: Answer) -> None:
        if answer.first_ref_errors:
            self.log.invalid_refs_before += len(answer.first_ref_errors)

    def _fail(self, role: str, answer: Answer, kept: str) -> None:
        errors = "; ".join(answer.errors[:3]) + (" ..." if len(answer.errors) > 3 else "")
        self.log.failures.append(f"{role}: still invalid after {answer.attempts} attempt(s) ({errors}); kept {kept}")
        self.transcript.write({"role": role, "event": "kept_last_valid", "kept": kept, "errors": answer.errors})

    def _required(self, role: str, answer: Answer):
        self._count_first(answer)
        if answer.value is None:
            errors = "; ".join(answer.errors[:3])
            raise AgentError(f"{role}: no valid answer after {answer.attempts} attempt(s): {errors}")
        return answer.value

    # --- idea to plan ------------------------------------------------------------------------
    def plan_idea(self, *, idea: str, fps: int, resolution: tuple[int, int]) -> CrewResult:
        """Idea → outline → reviewed script → Fountain → offline staging → shots."""
        started = time.perf_counter()
        idea = " ".join(idea.split())
        if not idea:
            raise AgentError("the idea is empty", field="--idea")
        outline = self._required("director", self.director.outline(idea=idea))
        sets = outline_sets(outline)
        for role in (self.screenwriter, self.actor):
            if hasattr(role, "sets"):
                role.sets = sets
        draft = self._required("screenwriter", self.screenwriter.write(outline=outline))
        draft = self._review_script(outline, draft)
        draft = self._actors(outline, draft, sets)
        fountain = render_fountain(outline=outline, draft=draft, sets=sets)
        screenplay = parse_fountain(fountain, source="screenplay.fountain")
        plan = self._staged(screenplay, outline, fps=fps, resolution=resolution)
        self.log.unstaged = unstaged_beats(draft=draft, plan=plan)
        plan = self._shoot(plan)
        leftover = script_errors(draft, outline=outline, sets=sets) + reference_errors(plan)
        self.log.invalid_refs_after = len(leftover)
        return CrewResult(plan, fountain, self._report(time.perf_counter() - started))

    def plan_screenplay(self, *, screenplay: Screenplay, fps: int, resolution: tuple[int, int]) -> CrewResult:
        """A written screenplay, directed offline; a model cinematographer may replace the coverage."""
        started = time.perf_counter()
        plan = direct_screenplay(screenplay=screenplay, fps=fps, resolution=resolution)
        plan = self._shoot(plan)
        self.log.invalid_refs_after = len(reference_errors(plan))
        return CrewResult(plan, None, self._report(time.perf_counter() - started))

    def _review_script(self, outline: Outline, draft: ScriptDraft) -> ScriptDraft:
        rounds = 0
        approved = False
        for rounds in range(self.settings.review_rounds + 1):
            review = self.director.review_script(outline=outline, draft=draft)
            self._count_first(review)
            if review.value is None:
                self._fail("director", review, "the last script without review")
                break
            if review.value.approved:
                approved = True
                break
            if rounds == self.settings.review_rounds:
                break
            revised = self.screenwriter.revise(outline=outline, draft=draft, notes=review.value.notes)
            self._count_first(revised)
            if revised.value is None:
                self._fail("screenwriter", revised, "the last valid script")
                break
            draft = revised.value
        self.log.review["script"] = {"reviews": rounds + 1, "approved": approved}
        return draft

    def _actors(self, outline: Outline, draft: ScriptDraft, sets: dict[str, SetSpec]) -> ScriptDraft:
        speaking = [c.id for c in outline.characters
                    if any(getattr(b, "character", None) == c.id for s in draft.scenes for b in s.beats)]
        accepted: dict[str, int] = {}
        for cid in speaking:
            notes: list[Note] = []
            for _attempt in range(self.settings.review_rounds + 1):
                answer = self.actor.revise(outline=outline, draft=draft, character=cid, notes=notes)
                if not notes:
                    self._count_first(answer)
                if answer.value is None:
                    self._fail(f"actor:{cid}", answer, "the script before this actor's revision")
                    break
                if not answer.value.changes:
                    break
                review = self.director.review_revision(outline=outline, draft=draft, actor=cid,
                                                       revision=answer.value)
                self._count_first(review)
                if review.value is not None and review.value.approved:
                    candidate = apply_revision(draft, answer.value)
                    if not script_errors(candidate, outline=outline, sets=sets):
                        draft = candidate
                        accepted[cid] = len(answer.value.changes)
                    break
                if review.value is None:
                    self._fail("director", review, f"the script without {cid}'s revision")
                    break
                notes = review.value.notes
            else:
                self.log.failures.append(f"actor:{cid}: revision not accepted after "
                                         f"{self.settings.review_rounds + 1} round(s); kept the script before it")
        self.log.review["actors"] = {cid: accepted.get(cid, 0) for cid in speaking}
        return draft

    def _staged(self, screenplay: Screenplay, outline: Outline, *, fps: int,
                resolution: tuple[int, int]) -> Plan:
        try:
            plan = direct_screenplay(screenplay=screenplay, fps=fps, resolution=resolution)
        except FilmCrewError as exc:
            raise AgentError(f"the agents' script cannot be staged: {exc}") from None
        briefs = {c.id: c for c in outline.characters}
        data = plan.model_dump(mode="json")
        data.update(title=outline.title, logline=outline.logline, style=outline.style)
        for character in data["characters"]:
            brief = briefs.get(character["id"])
            if brief is not None:
                character.update(name=brief.name, profile=brief.profile,
                                 appearance=brief.appearance.model_dump(mode="json"))
        return plan_from_data(data, source="the agents' plan")

    # --- cinematography ------------------------------------------------------------------------
    def _shoot(self, plan: Plan) -> Plan:
        if self.cinematographer.backend == "offline":
            self.log.review["cinematographer"] = {"choice": "offline"}
            return plan
        proposals: dict[str, ShotList] = {}
        for name in STYLES:
            answer = self.cinematographer.propose(plan=plan, style=name)
            self._count_first(answer)
            if answer.value is None:
                self._fail("cinematographer", answer, f"no proposal {name}")
            else:
                proposals[name] = answer.value
        if not proposals:
            self.log.review["cinematographer"] = {"choice": "offline"}
            return plan
        choice, shots = next(iter(proposals.items()))
        if len(proposals) == 2:
            judgement = self.director.judge(plan=plan, proposals=proposals)
            self._count_first(judgement)
            if judgement.value is None:
                self._fail("director", judgement, f"proposal {choice}")
            elif judgement.value.choice == "merge":
                choice, shots = "merge", judgement.value.merged
            else:
                choice, shots = judgement.value.choice, proposals[judgement.value.choice]
        plan, replaced = apply_shots(plan, shots)
        self.log.review["cinematographer"] = {"proposals": sorted(proposals), "choice": choice,
                                              "scenes_replaced": replaced}
        return plan

    # --- report --------------------------------------------------------------------------------
    def _report(self, seconds: float) -> dict[str, Any]:
        stats = self.chat.stats if self.chat else {}
        prices = self.settings.prices
        model_seconds = sum(s.model_seconds for s in stats.values())
        agents: dict[str, Any] = {
            "version": CREW_VERSION,
            "roles": dict(self.roles),
            "usage": {role: s.report(prices) for role, s in sorted(stats.items())},
            "review": self.log.review,
            "failures": self.log.failures,
            "seconds": round(seconds, 3),
            "seconds_outside_model": round(seconds - model_seconds, 3),
        }
        if self.chat is not None:
            agents.update(endpoint=self.settings.public_endpoint, model=self.settings.model,
                          structured_output=self.chat.mode)
            if self.settings.models:
                agents["models"] = dict(sorted(self.settings.models.items()))
        if self.log.unstaged or self.roles["screenwriter"] == "llm":
            agents["script_beats_unstaged"] = len(self.log.unstaged)
        return {"agents": agents, "plan": {"invalid_refs_before_review": self.log.invalid_refs_before,
                                           "invalid_refs_after_review": self.log.invalid_refs_after}}


def apply_shots(plan: Plan, shots: ShotList) -> tuple[Plan, list[str]]:
    """Replace the coverage of each scene whose proposed shots make a valid plan."""
    data = plan.model_dump(mode="json")
    numbers = {s.id: n for n, s in enumerate(plan.scenes, start=1)}
    replaced = []
    for entry in shots.scenes:
        if entry.scene not in numbers:
            continue
        new = [{"id": f"S{numbers[entry.scene]:02d}_{k:03d}", "scene": entry.scene, **s.model_dump(mode="json")}
               for k, s in enumerate(entry.shots, start=1)]
        trial = dict(data)
        trial["shots"] = [s for s in data["shots"] if s["scene"] != entry.scene] + new
        trial["shots"].sort(key=lambda s: (numbers[s["scene"]], s["first_beat"]))
        try:
            plan_from_data(trial)
        except PlanError:
            continue
        data = trial
        replaced.append(entry.scene)
    return plan_from_data(data, source="the agents' plan"), replaced


# --- the plan stage's entry points -----------------------------------------------------------
def uses_crew(*, idea: str | None, llm: LLMSettings | None) -> bool:
    """True when the plan stage needs the crew: an idea, or a role set to ``llm``."""
    return idea is not None or (llm is not None and "llm" in llm.roles.values())


def check_crew_settings(*, idea: str | None, llm: LLMSettings | None) -> None:
    """Fail at once, before any file is touched, when the crew has no endpoint to talk to."""
    if not uses_crew(idea=idea, llm=llm):
        return
    llm = llm or LLMSettings()
    if idea is not None:
        for role in ("director", "screenwriter"):
            if llm.roles.get(role) == "offline":
                raise _offline_only(role, "write from an idea")
        llm.require_endpoint(why="--idea")
    else:
        llm.require_endpoint(why="--roles ...=llm")


def crew_inputs(*, idea: str | None, llm: LLMSettings) -> dict[str, Any]:
    """What the crew's output depends on, for the plan stage's input hash (no API key)."""
    return {"idea": " ".join(idea.split()) if idea is not None else None, "crew": CREW_VERSION,
            "endpoint": llm.public_endpoint, "model": llm.model, "roles": dict(sorted(llm.roles.items())),
            "models": dict(sorted(llm.models.items())),
            "review_rounds": llm.review_rounds, "repair_rounds": llm.repair_rounds,
            "temperature": llm.temperature, "seed": llm.seed, "structured_output": llm.structured_output}


def plan_with_crew(*, idea: str | None, screenplay: Screenplay | None, llm: LLMSettings, workdir: Path,
                   fps: int, resolution: tuple[int, int], source: str,
                   cancel: threading.Event | None = None) -> tuple[Screenplay, Plan, dict[str, Any]]:
    """Run the crew for the plan stage.

    Returns:
        The screenplay (as given, or as the agents wrote it), the plan, and the report sections.
    """
    crew = Crew(settings=llm, workdir=workdir, cancel=cancel, idea=idea is not None)
    if idea is not None:
        result = crew.plan_idea(idea=idea, fps=fps, resolution=resolution)
        screenplay = parse_fountain(result.fountain, source=source)
    else:
        result = crew.plan_screenplay(screenplay=screenplay, fps=fps, resolution=resolution)
    return screenplay, result.plan, result.report
