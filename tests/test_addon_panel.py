"""Every panel operator in background mode on a shared screenplay, from a text block to an animatic.

The operators run the real stages in worker processes (tiny size, 6 fps, Workbench, RGB
only); the tests check the production folder and the scene loaded into the session.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bpy
import pytest

import filmcrew

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "samples" / "rooftop_monologue.fountain"

pytestmark = pytest.mark.slow


def enable(tmp_output: Path):
    """Register the extension as enabled (so it has preferences) with tiny render settings."""
    if "filmcrew" not in bpy.context.preferences.addons:
        bpy.context.preferences.addons.new().module = "filmcrew"
    filmcrew.register()
    prefs = bpy.context.preferences.addons["filmcrew"].preferences
    prefs.resolution, prefs.fps, prefs.engine, prefs.samples, prefs.passes = (64, 36), 6, "workbench", 1, "rgb"
    settings = bpy.context.scene.filmcrew
    settings.output = str(tmp_output)
    return settings


def disable() -> None:
    filmcrew.unregister()
    addons = bpy.context.preferences.addons
    if "filmcrew" in addons:
        addons.remove(addons["filmcrew"])


def shot_state(out: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Per shot: the render inputs hash and the mtimes of its frames."""
    state = {}
    for shot in sorted((out / "shots").iterdir()):
        record = json.loads((shot / "render.json").read_text())
        state[shot.name] = (record["inputs_hash"],
                            tuple(p.stat().st_mtime_ns for p in sorted(shot.glob("rgb/[0-9]*.png"))))
    return state


