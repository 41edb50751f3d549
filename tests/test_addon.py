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
    filmcrew.register()
    try:
        assert hasattr(bpy.types, "FILMCREW_PT_production")
        assert hasattr(bpy.types.Scene, "filmcrew")
        assert bpy.ops.filmcrew.run_stage.poll()
    finally:
        filmcrew.unregister()
    assert not hasattr(bpy.types, "FILMCREW_PT_production")
    assert not hasattr(bpy.types.Scene, "filmcrew")
    assert "FILMCREW_OT_run_stage" not in dir(bpy.types)


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
