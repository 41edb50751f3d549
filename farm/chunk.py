"""The Blender side of a Flamenco render task: a chunk of one shot's frames, or its finish (bpy).

The FilmCrew job type (assets/flamenco/filmcrew.js) starts the worker's Blender on the
production's scene.blend with ``--python-expr`` that calls ``main`` with the arguments after
``--``: ``--task shots/<id>/farm_task.json --inputs-hash H`` and either ``--frames 9-16`` or
``--finish``. Frames are written exactly as a local ``filmcrew render`` writes them (the same
renderer, into the same shot folder), so a later ``filmcrew render`` or ``make`` finds the shot
done. A frame already on disk is kept, so a requeued task resumes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import FilmCrewError

TASK_FILE = "farm_task.json"


def parse_frames(text: str) -> list[int]:
    """Flamenco's chunk notation ("1-8", "9", "1-3,7") as sorted shot frame numbers (from 1)."""
    frames: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().replace("..", "-").partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise FilmCrewError(f"--frames: '{text}' is not a frame range like 1-8 or 1-3,7") from None
        if low < 1 or high < low:
            raise FilmCrewError(f"--frames: '{part.strip()}' is not a range of frames from 1 up")
        frames.update(range(low, high + 1))
    return sorted(frames)


def load_task(*, path: Path, inputs_hash: str) -> dict:
    """The shot's farm_task.json, checked against the job's inputs hash (a stale job must not draw)."""
    try:
        task = json.loads(path.read_text())
    except FileNotFoundError:
        raise FilmCrewError("missing; submit the shot again with `filmcrew farm submit`", path=path) from None
    except json.JSONDecodeError as exc:
        raise FilmCrewError(f"not valid JSON (line {exc.lineno})", path=path) from None
    if task.get("inputs_hash") != inputs_hash:
        raise FilmCrewError("the shot changed after this job was submitted (inputs hash differs); this job is "
                            "stale, cancel it and run `filmcrew farm submit` again", path=path)
    return task


def _renderer(task: dict, blend: Path):
    import bpy

    from ..console import quiet_output
    from ..render.frames import FrameRenderer, configure_render
    from ..render.shots import RenderSettings

    if Path(bpy.data.filepath or "").resolve() != blend.resolve():  # run outside the worker's Blender
        with quiet_output():
            bpy.ops.wm.open_mainfile(filepath=str(blend))
    raw = task["settings"]
    settings = RenderSettings(**{**raw, "resolution": tuple(raw["resolution"]), "passes": tuple(raw["passes"])})
    scene = bpy.context.scene
    configure_render(scene, settings=settings, threads=0)
    return FrameRenderer(scene=scene, settings=settings, passes=tuple(task["passes"]),
                         characters=list(task["characters"]))


def _shot_job(task: dict, shot_dir: Path):
    from ..render.frames import ShotJob

    return ShotJob(shot=task["shot"], start_frame=int(task["start_frame"]), end_frame=int(task["end_frame"]),
                   keys=list(task["keys"]), shot_dir=shot_dir)


def render_frames(*, task_path: Path, inputs_hash: str, frames: list[int]) -> int:
    """Render the given frames of the shot (numbered from 1); returns how many were drawn."""
    task = load_task(path=task_path, inputs_hash=inputs_hash)
    job = _shot_job(task, task_path.parent)
    outside = [n for n in frames if n > job.frame_count]
    if outside:
        raise FilmCrewError(f"frame {outside[0]} is past the shot's {job.frame_count} frames", path=task_path)
    renderer = _renderer(task, task_path.parent.parent.parent / "scene.blend")
    drawn = 0
    for number in frames:
        local = number - 1
        if renderer.frame_done(job.shot_dir, number):
            continue
        # A frame equal to the one before is a copy of it, when that one is this task's to make.
        if number - 1 in frames and job.keys[local] == job.keys[local - 1]:
            renderer.copy_frame(job, local)
        else:
            renderer.render_frame(job, local)
            drawn += 1
        print(f"filmcrew: shot {job.shot} frame {number}/{job.frame_count}", flush=True)
    return drawn


def finish_shot(*, task_path: Path, inputs_hash: str) -> None:
    """After every chunk: missing frames, depth PNGs over the shot, joints, then mark the shot done."""
    from ..render.frames import record_joints, render_shot
    from ..render.parallel import write_shot_state
    from ..staging.timeline import ShotRange

    task = load_task(path=task_path, inputs_hash=inputs_hash)
    job = _shot_job(task, task_path.parent)
    renderer = _renderer(task, task_path.parent.parent.parent / "scene.blend")
    render_shot(renderer=renderer, job=job)  # draws only what a lost chunk left missing
    record_joints(scene=renderer.scene, shot_range=ShotRange(job.shot, "", job.start_frame, job.end_frame),
                  names=renderer.characters, path=job.shot_dir / "joints.npz")
    write_shot_state(job.shot_dir / "render.json", inputs_hash=inputs_hash, frames=job.frame_count,
                     complete=True)


def main(*, argv: list[str]) -> int:
    """Entry point of the job type's ``--python-expr``; raises (exit code 1) on any failure."""
    parser = argparse.ArgumentParser(prog="filmcrew.farm.chunk")
    parser.add_argument("--task", type=Path, required=True)
    parser.add_argument("--inputs-hash", required=True)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--frames")
    what.add_argument("--finish", action="store_true")
    args = parser.parse_args(argv)
    if args.finish:
        finish_shot(task_path=args.task, inputs_hash=args.inputs_hash)
        print(f"filmcrew: shot finished: {args.task.parent.name}", flush=True)
    else:
        drawn = render_frames(task_path=args.task, inputs_hash=args.inputs_hash, frames=parse_frames(args.frames))
        print(f"filmcrew: {drawn} frame(s) drawn for {args.task.parent.name}", flush=True)
    return 0
