"""A user's own .blend (MARK_* empties) stands in for a set recipe, from the CLI to the staged scene."""

from __future__ import annotations

from pathlib import Path

import bpy
import pytest

from filmcrew.cli import main
from filmcrew.plan import load_plan
from filmcrew.scene.sets import build_set
from filmcrew.staging.sets import load_recipe

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "samples" / "coffee_shop.fountain"


@pytest.fixture
def cafe_blend(tmp_path) -> Path:
    """The cafe recipe built and saved as if a user had modelled it."""
    build_set(set_spec=load_recipe("cafe", set_id="mine"))
    path = tmp_path / "my_cafe.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return path


def test_plan_uses_the_users_blend_for_the_location(tmp_path, cafe_blend, capsys):
    out = tmp_path / "out"
    assert main(["-q", "plan", str(SAMPLE), "--out", str(out), "--fps", "6", "--resolution", "96x54",
                 "--set", f"CORNER CAFE={cafe_blend}"]) == 0
    plan = load_plan(out / "plan.json")
    set_spec = plan.sets[0]
    assert set_spec.kind == "user" and set_spec.source_blend == str(cafe_blend.resolve())
    assert {m.id for m in set_spec.marks} >= {"door", "counter", "table_1_seat_a", "table_1_seat_b"}
    start = {p.character: p for p in plan.scenes[0].start}
    assert start["MAYA"].posture == "sit"
    assert main(["-q", "stage", str(out)]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out / "scene.blend"))
    assert any(c.name.startswith("FC_UserSet_corner_cafe") for c in bpy.data.collections)
    assert "MAYA" in bpy.data.objects and "CAM_S01_001" in bpy.data.objects


def test_a_missing_or_markless_blend_is_a_one_line_error(tmp_path, capsys):
    empty = tmp_path / "empty.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(empty), copy=True)
    for path, message in ((tmp_path / "nope.blend", "set .blend not found"), (empty, "no MARK_* empties")):
        code = main(["-q", "plan", str(SAMPLE), "--out", str(tmp_path / "out"), "--set", f"CORNER CAFE={path}"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0] and str(path.name) in err[0]


def test_set_option_needs_location_and_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["plan", str(SAMPLE), "--out", str(tmp_path / "out"), "--set", "just-a-file.blend"])
    assert "LOCATION=FILE.blend" in capsys.readouterr().err
