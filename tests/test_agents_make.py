"""`filmcrew make --idea` end to end through the scripted loopback server, at a tiny size."""

from __future__ import annotations

import json

import pytest

from filmcrew.agents.loopback import LoopbackServer, ScriptedCrewModel
from filmcrew.cli import main
from filmcrew.plan import load_plan
from filmcrew.render.animatic import video_duration
from filmcrew.staging.timeline import build_timeline

pytestmark = pytest.mark.slow
KEY = "sk-loopback-make-41c9"


def test_make_idea_writes_a_full_production_folder(tmp_path, monkeypatch, capsys):
    for name in ("OPENAI_BASE_URL", "FILMCREW_LLM_MODEL", "FILMCREW_LLM_BASE_URL", "FILMCREW_ROLES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "filmcrew.toml").write_text('[llm]\nmodel = "scripted-crew"\nstream = true\n')
    out = tmp_path / "out"
    with LoopbackServer(ScriptedCrewModel()) as server:
        code = main(["-q", "make", "--idea", "Two rival chefs share one kitchen for a televised cook-off",
                     "--out", str(out), "--llm-base-url", server.url, "--fps", "6", "--resolution", "96x54",
                     "--samples", "2"])
        assert all(r["body"].get("stream") for r in server.requests)   # stream = true from filmcrew.toml
    assert code == 0, capsys.readouterr().err
    for name in ("screenplay.fountain", "screenplay.pdf", "plan.json", "scene.blend", "manifest.json",
                 "animatic.mp4", "subtitles.srt", "report.json", "agents/transcript.jsonl"):
        assert (out / name).is_file(), name
    plan = load_plan(out / "plan.json")
    assert plan.title == "Two Chefs, One Kitchen" and len(plan.scenes) == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["id"] for s in manifest["shots"]] == [s.id for s in plan.shots]
    count, _ = video_duration(out / "animatic.mp4")
    assert count == build_timeline(plan).frame_count
    srt = (out / "subtitles.srt").read_text()
    assert "Then cook like it." in srt
    report = json.loads((out / "report.json").read_text())
    assert report["plan"]["invalid_refs_after_review"] == 0
    assert report["agents"]["model"] == "scripted-crew"
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
