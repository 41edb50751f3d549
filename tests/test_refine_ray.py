"""Refinement on a real local Ray cluster (CPU, tiny random-weight model): the same outputs as a
local run, a worker process killed mid-task and retried, a failing shot reported like the local
run reports it, resume, windows of a long shot as separate tasks, and the CLI's ``--ray``."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("torch")
ray = pytest.importorskip("ray")

from test_refine_tiny import SHOTS, make_production, settings

from filmcrew.errors import FilmCrewError
from filmcrew.refine.run import run_refine
from filmcrew.refine.video import probe, read_video


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory) -> Path:
    from filmcrew.refine.tiny import make_tiny_wan_vace

    return make_tiny_wan_vace(tmp_path_factory.mktemp("models") / "wan", fps=8, window=17)


@pytest.fixture
def cluster():
    """A fresh two-CPU Ray cluster on this machine, joined by this process (so ``--ray auto`` reuses
    it); fresh, so a task's first attempt lands in a new worker that takes seconds to load torch."""
    ray.init(num_cpus=2, object_store_memory=80 * 2**20, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _layout(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _state(root: Path, shot: str) -> dict:
    state = json.loads((root / "refined" / f"{shot}.json").read_text())
    return {k: v for k, v in state.items() if k not in ("seconds", "seconds_per_frame", "model", "references")}


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_the_run_matches_a_local_one(tmp_path, tiny_wan, cluster):
    local = make_production(tmp_path / "local")
    run_refine(settings(local, tiny_wan), emit=lambda event: None)
    root = make_production(tmp_path / "ray")
    events, killed = [], []

    def emit(event: dict) -> None:
        events.append(event)
        # The first attempt at A_001 is still loading torch and the model in a fresh worker:
        # SIGKILL that worker process, as a crashed or OOM-killed node would end it.
        if event["event"] == "window" and event["shot"] == "A_001" and not killed:
            os.kill(event["pid"], signal.SIGKILL)
            killed.append(event["pid"])

    figures = run_refine(settings(root, tiny_wan, ray="auto"), emit=emit)
    assert killed
    starts = [e for e in events if e["event"] == "window" and e["shot"] == "A_001"]
    assert [e["attempt"] for e in starts] == [1, 2] and starts[1]["pid"] != killed[0]
    assert any("A_001 window 1: its worker died; retry 1" in e["text"] for e in events if e["event"] == "note")
    assert figures["shots_refined"] == 2 and figures["shots_skipped"] == 0 and figures["hosts"]
    steps = [(e["shot"], e["step"]) for e in events if e["event"] == "step"]
    assert sorted(steps) == sorted((shot, step) for shot, _ in SHOTS for step in (1, 2))  # retries not counted twice
    # The same production folder as a local run: files, state files, clips, report, film.
    assert _layout(root) == _layout(local)
    for shot, count in SHOTS:
        assert _state(root, shot) == _state(local, shot)
        ours, theirs = read_video(root / "refined" / f"{shot}.mp4"), read_video(local / "refined" / f"{shot}.mp4")
        assert ours.shape == theirs.shape == (count, 32, 64, 3)
        assert np.abs(ours.astype(int) - theirs.astype(int)).mean() < 2  # same seed, same model
    report = json.loads((root / "report.json").read_text())
    assert set(report["refine"]) == {"A_001", "A_002"} and report["continuity"] == {"jump_cuts": 0}
    assert probe(root / "film.mp4").streams == ("video", "audio", "subtitle")


@pytest.mark.slow
def test_a_failing_shot_fails_alone_like_locally_and_a_rerun_resumes(tmp_path, tiny_wan, cluster):
    root = make_production(tmp_path / "prod")
    broken = root / "shots" / "A_002" / "depth" / "0003.png"
    good = broken.read_bytes()
    broken.write_bytes(b"\x89PNG broken")
    long_shots = {"window": 9, "overlap": 4}  # A_001's 13 model frames: two windows, two tasks
    local = make_production(tmp_path / "local")
    (local / broken.relative_to(root)).write_bytes(b"\x89PNG broken")
    with pytest.raises(FilmCrewError) as local_error:
        run_refine(settings(local, tiny_wan, shots=["A_002"], **long_shots), emit=lambda event: None)
    events = []
    with pytest.raises(FilmCrewError) as error:
        run_refine(settings(root, tiny_wan, ray="auto", **long_shots), emit=events.append)
    message = str(error.value)
    assert message == str(local_error.value).replace(str(tmp_path / "local"), str(root))
    assert "A_002" in message and str(broken) in message and "\n" not in message
    assert [e["shot"] for e in events if e["event"] == "shot" and e["state"] == "failed"] == ["A_002"]
    windows = sorted(e["window"] for e in events if e["event"] == "window" and e["shot"] == "A_001")
    assert windows == [1, 2]
    first = root / "refined" / "A_001.mp4"
    assert read_video(first).shape == (10, 32, 64, 3) and not (root / "refined" / "A_002.mp4").exists()
    assert json.loads((root / "refined" / "A_001.json").read_text())["windows"] == 2
    assert not (root / "film.mp4").exists()  # as locally: no film from a failed run
    kept = first.stat().st_mtime_ns
    broken.write_bytes(good)
    events = []
    figures = run_refine(settings(root, tiny_wan, ray="auto", **long_shots), emit=events.append)
    states = {e["shot"]: e["state"] for e in events if e["event"] == "shot" and e["state"] != "start"}
    assert states == {"A_001": "skipped", "A_002": "done"}
    assert figures["shots_refined"] == 1 and figures["shots_skipped"] == 1
    assert first.stat().st_mtime_ns == kept and (root / "film.mp4").exists()
    assert set(json.loads((root / "report.json").read_text())["refine"]) == {"A_001", "A_002"}


@pytest.mark.slow
def test_cli_ray_local_starts_a_cluster_and_refines(tmp_path, tiny_wan, capsys):
    from filmcrew.cli import main

    root = make_production(tmp_path / "prod")
    args = ["-q", "refine", str(root), "--model", str(tiny_wan), "--device", "cpu", "--size", "64x32",
            "--steps", "2", "--ray", "local"]
    assert main([*args, "--shots", "A_002"]) == 0
    assert "1 shot(s) refined, 0 unchanged" in capsys.readouterr().out
    assert read_video(root / "refined" / "A_002.mp4").shape == (7, 32, 64, 3)
    assert (root / "film.mp4").exists() and not (root / "refined" / "A_001.mp4").exists()
    # Nothing left to do: no cluster is needed (this address has none), nothing is redone.
    kept = (root / "refined" / "A_002.mp4").stat().st_mtime_ns
    assert main([*args[:-1], "127.0.0.1:1", "--shots", "A_002"]) == 0
    assert "0 shot(s) refined, 1 unchanged" in capsys.readouterr().out
    assert (root / "refined" / "A_002.mp4").stat().st_mtime_ns == kept


def test_ray_address_errors_are_one_line(tmp_path, tiny_wan, capsys):
    from filmcrew.cli import main

    root = make_production(tmp_path / "prod")
    args = ["refine", str(root), "--model", str(tiny_wan), "--device", "cpu", "--size", "64x32", "--steps", "2"]
    with pytest.raises(SystemExit):
        main([*args, "--ray", "nowhere"])
    assert "--ray takes auto, local, host:port or ray://host:port, not 'nowhere'" in capsys.readouterr().err
    assert main(["-q", *args, "--ray", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("filmcrew: error: cannot reach the Ray cluster at '127.0.0.1:1'") and "\n" not in err
    assert not (root / "refined" / "A_001.mp4").exists()
