"""The extension: manifest validation, register/unregister, the panel operator in background mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bpy
import pytest

import filmcrew

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "assets" / "samples" / "coffee_shop.fountain"


def blender_ext_tool() -> Path:
    return Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"


def test_extension_manifest_validates():
    result = subprocess.run([sys.executable, str(blender_ext_tool()), "validate", str(REPO)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


def test_register_and_unregister_leave_nothing_behind():
    from filmcrew.addon import _CLASSES

    before = set(dir(bpy.types))
    filmcrew.register()
    try:
        assert hasattr(bpy.types, "FILMCREW_PT_production")
        assert hasattr(bpy.types.Scene, "filmcrew")
        assert bpy.ops.filmcrew.run_stage.poll()
        assert all(cls.is_registered for cls in _CLASSES)
        assert {"FILMCREW_UL_shots", "FILMCREW_PT_shots", "FILMCREW_PT_cast", "FILMCREW_PT_report",
                "FILMCREW_OT_load_scene"} <= set(dir(bpy.types))
    finally:
        filmcrew.unregister()
    assert not any(cls.is_registered for cls in _CLASSES)
    assert set(dir(bpy.types)) == before
    assert not hasattr(bpy.types.Scene, "filmcrew")
    assert not [h for h in bpy.app.handlers.load_post if h.__module__.startswith("filmcrew")]
    filmcrew.register()  # and again: nothing left over blocks a second registration
    filmcrew.unregister()


def test_the_addon_imports_nothing_beyond_blenders_python():
    """The panel's modules load without pydantic, torch or anny (they live in the worker)."""
    script = ("import sys, builtins\n"
              "real = builtins.__import__\n"
              "def guard(name, *a, **k):\n"
              "    if name.split('.')[0] in ('pydantic', 'torch', 'anny', 'diffusers', 'trimesh'):\n"
              "        raise ImportError('the add-on imported ' + name)\n"
              "    return real(name, *a, **k)\n"
              "builtins.__import__ = guard\n"
              "import bpy, filmcrew\n"
              "filmcrew.register(); filmcrew.unregister(); print('ok')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_a_file_saved_mid_run_opens_with_the_buttons_free(tmp_path):
    filmcrew.register()
    try:
        bpy.context.scene.filmcrew.running = True
        path = tmp_path / "mid_run.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
        bpy.ops.wm.open_mainfile(filepath=str(path))
        assert not bpy.context.scene.filmcrew.running
        assert bpy.ops.filmcrew.run_stage.poll()
    finally:
        filmcrew.unregister()


@pytest.fixture
def settings(tmp_path):
    """The extension registered, with the scene's settings pointing at a fresh folder."""
    filmcrew.register()
    settings = bpy.context.scene.filmcrew
    settings.output = str(tmp_path / "out")
    yield settings
    filmcrew.unregister()


def test_plan_operator_runs_the_cli_stage_in_a_worker(settings, tmp_path):
    settings.screenplay = str(SAMPLE)
    assert bpy.ops.filmcrew.run_stage(stage="plan") == {"FINISHED"}
    assert settings.status == "plan done"
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert plan["title"] == "Second Cup"


def test_operator_reports_a_missing_screenplay(settings, tmp_path):
    settings.screenplay = str(tmp_path / "missing.fountain")
    with pytest.raises(RuntimeError, match="Screenplay not found"):
        bpy.ops.filmcrew.run_stage(stage="plan")


def test_operator_shows_the_cli_error_when_the_stage_fails(settings, tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(RuntimeError, match="plan.json"):
        bpy.ops.filmcrew.run_stage(stage="stage")
    assert settings.status.startswith("Failed:")


def test_the_timer_callback_brings_a_finished_plan_into_the_panel(settings):
    """Interactive runs finish through bpy.app.timers; the callback fills the lists once."""
    from filmcrew.addon.operators import _after_stage_timer

    settings.screenplay = str(SAMPLE)
    assert bpy.ops.filmcrew.run_stage(stage="plan") == {"FINISHED"}
    settings.shots.clear()
    assert _after_stage_timer(bpy.context.scene.name, "plan", None) is None  # None: run once
    plan = json.loads((Path(settings.output) / "plan.json").read_text())
    assert [s.name for s in settings.shots] == [s["id"] for s in plan["shots"]]
