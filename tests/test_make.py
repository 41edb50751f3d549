"""End to end: `filmcrew make` on a sample, reruns, one-line edits, an interrupted render."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from filmcrew.pipeline import make_production, render_production
from filmcrew.plan import load_plan
from filmcrew.render.animatic import video_duration
from filmcrew.staging.timeline import build_timeline

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"
TINY = dict(fps=6, resolution=(96, 54), samples=2)

pytestmark = pytest.mark.slow


def make(screenplay: Path, out: Path):
    return make_production(screenplay=screenplay, out=out, **TINY)


@pytest.fixture(scope="session")
def coffee(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("coffee") / "out"
    make(SAMPLES / "coffee_shop.fountain", out)
    return out


def copy_production(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, copy_function=shutil.copy2)
    return dst


def frame_mtimes(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in sorted(out.glob("shots/*/rgb/[0-9]*.png"))}


def test_make_writes_the_production_folder(coffee):
    for name in ("screenplay.fountain", "screenplay.pdf", "plan.json", "scene.blend", "manifest.json",
                 "animatic.mp4", "subtitles.srt", "staging.npz", "cameras.json"):
        assert (coffee / name).is_file(), name
    plan = load_plan(coffee / "plan.json")
    timeline = build_timeline(plan)
    manifest = json.loads((coffee / "manifest.json").read_text())
    assert [s["id"] for s in manifest["shots"]] == [s.id for s in plan.shots]
    for shot in manifest["shots"]:
        frames = sorted((coffee / "shots" / shot["id"] / "rgb").glob("[0-9]*.png"))
        assert len(frames) == shot["frame_count"]
        assert frames[0].name == "0001.png"
        assert len(shot["camera"]["world_from_camera"]) == shot["frame_count"]
    count, seconds = video_duration(coffee / "animatic.mp4")
    assert count == timeline.frame_count
    assert abs(seconds - timeline.frame_count / plan.fps) <= 1.0 / plan.fps


def test_every_dialogue_line_is_in_the_subtitles(coffee):
    srt = (coffee / "subtitles.srt").read_text()
    plan = load_plan(coffee / "plan.json")
    lines = [b.text for s in plan.scenes for b in s.beats if b.type == "dialogue"]
    assert len(lines) == 8
    for text in lines:
        assert " ".join(text.split()) in srt
    assert srt.count("-->") == len(lines)
    stamps = re.findall(r"(\d\d):(\d\d):(\d\d),(\d\d\d) -->", srt)
    starts = [int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000 for h, m, s, ms in stamps]
    assert starts == sorted(starts)


def test_scene_blend_has_cameras_bound_to_markers(coffee, tmp_path):
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(coffee / "scene.blend"))
    scene = bpy.context.scene
    plan = load_plan(coffee / "plan.json")
    timeline = build_timeline(plan)
    markers = sorted(scene.timeline_markers, key=lambda m: m.frame)
    assert [m.name for m in markers] == [s.id for s in plan.shots]
    assert [m.frame for m in markers] == [r.start_frame for r in timeline.shots]
    assert all(m.camera is not None and m.camera.name == f"CAM_{m.name}" for m in markers)
    assert scene.frame_end == timeline.frame_count
    for character in plan.characters:
        armature = bpy.data.objects[character.id]
        assert armature.type == "ARMATURE"
        assert any(child.type == "MESH" for child in armature.children)
    assert any(o.name.startswith("MARK_") for o in bpy.data.objects)


def test_rerun_on_unchanged_input_renders_nothing(coffee, tmp_path):
    out = copy_production(coffee, tmp_path / "out")
    before = frame_mtimes(out)
    animatic = (out / "animatic.mp4").stat().st_mtime_ns
    results = make(SAMPLES / "coffee_shop.fountain", out)
    assert [r.skipped for r in results] == [True, True, True]
    assert results[2].figures["frames_drawn"] == 0
    assert frame_mtimes(out) == before
    assert (out / "animatic.mp4").stat().st_mtime_ns == animatic


def test_editing_one_line_rerenders_only_the_shots_it_touches(coffee, tmp_path):
    out = copy_production(coffee, tmp_path / "out")
    script = tmp_path / "edited.fountain"
    text = (SAMPLES / "coffee_shop.fountain").read_text()
    script.write_text(text.replace("I came to apologize.", "I came here to apologize to you, Maya."))
    before = frame_mtimes(out)
    old_plan = load_plan(out / "plan.json")
    results = make(script, out)
    plan = load_plan(out / "plan.json")
    changed_shots = results[2].figures["shots_rendered"]
    assert 1 <= changed_shots < len(plan.shots) // 2
    after = frame_mtimes(out)
    untouched = [k for k in before if k in after and before[k] == after[k]]
    assert len(untouched) > len(before) // 2
    assert "I came here to apologize to you, Maya." in (out / "subtitles.srt").read_text()
    count, _ = video_duration(out / "animatic.mp4")
    assert count == build_timeline(plan).frame_count
    assert build_timeline(plan).frame_count > build_timeline(old_plan).frame_count


def test_killed_render_resumes_without_losing_frames(coffee, tmp_path):
    out = copy_production(coffee, tmp_path / "out")
    shutil.rmtree(out / "shots")
    (out / "animatic.mp4").unlink()
    cmd = [sys.executable, "-m", "filmcrew.cli", "-q", "render", str(out), "--samples", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("shots/*/rgb/[0-9]*.png"))) < 8:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    survivors = frame_mtimes(out)
    assert len(survivors) >= 8
    result = render_production(out=out, samples=2)
    after = frame_mtimes(out)
    assert all(after[k] == v for k, v in survivors.items())
    assert result.figures["frames_drawn"] < result.figures["frames_total"]
    count, _ = video_duration(out / "animatic.mp4")
    assert count == result.figures["frames_total"]


def test_broken_plan_edit_is_refused_and_keeps_the_scene(coffee, tmp_path, capsys):
    from filmcrew.cli import main

    out = copy_production(coffee, tmp_path / "out")
    blend_before = (out / "scene.blend").read_bytes()
    data = json.loads((out / "plan.json").read_text())
    beat = next(b for b in data["scenes"][0]["beats"] if b["type"] == "action")
    beat["action"] = "moonwalk"
    (out / "plan.json").write_text(json.dumps(data, indent=2))
    assert main(["-q", "stage", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown action 'moonwalk'" in err and "plan.json" in err
    assert (out / "scene.blend").read_bytes() == blend_before


def test_pinning_a_shot_rerenders_only_that_shot_and_survives_replanning(coffee, tmp_path):
    from filmcrew.pipeline import plan_production, stage_production

    out = copy_production(coffee, tmp_path / "out")
    data = json.loads((out / "plan.json").read_text())
    pinned = next(s for s in data["shots"] if s["framing"] == "single" and s["size"] in ("MS", "MCU"))
    pinned.update(size="CU", angle="low", pinned=True)
    (out / "plan.json").write_text(json.dumps(data, indent=2))
    before = frame_mtimes(out)
    stage_production(out=out)
    result = render_production(out=out, samples=2)
    assert result.figures["shots_rendered"] == 1
    after = frame_mtimes(out)
    changed = {k.split("/")[1] for k in after if before.get(k) != after[k]}
    assert changed == {pinned["id"]}
    script = tmp_path / "edited.fountain"
    script.write_text((SAMPLES / "coffee_shop.fountain").read_text().replace("Oat latte.", "Oat milk latte."))
    plan_production(screenplay=script, out=out, fps=TINY["fps"], resolution=TINY["resolution"])
    kept = next(s for s in load_plan(out / "plan.json").shots if s.id == pinned["id"])
    assert (kept.size, kept.angle, kept.pinned) == ("CU", "low", True)
