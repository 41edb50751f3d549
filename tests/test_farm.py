"""Flamenco farm: submit and status over real HTTP to a loopback Manager, the shipped job type
compiled by node, and a shot rendered by the job's own Blender command landing where
`filmcrew render` looks for it."""

from __future__ import annotations

import json
import math
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from filmcrew.cli import main
from filmcrew.errors import FilmCrewError
from filmcrew.farm.flamenco import EtagMismatch, FarmError, FlamencoClient
from filmcrew.farm.loopback import JS_PATH, LoopbackManager, compile_tasks, frame_chunker, load_job_type
from filmcrew.farm.shots import production_shots
from filmcrew.farm.submit import SubmitOptions, read_farm, submit_production

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"
NODE = shutil.which("node")
GPU_TAG = "4312d68c-ea6d-4566-9bf6-e9f09be48ceb"

# Flamenco's job-compiler globals (author, path, frameChunker, print), enough to run compileJob.
NODE_SHIM = r"""
const fs = require("fs");
const posix = require("path").posix;
const [script, settingsJson] = process.argv.slice(2);
const author = {
  Task: (name, type) => ({name, type, commands: [], depends: [],
    addCommand(c) { this.commands.push(c); }, addDependency(t) { this.depends.push(t.name); }}),
  Command: (name, parameters) => ({name, parameters}),
};
const path = {join: (...p) => posix.join(...p), basename: posix.basename, dirname: posix.dirname};
function frameChunker(frames, size) {
  const all = [];
  for (const part of String(frames).replaceAll("..", "-").split(",")) {
    const [a, b] = part.trim().split("-").map(Number);
    for (let n = a; n <= (Number.isNaN(b) || b === undefined ? a : b); n++) all.push(n);
  }
  const out = [];
  for (let i = 0; i < all.length; i += size) {
    const g = all.slice(i, i + size);
    out.push(g.length > 1 ? `${g[0]}-${g[g.length - 1]}` : `${g[0]}`);
  }
  return out;
}
function print() {}
eval(fs.readFileSync(script, "utf8") + "\n;globalThis.compileJob = compileJob;");
const tasks = [];
globalThis.compileJob({settings: JSON.parse(settingsJson), addTask: (t) => tasks.push(t)});
process.stdout.write(JSON.stringify(tasks.map(({name, type, commands, depends}) => ({name, type, commands, depends}))));
"""