@pytest.fixture(scope="module")
def produced(tmp_path_factory) -> dict:
    """Plan (from a text block), Stage, Render and Check through the operators; what each left."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    out = tmp_path_factory.mktemp("panel") / "out"
    settings = enable(out)
    facts: dict = {"out": out}
    try:
        text = bpy.data.texts.new("rooftop.fountain")
        text.from_string(SAMPLE.read_text())
        settings.source, settings.text = "TEXT", text
        facts["plan"] = bpy.ops.filmcrew.run_stage(stage="plan")
        facts["shots"] = [(s.name, s.size, s.angle, s.movement, s.subjects) for s in settings.shots]
        facts["cast"] = [(c.name, c.display_name) for c in settings.cast]
        facts["stage"] = bpy.ops.filmcrew.run_stage(stage="stage")
        staged = bpy.data.scenes[settings.staged_scene]
        facts["staged_scene"] = staged.name
        facts["cameras"] = sorted(o.name for o in staged.objects if o.type == "CAMERA")
        facts["markers"] = sorted((m.frame, m.camera.name) for m in staged.timeline_markers)
        facts["armatures"] = sorted(o.name for o in staged.objects if o.type == "ARMATURE")
        facts["staged_settings"] = (staged.filmcrew.output, len(staged.filmcrew.shots))
        settings = bpy.context.scene.filmcrew  # in background the session may now show the staged scene
        facts["render"] = bpy.ops.filmcrew.run_stage(stage="render")
        facts["check"] = bpy.ops.filmcrew.run_stage(stage="check")
        facts["figures"] = {f.name: f.value for f in settings.figures}
        facts["findings"] = [f.value for f in settings.findings]
        facts["status"] = settings.status
    finally:
        disable()
    return facts


def test_plan_from_a_text_block_fills_the_shot_list_and_cast(produced):
    out = produced["out"]
    assert produced["plan"] == {"FINISHED"}
    assert (out / "screenplay.fountain").read_text().strip() == SAMPLE.read_text().strip()
    plan = json.loads((out / "plan.json").read_text())
    assert plan["title"] == "Signal" and plan["fps"] == 6 and plan["resolution"] == [64, 36]
    assert produced["shots"] == [(s["id"], s["size"], s["angle"], s["movement"], ", ".join(s["subjects"]))
                                 for s in plan["shots"]]
    assert produced["cast"] == [(c["id"], c["name"]) for c in plan["characters"]]
    assert {c for c, _ in produced["cast"]} == {"JONAH", "ROSA"}


def test_stage_loads_the_staged_scene_with_cameras_markers_and_characters(produced):
    out = produced["out"]
    plan = json.loads((out / "plan.json").read_text())
    assert produced["stage"] == {"FINISHED"}
    assert produced["staged_scene"] == "FilmCrew Signal"
    assert produced["cameras"] == sorted(f"CAM_{s['id']}" for s in plan["shots"])
    assert [c for _, c in produced["markers"]] == [f"CAM_{s['id']}" for s in plan["shots"]]
    assert produced["armatures"] == ["JONAH", "ROSA"]
    assert produced["staged_settings"] == (str(out), len(plan["shots"]))


def test_render_and_check_write_the_animatic_and_show_the_report(produced):
    out = produced["out"]
    assert produced["render"] == produced["check"] == {"FINISHED"}
    assert (out / "animatic.mp4").stat().st_size > 0
    report = json.loads((out / "report.json").read_text())
    assert produced["figures"]["continuity.line_violations"] == str(report["continuity"]["line_violations"])
    assert produced["figures"]["cameras.inside_geometry"] == str(report["cameras"]["inside_geometry"])
    violations = sum(report["continuity"].values()) + report["cameras"]["inside_geometry"]
    assert len(produced["findings"]) == violations
    assert produced["status"] == "check done"


def test_editing_one_shot_in_the_list_rerenders_only_that_shot(produced, tmp_path):
    out = shutil.copytree(produced["out"], tmp_path / "out")
    before = shot_state(out)
    settings = enable(out)
    try:
        bpy.ops.filmcrew.reload()
        item = settings.shots[1]
        target = "ECU" if item.size != "ECU" else "LS"
        item.size = target  # what the UIList's dropdown does
        edited = json.loads((out / "plan.json").read_text())["shots"][1]
        assert (edited["id"], edited["size"], edited["pinned"]) == (item.name, target, True)
        assert item.pinned and "pinned" in settings.status
        edited_shot = item.name  # the item is freed once the scene reloads or the add-on unregisters
        settings.source, settings.screenplay = "FILE", str(out / "screenplay.fountain")
        assert bpy.ops.filmcrew.run_stage(stage="make") == {"FINISHED"}
    finally:
        disable()
    after = shot_state(out)
    changed = sorted(shot for shot in before if before[shot] != after[shot])
    assert changed == [edited_shot]
    assert json.loads((out / "plan.json").read_text())["shots"][1]["pinned"] is True  # re-planning kept it


def test_a_refused_subjects_edit_is_undone_with_a_message(produced, tmp_path):
    out = shutil.copytree(produced["out"], tmp_path / "out", ignore=shutil.ignore_patterns("shots", "audio"))
    settings = enable(out)
    try:
        bpy.ops.filmcrew.reload()
        before = (out / "plan.json").read_bytes()
        original = settings.shots[0].subjects
        settings.shots[0].subjects = "JONAH, NOBODY"
        assert (out / "plan.json").read_bytes() == before
        assert settings.shots[0].subjects == original
        assert "NOBODY not in scene" in settings.status
    finally:
        disable()


def test_cast_edits_write_the_appearance_to_the_plan(produced, tmp_path):
    out = shutil.copytree(produced["out"], tmp_path / "out", ignore=shutil.ignore_patterns("shots", "audio"))
    settings = enable(out)
    try:
        bpy.ops.filmcrew.reload()
        member = next(c for c in settings.cast if c.name == "ROSA")
        member.age_years = 17.0
        member.top = (1.0, 0.0, 0.0)
    finally:
        disable()
    rosa = next(c for c in json.loads((out / "plan.json").read_text())["characters"] if c["id"] == "ROSA")
    assert rosa["appearance"]["age_years"] == 17.0 and rosa["appearance"]["outfit"]["top"] == "#ff0000"


def test_refine_without_a_model_says_where_to_set_one(tmp_path):
    enable(tmp_path / "out")
    try:
        with pytest.raises(RuntimeError, match="Refine Model"):
            bpy.ops.filmcrew.run_stage(stage="refine")
    finally:
        disable()


def test_a_saved_blend_does_not_hold_the_api_key(tmp_path):
    key = "sk-panel-" + "3" * 30
    settings = enable(tmp_path / "out")
    try:
        bpy.context.preferences.addons["filmcrew"].preferences.api_key = key
        settings.idea = "Two rival chefs"
        assert bpy.context.preferences.addons["filmcrew"].preferences.api_key == key
        bpy.ops.wm.save_mainfile(filepath=str(tmp_path / "a.blend"), compress=False)
    finally:
        disable()
    data = (tmp_path / "a.blend").read_bytes()
    assert b"Two rival chefs" in data  # the scene settings are saved ...
    assert key.encode() not in data  # ... the key is not
