"""The agent crew against a real Chat Completions server on 127.0.0.1, through the real `openai` client.

The server (agents/loopback.py) answers every role with a scripted story and injects faults:
malformed JSON, hallucinated references, refusals, 429 with Retry-After, 500, answers slower
than the timeout, a server without JSON Schema support.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from filmcrew.audio.voices import voice_plan

from filmcrew.agents.config import AgentError, CancelledError, LLMSettings, Prices, load_settings, parse_roles
from filmcrew.agents.coverage import cover_scene
from filmcrew.agents.crew import Crew
from filmcrew.agents.loopback import SCRIPT, Fault, LoopbackServer, ScriptedCrewModel, _check_story, task_of
from filmcrew.agents.offline import direct_screenplay
from filmcrew.agents.roles import Outline, ScriptDraft
from filmcrew.agents.script import render_fountain
from filmcrew.agents.crew import outline_sets
from filmcrew.agents.loopback import OUTLINE
from filmcrew.cli import main
from filmcrew.pipeline import plan_production
from filmcrew.plan import load_plan
from filmcrew.screenplay import load_screenplay, parse_fountain

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"
IDEA = "Two rival chefs share one kitchen for a televised cook-off"
KEY = "sk-loopback-7f3a9c0e5b1d"


def settings(server: LoopbackServer, **kw) -> LLMSettings:
    base = dict(base_url=server.url, model="scripted-crew", api_key=KEY, timeout=5.0, backoff_base=0.01)
    base.update(kw)
    return LLMSettings(**base)


def plan_idea(out: Path, llm: LLMSettings, **kw):
    return plan_production(idea=IDEA, out=out, fps=6, resolution=(96, 54), llm=llm, **kw)


def report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def transcript(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "agents" / "transcript.jsonl").read_text().splitlines()]


def requests_for(server: LoopbackServer, task: str) -> list[dict]:
    return [r["body"] for r in server.requests if r["body"]["messages"][1]["content"].startswith(f"TASK: {task}")]


def test_scripted_story_uses_real_marks():
    _check_story()


# --- the happy path ------------------------------------------------------------------------------
def test_idea_to_plan_with_a_well_behaved_server(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text(json.dumps({"continuity": {"jump_cuts": 1}, "plan": {"schema_errors": 0}}))
    with LoopbackServer(ScriptedCrewModel()) as server:
        result = plan_idea(out, settings(server))
        tasks = server.tasks()
        auth = {r["authorization"] for r in server.requests}
    assert not result.skipped
    plan = load_plan(out / "plan.json")  # validates schema and references
    assert plan.title == "Two Chefs, One Kitchen"
    assert {c.id for c in plan.characters} == {"MARCO", "ELENA"}
    marco = plan.character("MARCO")
    assert marco.name == "Marco Bellini" and marco.appearance.age_years == 52 and marco.appearance.gender == 1.0
    assert [s.kind for s in plan.sets] == ["kitchen", "street"]
    fountain = (out / "screenplay.fountain").read_text()
    assert fountain == (out / "screenplay.fountain").read_text() and "INT. TV STUDIO KITCHEN - DAY" in fountain
    assert (out / "screenplay.pdf").is_file()
    lines = [b.text for s in plan.scenes for b in s.beats if b.type == "dialogue"]
    assert "Fine. We share it. Tonight only." in lines            # the director's review was acted on
    assert any(t.endswith("Don't touch my knives.") for t in lines)  # the actor's revision was accepted
    # the judge merged A (static) for the kitchen and B (dolly in on singles) for the street
    s1 = [s for s in plan.shots if s.scene == "S01"]
    s2 = [s for s in plan.shots if s.scene == "S02"]
    assert all(s.movement == "static" for s in s1)
    assert any(s.movement == "dolly_in" and s.angle == "low" for s in s2)
    assert all(s.rationale for s in plan.shots)
    assert tasks == ["outline", "write_script", "review_script", "revise_script", "review_script",
                     "revise_own_beats", "review_actor", "revise_own_beats", "shot_list", "shot_list", "judge_shots"]
    assert auth == {f"Bearer {KEY}"}
    data = report(out)
    assert data["continuity"] == {"jump_cuts": 1}                # other stages' keys are kept
    assert data["plan"] == {"schema_errors": 0, "invalid_refs_before_review": 0, "invalid_refs_after_review": 0}
    agents = data["agents"]
    assert agents["structured_output"] == "json_schema" and agents["script_beats_unstaged"] == 0
    assert agents["review"]["script"] == {"reviews": 2, "approved": True}
    assert agents["review"]["cinematographer"]["choice"] == "merge"
    usage = agents["usage"]
    assert set(usage) == {"director", "screenwriter", "actor:MARCO", "actor:ELENA", "cinematographer"}
    assert usage["director"]["calls"] == 5 and usage["cinematographer"]["calls"] == 2
    assert all(u["prompt_tokens"] > 0 and u["completion_tokens"] > 0 for u in usage.values())
    assert "cost_usd" not in usage["director"]                  # no price table: no cost
    events = transcript(out)
    completions = [e for e in events if e["event"] == "completion"]
    assert len(completions) == 11 and completions[0]["messages"][0]["role"] == "system"
    assert completions[0]["answer"]["content"].startswith("{")
    # the API key is handed to the client only: nowhere in the production folder
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_streaming_gives_the_same_plan_and_counts_tokens(tmp_path):
    with LoopbackServer(ScriptedCrewModel()) as server:
        plan_idea(tmp_path / "plain", settings(server))
        plan_idea(tmp_path / "streamed", settings(server, stream=True, seed=8))
        streamed = [r["body"] for r in server.requests if r["body"].get("stream")]
    assert len(streamed) == 11
    assert load_plan(tmp_path / "plain" / "plan.json") == load_plan(tmp_path / "streamed" / "plan.json")
    usage = report(tmp_path / "streamed")["agents"]["usage"]
    assert usage["screenwriter"]["completion_tokens"] > 100


def test_price_table_gives_cost_per_role(tmp_path):
    with LoopbackServer(ScriptedCrewModel()) as server:
        plan_idea(tmp_path / "out", settings(server, prices=Prices(prompt=1.0, completion=2.0)))
    usage = report(tmp_path / "out")["agents"]["usage"]
    director = usage["director"]
    assert director["cost_usd"] == pytest.approx((director["prompt_tokens"] + 2 * director["completion_tokens"]) / 1e6)


# --- the loops repair what they can ---------------------------------------------------------------
def test_review_loops_repair_injected_errors(tmp_path):
    faults = [Fault("hallucinate", task="outline"), Fault("hallucinate", task="write_script"),
              Fault("malformed", task="review_script"), Fault("hallucinate", task="revise_own_beats"),
              Fault("refusal", task="revise_own_beats"), Fault("hallucinate", task="shot_list")]
    with LoopbackServer(ScriptedCrewModel(faults)) as server:
        plan_idea(tmp_path / "out", settings(server))
        repair_to_writer = requests_for(server, "write_script")[1]["messages"][-1]["content"]
        repair_to_director = requests_for(server, "outline")[1]["messages"][-1]["content"]
        repair_to_camera = requests_for(server, "shot_list")[1]["messages"][-1]["content"]
        actor_calls = [r for r in requests_for(server, "revise_own_beats") if "(MARCO)" in r["messages"][0]["content"]]
    plan = load_plan(tmp_path / "out" / "plan.json")
    assert plan.sets[0].kind == "kitchen"
    data = report(tmp_path / "out")
    # outline: kind 'spaceship', cast 'GHOST'; script: 'moonwalk', 'fridge_top'; actor: wrong character;
    # shots: 'whip_pan', 'GHOST'
    assert data["plan"]["invalid_refs_before_review"] == 7
    assert data["plan"]["invalid_refs_after_review"] == 0
    assert "sets[0].kind: unknown set kind 'spaceship'" in repair_to_director
    assert "scenes[0].cast[2]: unknown character 'GHOST'" in repair_to_director
    assert "scenes[0].beats[1].action: unknown action 'moonwalk'" in repair_to_writer
    assert "scenes[0].beats[2].to_mark: unknown mark 'fridge_top' in set 'kitchen'" in repair_to_writer
    assert "scenes[0].shots[0].movement: unknown movement 'whip_pan'" in repair_to_camera
    assert "scenes[0].shots[0].subjects[0]: 'GHOST' is not in the cast of S01" in repair_to_camera
    assert len(actor_calls) == 3  # wrong character, then a refusal, then a valid revision
    assert "changes[0].item.character: must be MARCO" in actor_calls[1]["messages"][-1]["content"]
    assert "fiction" in actor_calls[2]["messages"][-1]["content"]
    usage = data["agents"]["usage"]
    assert usage["director"]["repairs"] == 2 and usage["screenwriter"]["repairs"] == 1
    assert usage["actor:MARCO"]["repairs"] == 2 and usage["actor:MARCO"]["refusals"] == 1
    assert data["agents"]["failures"] == []
    rejected = [e for e in transcript(tmp_path / "out") if e["event"] == "rejected"]
    assert {e["role"] for e in rejected} == {"director", "screenwriter", "actor:MARCO", "cinematographer"}


def test_repair_that_runs_out_keeps_the_last_valid_state(tmp_path):
    faults = [Fault("hallucinate", task="shot_list", times=99)]
    with LoopbackServer(ScriptedCrewModel(faults)) as server:
        plan_idea(tmp_path / "out", settings(server, repair_rounds=1))
        assert server.tasks().count("shot_list") == 4 and "judge_shots" not in server.tasks()
    plan = load_plan(tmp_path / "out" / "plan.json")
    offline = [cover_scene(scene=s, scene_number=n, exterior=not plan.set(s.set).interior)
               for n, s in enumerate(plan.scenes, start=1)]
    assert plan.shots == [shot for scene in offline for shot in scene]   # the rule-based coverage
    data = report(tmp_path / "out")
    assert data["agents"]["review"]["cinematographer"] == {"choice": "offline"}
    assert len(data["agents"]["failures"]) == 2 and "whip_pan" in data["agents"]["failures"][0]
    assert data["plan"] == {"invalid_refs_before_review": 4, "invalid_refs_after_review": 0}


def test_no_valid_outline_is_a_clear_failure(tmp_path, capsys):
    with LoopbackServer(ScriptedCrewModel([Fault("refusal", task="outline", times=99)])) as server:
        code = main(["-q", "plan", "--idea", IDEA, "--out", str(tmp_path / "out"), "--llm-base-url", server.url,
                     "--llm-model", "scripted-crew"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("filmcrew: error: director: no valid answer after 3 attempt(s): you declined")
    assert not (tmp_path / "out" / "plan.json").exists()


def test_malformed_json_everywhere_runs_out(tmp_path):
    with LoopbackServer(ScriptedCrewModel([Fault("malformed", times=99)])) as server:
        with pytest.raises(AgentError, match=r"director: no valid answer after 2 attempt\(s\): not valid JSON"):
            plan_idea(tmp_path / "out", settings(server, repair_rounds=1))


# --- structured output and transport ------------------------------------------------------------
def test_server_without_json_schema_gets_json_mode(tmp_path):
    with LoopbackServer(ScriptedCrewModel(), json_schema=False) as server:
        plan_idea(tmp_path / "out", settings(server))
        formats = [(r["body"].get("response_format") or {}).get("type") for r in server.requests]
        second = server.requests[1]["body"]
    assert formats[0] == "json_schema" and set(formats[1:]) == {"json_object"}
    assert '"title"' in second["messages"][0]["content"]      # the schema moved into the prompt
    assert report(tmp_path / "out")["agents"]["structured_output"] == "json_object"
    load_plan(tmp_path / "out" / "plan.json")
    server_modes = json.loads((tmp_path / "out" / "agents" / "cache" / "server.json").read_text())
    assert list(server_modes.values()) == ["json_object"]


def test_429_with_retry_after_and_500_are_retried(tmp_path):
    faults = [Fault("status", task="outline", status=429, headers={"Retry-After": "1"}),
              Fault("status", task="write_script", status=500, times=2)]
    with LoopbackServer(ScriptedCrewModel(faults)) as server:
        started = time.monotonic()
        plan_idea(tmp_path / "out", settings(server))
        elapsed = time.monotonic() - started
    assert elapsed >= 1.0                     # waited what Retry-After asked
    usage = report(tmp_path / "out")["agents"]["usage"]
    assert usage["director"]["retries"] == 1 and usage["screenwriter"]["retries"] == 2
    retries = [e for e in transcript(tmp_path / "out") if e["event"] == "retry"]
    assert retries[0]["retry_after"] == 1.0 and retries[0]["error"].startswith("429")
    assert retries[1]["error"].startswith("500")
    load_plan(tmp_path / "out" / "plan.json")


def test_failing_server_gives_up_with_one_line(tmp_path):
    with LoopbackServer(ScriptedCrewModel([Fault("status", status=503, times=99)])) as server:
        with pytest.raises(AgentError) as info:
            plan_idea(tmp_path / "out", settings(server, retries=2))
    message = str(info.value)
    assert "\n" not in message and "director: 503" in message and "gave up after 3 attempt(s)" in message


def test_answer_slower_than_the_timeout_is_retried(tmp_path):
    with LoopbackServer(ScriptedCrewModel([Fault("slow", task="outline", delay=2.0)])) as server:
        started = time.monotonic()
        plan_idea(tmp_path / "out", settings(server, timeout=0.5))
        elapsed = time.monotonic() - started
        assert server.tasks()[:2] == ["outline", "outline"]
    assert elapsed < 10
    assert report(tmp_path / "out")["agents"]["usage"]["director"]["retries"] == 1
    assert "timed out" in [e for e in transcript(tmp_path / "out") if e["event"] == "retry"][0]["error"]


def test_cancel_stops_a_retry_wait(tmp_path):
    cancel = threading.Event()
    faults = [Fault("status", task="outline", status=429, headers={"Retry-After": "60"})]
    with LoopbackServer(ScriptedCrewModel(faults)) as server:
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(CancelledError, match="cancelled"):
            plan_idea(tmp_path / "out", settings(server), cancel=cancel)
    assert time.monotonic() - started < 5


# --- cache: reruns and crashes -------------------------------------------------------------------
def test_rerun_is_free_and_gives_the_same_plan(tmp_path):
    out = tmp_path / "out"
    with LoopbackServer(ScriptedCrewModel()) as server:
        plan_idea(out, settings(server))
        first = (out / "plan.json").read_text()
        asked = len(server.requests)
        assert plan_idea(out, settings(server)).skipped                  # nothing changed: stage skipped
        plan_idea(out, settings(server), force=True)                      # re-run the crew: all cached
        assert len(server.requests) == asked
    assert (out / "plan.json").read_text() == first
    usage = report(out)["agents"]["usage"]
    assert all(u["calls"] == 0 and u["prompt_tokens"] == 0 for u in usage.values())
    assert sum(u["cached_calls"] for u in usage.values()) == 11


def test_crash_mid_run_resumes_from_the_cache(tmp_path):
    # Generous timeouts: a retry after a timeout on a busy machine would add requests to the count.
    with LoopbackServer(ScriptedCrewModel()) as server:
        plan_idea(tmp_path / "clean", settings(server, timeout=60.0))
        total = len(server.requests)
    holder: dict = {}

    def kill_on_sixth(number: int, body: dict) -> None:
        if number == 6:
            os.kill(holder["proc"].pid, signal.SIGKILL)
            holder["killed"] = True

    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "FILMCREW_"))}
    env.update(OPENAI_API_KEY=KEY, HOME=str(tmp_path))
    with LoopbackServer(ScriptedCrewModel(), on_request=kill_on_sixth) as server:
        holder["proc"] = subprocess.Popen(
            [sys.executable, "-m", "filmcrew.cli", "-q", "plan", "--idea", IDEA, "--out", str(out), "--fps", "6",
             "--resolution", "96x54", "--llm-base-url", server.url, "--llm-model", "scripted-crew",
             "--llm-timeout", "60"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert holder["proc"].wait(timeout=120) == -signal.SIGKILL and holder.get("killed")
        assert not (out / "plan.json").exists()
        cached = list((out / "agents" / "cache").glob("*/*.json"))
        assert len(cached) == 5
        server.requests.clear()
        server.on_request = None
        plan_idea(out, settings(server, timeout=60.0))
        assert len(server.requests) == total - 5          # the five answered calls came from the cache
    assert (out / "plan.json").read_text() == (tmp_path / "clean" / "plan.json").read_text()
    usage = report(out)["agents"]["usage"]
    assert sum(u["cached_calls"] for u in usage.values()) == 5


# --- roles, settings, security -------------------------------------------------------------------
def test_roles_swap_llm_screenwriter_with_offline_cinematographer(tmp_path):
    with LoopbackServer(ScriptedCrewModel()) as server:
        llm = settings(server, roles=parse_roles("screenwriter=llm,cinematographer=offline"))
        plan_idea(tmp_path / "out", llm)
        assert "shot_list" not in server.tasks() and "write_script" in server.tasks()
    plan = load_plan(tmp_path / "out" / "plan.json")
    offline = [shot for n, s in enumerate(plan.scenes, start=1)
               for shot in cover_scene(scene=s, scene_number=n, exterior=not plan.set(s.set).interior)]
    assert plan.shots == offline
    assert report(tmp_path / "out")["agents"]["roles"]["cinematographer"] == "offline"


def test_screenplay_with_llm_cinematographer_keeps_the_offline_staging(tmp_path):
    script = SAMPLES / "coffee_shop.fountain"
    offline = direct_screenplay(screenplay=load_screenplay(script), fps=6, resolution=(96, 54))
    with LoopbackServer(ScriptedCrewModel()) as server:
        llm = settings(server, roles={"cinematographer": "llm"})
        plan_production(screenplay=script, out=tmp_path / "out", fps=6, resolution=(96, 54), llm=llm)
        assert server.tasks() == ["shot_list", "shot_list"]     # the offline director judges: keeps A
    plan = load_plan(tmp_path / "out" / "plan.json")
    voiced = voice_plan(plan=offline, root=tmp_path / "out")  # the plan stage times lines by their audio
    assert plan.scenes == voiced.scenes and plan.characters == voiced.characters
    assert [s.rationale for s in plan.shots] != [s.rationale for s in offline.shots]
    data = report(tmp_path / "out")
    assert data["agents"]["review"]["cinematographer"]["choice"] == "A"
    assert data["agents"]["roles"] == {"director": "offline", "screenwriter": "offline", "actor": "offline",
                                       "cinematographer": "llm"}


def test_screenplay_without_endpoint_stays_offline(tmp_path, monkeypatch, capsys):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FILMCREW_LLM_MODEL", "FILMCREW_LLM_BASE_URL", "FILMCREW_ROLES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    script = SAMPLES / "coffee_shop.fountain"
    assert main(["-q", "plan", str(script), "--out", str(tmp_path / "out"), "--fps", "6", "--resolution", "96x54"]) == 0
    offline = direct_screenplay(screenplay=load_screenplay(script), fps=6, resolution=(96, 54))
    assert load_plan(tmp_path / "out" / "plan.json") == voice_plan(plan=offline, root=tmp_path / "out")
    assert not (tmp_path / "out" / "agents").exists() and not (tmp_path / "out" / "report.json").exists()
    code = main(["-q", "make", "--idea", IDEA, "--out", str(tmp_path / "idea")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "--idea needs an LLM endpoint: pass --llm-base-url URL --llm-model NAME" in err[0]
    assert "OPENAI_BASE_URL" in err[0] and "filmcrew.toml" in err[0]
    assert not (tmp_path / "idea").exists()


def test_settings_come_from_flags_then_environment_then_config_files(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "work"
    (home / ".config" / "filmcrew").mkdir(parents=True)
    cwd.mkdir()
    (home / ".config" / "filmcrew" / "config.toml").write_text(
        '[llm]\nbase_url = "http://home:1/v1"\nmodel = "home-model"\ntimeout = 30\nreview_rounds = 3\n'
        '[llm.prices]\nprompt = 0.5\ncompletion = 1.5\n[roles]\ncinematographer = "offline"\n')
    (cwd / "filmcrew.toml").write_text('[llm]\nmodel = "work-model"\nstream = true\n')
    s = load_settings(env={}, cwd=cwd, home=home)
    assert (s.base_url, s.model, s.timeout, s.stream, s.review_rounds) == \
        ("http://home:1/v1", "work-model", 30.0, True, 3)
    assert s.prices == Prices(prompt=0.5, completion=1.5) and s.roles == {"cinematographer": "offline"}
    s = load_settings(env={"OPENAI_BASE_URL": "http://env:2/v1", "FILMCREW_LLM_MODEL": "env-model",
                           "OPENAI_API_KEY": "k", "FILMCREW_ROLES": "actor=offline"}, cwd=cwd, home=home)
    assert (s.base_url, s.model, s.api_key) == ("http://env:2/v1", "env-model", "k")
    assert s.roles == {"cinematographer": "offline", "actor": "offline"}
    s = load_settings(env={"OPENAI_BASE_URL": "http://env:2/v1"}, cwd=cwd, home=home,
                      overrides={"base_url": "http://flag:3/v1", "timeout": 9, "roles": "cinematographer=llm"})
    assert (s.base_url, s.timeout, s.roles["cinematographer"]) == ("http://flag:3/v1", 9.0, "llm")
    assert "sk-secret" not in repr(load_settings(env={"OPENAI_API_KEY": "sk-secret"}, cwd=cwd, home=home))
    with pytest.raises(AgentError, match="unknown key"):
        (cwd / "filmcrew.toml").write_text('[llm]\nmodle = "typo"\n')
        load_settings(env={}, cwd=cwd, home=home)
    with pytest.raises(AgentError, match="--llm-timeout: must be between"):
        load_settings(env={}, cwd=tmp_path, home=tmp_path, overrides={"timeout": -1})
    with pytest.raises(AgentError, match="'camera=llm' is not ROLE=BACKEND"):
        parse_roles("camera=llm")
    assert LLMSettings(base_url="http://user:pw@host:8/v1").public_endpoint == "http://host:8/v1"


def test_model_output_is_data_never_markup_paths_or_code():
    outline = Outline.model_validate(OUTLINE)
    sets = outline_sets(outline)
    draft = ScriptDraft.model_validate(SCRIPT)
    evil = draft.model_copy(deep=True)
    evil.scenes[0].beats[1].text = "Late.\n\nEXT. MOON - NIGHT\n\n[[note]] /* hidden */ ! @BOSS"
    evil.scenes[0].description = "FADE IN: A KITCHEN (ROOM 101) CUT TO:"
    fountain = render_fountain(outline=outline, draft=evil, sets=sets)
    parsed = parse_fountain(fountain)
    assert len(parsed.scenes()) == 2
    assert not [e for e in parsed.elements if e.kind in ("note", "transition", "section")]
    plan = direct_screenplay(screenplay=parsed)
    assert {c.id for c in plan.characters} == {"MARCO", "ELENA"}
    line = [b for b in plan.scenes[0].beats if b.type == "dialogue"][0]
    assert "EXT. MOON" in line.text and "[[" not in line.text
    # a set kind that looks like a path is an unknown kind, never a file to open
    from filmcrew.agents.roles import outline_errors

    bad = outline.model_copy(deep=True)
    bad.sets[0].kind = "../../../etc/passwd"
    assert outline_errors(bad) == ["sets[0].kind: unknown set kind '../../../etc/passwd' (known: bedroom, cafe, "
                                   "hallway, kitchen, living_room, meeting_room, office, park, rooftop, room, street)"]


def test_crew_without_llm_roles_never_builds_a_client(tmp_path):
    crew = Crew(settings=LLMSettings(), workdir=tmp_path / "agents", idea=False)
    assert crew.chat is None
    result = crew.plan_screenplay(screenplay=load_screenplay(SAMPLES / "hallway_argument.fountain"), fps=6,
                                  resolution=(96, 54))
    assert result.report["plan"]["invalid_refs_after_review"] == 0
    with pytest.raises(AgentError, match="the offline director cannot turn an idea"):
        Crew(settings=LLMSettings(roles={"director": "offline", "screenwriter": "offline", "actor": "offline",
                                         "cinematographer": "offline"}), workdir=None, idea=True).plan_idea(
            idea=IDEA, fps=6, resolution=(96, 54))


def test_each_role_can_talk_to_its_own_model(tmp_path):
    with LoopbackServer(ScriptedCrewModel()) as server:
        plan_idea(tmp_path / "out", settings(server, models={"actor": "small-actor", "cinematographer": "dp"}))
        used = {(task_of(r["body"])[0], r["body"]["model"]) for r in server.requests}
    assert ("revise_own_beats", "small-actor") in used
    assert ("shot_list", "dp") in used
    assert ("outline", "scripted-crew") in used and ("write_script", "scripted-crew") in used
    assert report(tmp_path / "out")["agents"]["models"] == {"actor": "small-actor", "cinematographer": "dp"}


def test_models_per_role_come_from_flags_environment_and_files(tmp_path):
    (tmp_path / "filmcrew.toml").write_text('[llm]\nmodel = "m"\n[llm.models]\ndirector = "from-file"\n')
    s = load_settings(env={"FILMCREW_LLM_MODELS": "actor=from-env"}, cwd=tmp_path, home=tmp_path,
                      overrides={"models": "cinematographer=from-flag"})
    assert dict(s.models) == {"director": "from-file", "actor": "from-env", "cinematographer": "from-flag"}
    assert s.model_for("actor:MAYA") == "from-env" and s.model_for("screenwriter") == "m"
    with pytest.raises(AgentError, match="ROLE=MODEL"):
        load_settings(env={"FILMCREW_LLM_MODELS": "gaffer=x"}, cwd=tmp_path, home=tmp_path)