def node_compile(settings: dict) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        shim = Path(folder) / "shim.js"
        shim.write_text(NODE_SHIM)
        done = subprocess.run([NODE, str(shim), str(JS_PATH), json.dumps(settings)], capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def staged(tmp_path_factory) -> Path:
    """The coffee-shop sample planned and staged (no frames) at a tiny size."""
    from filmcrew.pipeline import plan_production, stage_production

    out = tmp_path_factory.mktemp("farm") / "studio" / "films" / "coffee"
    plan_production(screenplay=SAMPLES / "coffee_shop.fountain", out=out, fps=6, resolution=(96, 54))
    stage_production(out=out)
    return out


@pytest.fixture
def production(staged, tmp_path) -> Path:
    out = tmp_path / "studio" / "films" / "coffee"
    shutil.copytree(staged, out)
    return out


@pytest.fixture
def manager():
    with LoopbackManager(tags={"gpu": GPU_TAG}) as running:
        yield running


def options(manager, out: Path, **more) -> SubmitOptions:
    return SubmitOptions(manager=manager.url, shared_root=out.parents[1], samples=2, **more)


# --- the job type --------------------------------------------------------------------------
@pytest.mark.skipif(NODE is None, reason="node is not installed; `apt-get install nodejs` to check the job type")
def test_job_type_is_valid_javascript():
    done = subprocess.run([NODE, "--check", str(JS_PATH)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(NODE is None, reason="node is not installed; `apt-get install nodejs` to run compileJob")
def test_compiled_job_matches_the_loopback_and_runs_filmcrew():
    settings = {"production": "{jobs}/films/coffee", "shot": "S01_004", "frames": "1-9", "chunk_size": 4,
                "inputs_hash": "abc", "refine_model": "/models/wan", "refine_args": "--steps 20  --offload model",
                "refine_task_type": "filmcrew-refine", "filmcrew_exe": "filmcrew"}
    tasks = node_compile(settings)
    mirror = compile_tasks(settings)
    assert [(t["name"], t["type"], t["depends"]) for t in tasks] == \
        [(t["name"], t["type"], t["depends"]) for t in mirror]
    assert [t["name"] for t in tasks] == ["render-S01_004-1-4", "render-S01_004-5-8", "render-S01_004-9",
                                          "finish-S01_004", "refine-S01_004"]
    render = tasks[0]["commands"][0]
    assert render["name"] == "blender-render"
    assert render["parameters"]["blendfile"] == "{jobs}/films/coffee/scene.blend"
    args = render["parameters"]["args"]
    assert args[args.index("--") + 1:] == ["--task", "{jobs}/films/coffee/shots/S01_004/farm_task.json",
                                           "--inputs-hash", "abc", "--frames", "1-4"]
    assert args[:2] == ["--python-exit-code", "1"]  # a Python error fails the task
    refine = tasks[-1]["commands"][0]
    assert refine == {"name": "exec", "parameters": {"exe": "filmcrew", "args": [
        "refine", "{jobs}/films/coffee", "--shots", "S01_004", "--model", "/models/wan",
        "--steps", "20", "--offload", "model"]}}
    assert node_compile({**settings, "refine_model": ""})[-1]["name"] == "finish-S01_004"


def test_job_type_settings_are_read_from_the_shipped_script():
    job_type = load_job_type()
    assert job_type["name"] == "filmcrew"
    keys = {s["key"]: s for s in job_type["settings"]}
    assert {"production", "shot", "frames", "chunk_size", "inputs_hash", "refine_model"} <= set(keys)
    assert keys["chunk_size"]["type"] == "int32"
    assert frame_chunker("1-10", 4) == ["1-4", "5-8", "9-10"]
    assert frame_chunker("1-3,7", 2) == ["1-2", "3,7"]


# --- submit --------------------------------------------------------------------------------
def test_submit_sends_one_job_per_shot_with_the_etag(production, manager):
    result = submit_production(out=production, options=options(manager, production, priority=70, worker_tag="gpu"))
    shots, _ = production_shots(out=production, samples=2)
    assert sorted(result.submitted) == sorted(s.shot for s in shots)
    assert ("GET", "/api/v3/jobs/types") in manager.requests
    etag = manager.job_types["filmcrew"]["etag"]
    by_shot = {s.shot: s for s in shots}
    for shot, job_id in result.submitted.items():
        job = manager.jobs[job_id]
        assert job["type_etag"] == etag and job["priority"] == 70 and job["worker_tag"] == GPU_TAG
        assert job["submitter_platform"] == "linux"
        settings = job["settings"]
        assert settings["production"] == "{jobs}/films/coffee"
        assert settings["frames"] == f"1-{by_shot[shot].frame_count}"
        assert settings["inputs_hash"] == by_shot[shot].inputs_hash
        task = json.loads((production / "shots" / shot / "farm_task.json").read_text())
        assert task["inputs_hash"] == settings["inputs_hash"] and len(task["keys"]) == by_shot[shot].frame_count
        assert json.loads((production / "shots" / shot / "render.json").read_text())["complete"] is False
    record = read_farm(production)
    assert record["manager"] == manager.url
    assert {s: e["job_id"] for s, e in record["jobs"].items()} == result.submitted
    tasks = manager.tasks[result.submitted["S01_004"]]
    chunks = frame_chunker(f"1-{by_shot['S01_004'].frame_count}", 8)
    assert [t["name"] for t in tasks] == [*(f"render-S01_004-{c}" for c in chunks), "finish-S01_004"]


def test_resubmitting_skips_jobs_still_on_the_farm(production, manager):
    first = submit_production(out=production, options=options(manager, production))
    job_id = first.submitted["S01_002"]
    manager.set_task(job_id=job_id, name="render-S01_002-1-8", status="failed")
    again = submit_production(out=production, options=options(manager, production))
    assert list(again.submitted) == ["S01_002"]  # only the failed job is sent again
    assert again.skipped["S01_001"] == "already on the farm (queued)"


def test_etag_mismatch_is_a_clear_error(production, manager):
    handle = manager.handle

    def edited_after_reading(method, path, body):  # the script changes between read and submit
        answer = handle(method, path, body)
        if path.startswith("/api/v3/jobs/type/"):
            manager.change_job_type()
        return answer

    manager.handle = edited_after_reading
    with pytest.raises(EtagMismatch, match=r"POST http://127\.0\.0\.1:\d+/api/v3/jobs: HTTP 412.*submit again"):
        submit_production(out=production, options=options(manager, production))
    assert not manager.jobs


def test_missing_job_type_and_bad_payload_are_clear_errors(production, manager):
    manager.job_types = {}
    with pytest.raises(FarmError, match="job type 'filmcrew' is not installed.*scripts/ folder"):
        submit_production(out=production, options=options(manager, production))
    client = FlamencoClient(manager=manager.url)
    manager.job_types = {"filmcrew": load_job_type()}
    with pytest.raises(FarmError, match=r"/api/v3/jobs: HTTP 400: invalid format: property \"priority\""):
        client.submit_job(job={"name": "x", "type": "filmcrew", "priority": "high", "submitter_platform": "linux"})
    with pytest.raises(FarmError, match=r"HTTP 400: job setting \"shot\" is required"):
        client.submit_job(job={"name": "x", "type": "filmcrew", "priority": 50, "submitter_platform": "linux",
                               "settings": {"production": "/p", "inputs_hash": "h"}})


def test_unreachable_manager_is_a_clear_error(production, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = main(["farm", "submit", str(production), "--manager", f"http://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot reach the Flamenco Manager at http://127.0.0.1:{port} (GET /api/v3/version)" in err
    assert main(["farm", "submit", str(production), "--manager", "flamenco:8080"]) == 2
    assert "--manager must be an http(s) URL" in capsys.readouterr().err


def test_production_off_the_shared_storage_is_refused(production, manager, tmp_path):
    with pytest.raises(FilmCrewError, match="not on the shared storage"):
        submit_production(out=production, options=SubmitOptions(manager=manager.url, shared_root=tmp_path / "nas"))


# --- status --------------------------------------------------------------------------------
def shot_frames(out: Path) -> dict[str, int]:
    from filmcrew.plan.io import load_plan
    from filmcrew.staging.timeline import build_timeline

    return {r.shot: r.frame_count for r in build_timeline(load_plan(out / "plan.json")).shots}


def test_status_shows_progress_and_a_failed_job(production, manager, capsys):
    assert main(["-q", "farm", "submit", str(production), "--manager", manager.url, "--samples", "2",
                 "--shared-root", str(production.parents[1])]) == 0
    jobs = {s: e["job_id"] for s, e in read_farm(production)["jobs"].items()}
    frames = shot_frames(production)
    tasks = {shot: math.ceil(count / 8) + 1 for shot, count in frames.items()}  # chunks of 8, then finish
    manager.complete_tasks(job_id=jobs["S01_001"], count=3)
    manager.complete_tasks(job_id=jobs["S01_004"])
    failing = frame_chunker(f"1-{frames['S01_002']}", 8)[-1]
    manager.set_task(job_id=jobs["S01_002"], name=f"render-S01_002-{failing}", status="failed")
    capsys.readouterr()
    code = main(["farm", "status", str(production)])
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert code == 1  # a failed job
    assert lines["S01_001"].split()[1:4] == ["render", "active", f"3/{tasks['S01_001']}"]
    assert lines["S01_004"].split()[1:4] == ["render", "completed", f"{tasks['S01_004']}/{tasks['S01_004']}"]
    assert lines["S01_002"].split()[1:4] == ["render", "failed", f"0/{tasks['S01_002']}"]
    assert "(1 failed)" in lines["S01_002"]
    assert lines["S01_003"].split()[1:4] == ["render", "queued", f"0/{tasks['S01_003']}"]


def test_status_without_submissions_says_so(production, capsys):
    assert main(["farm", "status", str(production)]) == 2
    assert "no jobs submitted yet" in capsys.readouterr().err


# --- the farm's Blender command, for real --------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(NODE is None, reason="node is not installed; the test runs compileJob's own commands")
def test_farm_rendered_shot_is_done_for_render_and_not_submitted_again(production, manager):
    shot = "S01_004"  # a short shot
    opts = options(manager, production, passes="rgb,depth", chunk_size=5)
    submit_production(out=production, options=opts)
    settings = manager.jobs[read_farm(production)["jobs"][shot]["job_id"]]["settings"]
    for task in node_compile(settings):  # chunks, then finish, as the workers would run them
        params = task["commands"][0]["parameters"]
        args = [a.replace("{jobs}", str(production.parents[1])) for a in params["args"]]
        expr = args[args.index("--python-expr") + 1]
        script = (f"import sys, bpy; bpy.ops.wm.open_mainfile(filepath={str(production / 'scene.blend')!r}); "
                  f"sys.argv = {['blender', *args]!r}; exec({expr!r})")
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{task['name']}: {shlex.join(args[-6:])}\n{done.stderr[-2000:]}"
    shots = {s.shot: s for s in production_shots(out=production, samples=2, passes="rgb,depth")[0]}
    assert shots[shot].done and not shots["S01_002"].done
    assert len(list((production / "shots" / shot / "rgb").glob("[0-9]*.png"))) == shot_frames(production)[shot]
    again = submit_production(out=production, options=opts)
    assert again.skipped[shot] == "rendered" and shot not in again.submitted
