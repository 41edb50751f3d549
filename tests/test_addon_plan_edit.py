"""The panel's plan edits and worker commands, without Blender's UI (plain JSON, real files)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from filmcrew.addon import plan_edit
from filmcrew.addon.worker import CrewOptions, StageOptions, Worker, stage_command
from filmcrew.agents.config import ROLES, load_settings
from filmcrew.agents.offline import direct_screenplay
from filmcrew.errors import PlanError
from filmcrew.plan import load_plan, save_plan
from filmcrew.plan.model import ANGLES, MOVEMENTS, SIZES
from filmcrew.screenplay import load_screenplay

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "samples" / "coffee_shop.fountain"


@pytest.fixture
def plan_path(tmp_path) -> Path:
    plan = direct_screenplay(screenplay=load_screenplay(SAMPLE), fps=6, resolution=(64, 36), user_sets={})
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    return path


def test_the_panel_vocabulary_is_the_plan_models():
    assert (plan_edit.SIZES, plan_edit.ANGLES, plan_edit.MOVEMENTS) == (SIZES, ANGLES, MOVEMENTS)
    from filmcrew.addon.worker import ROLES as PANEL_ROLES

    assert PANEL_ROLES == ROLES


def test_editing_a_shot_pins_it_and_the_plan_still_validates(plan_path):
    plan = load_plan(plan_path)
    shot = plan.shots[1]
    size = "ECU" if shot.size != "ECU" else "LS"
    subjects = plan.scene(shot.scene).cast[:1]
    edited = plan_edit.edit_shot(path=plan_path, shot_id=shot.id,
                                 changes={"size": size, "angle": "low", "subjects": ", ".join(subjects)})
    assert edited["pinned"] is True
    again = load_plan(plan_path)
    assert (again.shots[1].size, again.shots[1].angle, again.shots[1].subjects) == (size, "low", subjects)
    assert again.shots[1].pinned
    assert [s.pinned for i, s in enumerate(again.shots) if i != 1] == [False] * (len(again.shots) - 1)


def test_an_unchanged_edit_leaves_the_file_alone(plan_path):
    shot = load_plan(plan_path).shots[0]
    before = plan_path.stat().st_mtime_ns, plan_path.read_bytes()
    assert not plan_edit.edit_shot(path=plan_path, shot_id=shot.id, changes={"size": shot.size}).get("pinned")
    assert (plan_path.stat().st_mtime_ns, plan_path.read_bytes()) == before


@pytest.mark.parametrize("changes, message", [
    ({"size": "HUGE"}, r"shots\[0\].size: must be one of ECU"),
    ({"framing": "pov"}, r"cannot edit 'framing'"),
    ({"subjects": "NOBODY"}, r"shots\[0\].subjects: NOBODY not in scene"),
])
def test_refused_shot_edits_name_the_field(plan_path, changes, message):
    shot = load_plan(plan_path).shots[0]
    before = plan_path.read_bytes()
    with pytest.raises(PlanError, match=message):
        plan_edit.edit_shot(path=plan_path, shot_id=shot.id, changes=changes)
    assert plan_path.read_bytes() == before


def test_an_unknown_shot_says_to_reload(plan_path):
    with pytest.raises(PlanError, match="no shot 'S99_999'.*reload"):
        plan_edit.edit_shot(path=plan_path, shot_id="S99_999", changes={"size": "CU"})


def test_appearance_edits_write_valid_colours_and_ranges(plan_path):
    character = load_plan(plan_path).characters[0]
    plan_edit.edit_appearance(path=plan_path, character_id=character.id, body={"age_years": 61, "muscle": 0.9},
                              skin_tone="#8D5524", outfit={"top": "#aa0000"})
    appearance = load_plan(plan_path).character(character.id).appearance
    assert (appearance.age_years, appearance.muscle, appearance.skin_tone) == (61.0, 0.9, "#8d5524")
    assert appearance.outfit.top == "#aa0000"
    with pytest.raises(PlanError, match=r"characters\[0\].appearance.weight"):
        plan_edit.edit_appearance(path=plan_path, character_id=character.id, body={"weight": 1.5})
    with pytest.raises(PlanError, match="outfit.hair: must be a colour"):
        plan_edit.edit_appearance(path=plan_path, character_id=character.id, outfit={"hair": "brown"})


def test_colours_round_trip_through_the_colour_property_values():
    for value in ("#000000", "#ffffff", "#3b6ea5", "#c8a08a"):
        assert plan_edit.rgb_to_hex(plan_edit.hex_to_rgb(value)) == value


def test_the_api_key_travels_in_the_environment_only(tmp_path):
    crew = CrewOptions(base_url="http://127.0.0.1:9/v1", model="m", api_key="sk-secret-123",
                       roles=(("director", "offline"), ("cinematographer", "llm")),
                       models=(("cinematographer", "dp-model"),))
    options = StageOptions(output=str(tmp_path / "out"), idea="Two chefs", resolution=(64, 36), fps=6)
    cmd, env = stage_command(python="", stage="plan", options=options, crew=crew)
    assert "sk-secret-123" not in " ".join(cmd)
    assert cmd[-9:] == ["plan", "--idea", "Two chefs", "--out", str(tmp_path / "out"), "--resolution",
                        "64x36", "--fps", "6"]
    settings = load_settings(env=env, cwd=tmp_path, home=tmp_path)  # what the worker's CLI will read
    assert (settings.base_url, settings.model, settings.api_key) == ("http://127.0.0.1:9/v1", "m", "sk-secret-123")
    assert settings.backend("cinematographer") == "llm" and settings.backend("director") == "offline"
    assert settings.model_for("cinematographer") == "dp-model" and settings.model_for("director") == "m"
    assert "sk-secret" not in repr(crew)


def test_stage_commands_carry_the_render_and_refine_settings(tmp_path):
    options = StageOptions(output="/p", engine="workbench", samples=2, passes="rgb", refine_model="/m",
                           refine_device="cpu", refine_steps=3)
    render, _ = stage_command(python="", stage="render", options=options)
    assert render[-8:] == ["render", "/p", "--engine", "workbench", "--samples", "2", "--passes", "rgb"]
    refine, _ = stage_command(python="", stage="refine", options=options)
    assert refine[-8:] == ["refine", "/p", "--model", "/m", "--device", "cpu", "--steps", "3"]
    with pytest.raises(ValueError, match="screenplay or an idea"):
        stage_command(python="", stage="make", options=StageOptions(output="/p"))
    with pytest.raises(ValueError, match="unknown stage 'paint'"):
        stage_command(python="", stage="paint", options=options)


def test_the_worker_reads_progress_output_and_errors_and_cancels(tmp_path):
    script = ("import sys, time\n"
              "sys.stderr.write(' plan:  40%|####  | 2/5\\r'); sys.stderr.flush()\n"
              "print('S01_002/S01_003: jump: same subject'); sys.stdout.flush()\n"
              "sys.stderr.write('filmcrew: error: plan.json: shots[0].size: bad\\n'); sys.stderr.flush()\n"
              "time.sleep(float(sys.argv[1])); sys.exit(2)\n")
    worker = Worker(["python3", "-c", script, "0"])
    worker.start()
    assert worker.wait() == 2
    assert worker.progress() == ("plan", 0.4)
    assert worker.error() == "plan.json: shots[0].size: bad"
    assert worker.output == ["S01_002/S01_003: jump: same subject"]
    slow = Worker(["python3", "-c", script, "60"])
    slow.start()
    slow.cancel()
    assert slow.poll() is not None and slow.poll() != 0
    assert all(not reader.is_alive() for reader in slow._readers)


def test_an_idea_without_a_server_fails_in_the_worker_with_the_cli_message(tmp_path):
    cmd, env = stage_command(python="", stage="plan", options=StageOptions(output=str(tmp_path / "o"), idea="x"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FILMCREW_LLM_BASE_URL", "FILMCREW_LLM_API_KEY"):
        env.pop(name, None)
    env["HOME"] = str(tmp_path)
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "needs an LLM endpoint" in done.stderr
    assert not (tmp_path / "o" / "plan.json").exists()
