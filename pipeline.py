"""The stages over a production folder: plan, stage, render, and make (all three).

Each stage reads only the files before it and writes its own atomically; a stage whose
inputs hash did not change does no work, so a rerun or an interrupted run resumes cheaply.
The CLI, the Blender panel and Python callers all go through these functions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import FilmCrewError
from .fsutil import atomic_write_json, atomic_write_text, sha256_bytes, sha256_file, sha256_json
from .plan.io import load_plan, plan_to_json, save_plan
from .plan.model import Plan
from .production import Production
from .render.shots import RenderSettings, frame_keys, shot_inputs_hash
from .render.subtitles import dialogue_cues, srt_text
from .staging.blocking import Blocking, Track, block_plan
from .staging.cameras import CameraPose, solve_cameras
from .staging.timeline import Timeline, build_timeline

DIRECTOR_VERSION = 1
STAGE_VERSION = 1


class Progress:
    """Progress callbacks: one bar per stage. The default reports nothing."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, step: int = 1, note: str = "") -> None: ...

    def finish(self, stage: str, note: str = "") -> None: ...


@dataclass
class StageResult:
    stage: str
    skipped: bool
    note: str = ""
    figures: dict = field(default_factory=dict)


# --- plan ---------------------------------------------------------------------------------
def plan_production(*, screenplay: Path, out: Path, fps: int = 24,
                    resolution: tuple[int, int] = (480, 270), progress: Progress | None = None,
                    force: bool = False) -> StageResult:
    """Parse a Fountain screenplay and write screenplay.fountain, screenplay.pdf and plan.json."""
    from .agents.offline import direct_screenplay
    from .screenplay import load_screenplay, write_pdf

    progress = progress or Progress()
    progress.start("plan", 3)
    parsed = load_screenplay(screenplay)  # refuse bad input before touching the folder
    prod = Production(out)
    prod.claim()
    inputs = sha256_json({"text": sha256_bytes(parsed.text.encode()), "fps": fps,
                          "resolution": list(resolution), "director": DIRECTOR_VERSION})
    plan_ok = prod.plan.exists() and prod.stage_hash("plan") == inputs
    if plan_ok and not force:
        progress.finish("plan", "unchanged")
        return StageResult("plan", skipped=True, note="screenplay unchanged")
    progress.advance("plan", note="parsed")
    plan = direct_screenplay(screenplay=parsed, fps=fps, resolution=resolution)
    progress.advance("plan", note="directed")
    atomic_write_text(prod.screenplay, parsed.text)
    write_pdf(parsed, prod.path("screenplay.pdf"))
    save_plan(plan, prod.plan)
    prod.record_stage("plan", inputs)
    progress.finish("plan", f"{len(plan.scenes)} scene(s), {len(plan.shots)} shot(s)")
    return StageResult("plan", skipped=False, figures={"shots": len(plan.shots)})


# --- stage --------------------------------------------------------------------------------
def _save_staging(path: Path, blocking: Blocking) -> None:
    arrays = {"frame_count": np.array(blocking.frame_count)}
    for cid, track in blocking.tracks.items():
        for name in ("position", "facing", "sit", "present", "seat_height"):
            arrays[f"{cid}/{name}"] = getattr(track, name)
    arrays["set_offsets"] = np.array(json.dumps(blocking.set_offsets))
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_staging(path: Path) -> Blocking:
    data = np.load(path)
    blocking = Blocking(frame_count=int(data["frame_count"]),
                        set_offsets={k: tuple(v) for k, v in json.loads(str(data["set_offsets"])).items()})
    ids = sorted({key.split("/")[0] for key in data.files if "/" in key})
    for cid in ids:
        blocking.tracks[cid] = Track(**{n: data[f"{cid}/{n}"] for n in
                                        ("position", "facing", "sit", "present", "seat_height")})
    return blocking


def _save_cameras(path: Path, cameras: dict[str, CameraPose]) -> None:
    atomic_write_json(path, {shot: asdict(pose) for shot, pose in cameras.items()})


def load_cameras(path: Path) -> dict[str, CameraPose]:
    data = json.loads(path.read_text())
    return {shot: CameraPose(position=tuple(p["position"]), rotation=tuple(map(tuple, p["rotation"])),
                             focal_mm=p["focal_mm"], sensor_mm=p["sensor_mm"])
            for shot, p in data.items()}


def _kits(plan: Plan, prod: Production, progress: Progress) -> tuple[dict[str, Path], dict[str, str]]:
    from .characters.kit import appearance_key, ensure_kits

    appearances = {c.id: c.appearance for c in plan.characters}
    paths = ensure_kits(appearances=appearances, cache_dir=prod.characters,
                        progress=lambda note: progress.advance("stage", 0, note))
    return paths, {cid: appearance_key(a) for cid, a in appearances.items()}


def _heights(kit_paths: dict[str, Path]) -> dict[str, float]:
    from .characters.kit import load_kit

    return {cid: float(load_kit(path).height_m) for cid, path in kit_paths.items()}


def stage_production(*, out: Path, progress: Progress | None = None, force: bool = False) -> StageResult:
    """Stage plan.json: character kits, blocking, cameras, and scene.blend."""
    progress = progress or Progress()
    prod = Production(out)
    prod.claim()
    plan = load_plan(prod.require(prod.plan, stage="plan"))
    progress.start("stage", 4 + len(plan.characters) + len(plan.sets))
    kit_paths, kit_keys = _kits(plan, prod, progress)
    inputs = sha256_json({"plan": sha256_bytes(plan_to_json(plan).encode()), "kits": kit_keys,
                          "version": STAGE_VERSION})
    outputs = (prod.blend, prod.staging, prod.cameras)
    if not force and prod.stage_hash("stage") == inputs and all(p.exists() for p in outputs):
        progress.finish("stage", "unchanged")
        return StageResult("stage", skipped=True, note="plan unchanged")
    timeline = build_timeline(plan)
    blocking = block_plan(plan=plan, timeline=timeline)
    progress.advance("stage", note="blocking")
    cameras = solve_cameras(plan=plan, timeline=timeline, blocking=blocking, heights=_heights(kit_paths))
    progress.advance("stage", note="cameras")
    from .scene.build import build_scene, save_blend

    build_scene(plan=plan, timeline=timeline, blocking=blocking, cameras=cameras, kit_paths=kit_paths,
                progress=lambda note: progress.advance("stage", note=note))
    _save_staging(prod.staging, blocking)
    _save_cameras(prod.cameras, cameras)
    save_blend(prod.blend)
    progress.advance("stage", note="scene.blend")
    prod.record_stage("stage", inputs)
    progress.finish("stage", f"{timeline.frame_count} frames, {len(cameras)} cameras")
    return StageResult("stage", skipped=False, figures={"frames": timeline.frame_count})


# --- render -------------------------------------------------------------------------------
@dataclass
class _ShotWork:
    shot: str
    inputs_hash: str
    keys: list[str]


def _shot_work(plan: Plan, timeline: Timeline, blocking: Blocking, cameras: dict[str, CameraPose],
               kit_keys: dict[str, str], settings: RenderSettings) -> list[_ShotWork]:
    work = []
    for shot_range in timeline.shots:
        inputs = shot_inputs_hash(plan=plan, shot_range=shot_range, blocking=blocking,
                                  camera=cameras[shot_range.shot], kit_keys=kit_keys, settings=settings)
        work.append(_ShotWork(shot_range.shot, inputs,
                              frame_keys(plan=plan, shot_range=shot_range, blocking=blocking)))
    return work


def _shot_done(prod: Production, work: _ShotWork, frames: int) -> bool:
    state_path = prod.shot_dir(work.shot) / "render.json"
    try:
        state = json.loads(state_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    rgb = prod.shot_dir(work.shot) / "rgb"
    return (state.get("inputs_hash") == work.inputs_hash and state.get("complete") and
            all((rgb / f"{i:04d}.png").exists() for i in range(1, frames + 1)))


def render_production(*, out: Path, engine: str = "cycles", samples: int = 4,
                      resolution: tuple[int, int] | None = None, burn_subtitles: bool = False,
                      progress: Progress | None = None) -> StageResult:
    """Render every shot's preview frames, then the manifest, subtitles and animatic."""
    import time

    from .characters.kit import appearance_key
    from .render.frames import engine_id

    progress = progress or Progress()
    prod = Production(out)
    prod.claim()
    plan = load_plan(prod.require(prod.plan, stage="plan"))
    for needed in (prod.blend, prod.staging, prod.cameras):
        prod.require(needed, stage="stage")
    timeline = build_timeline(plan)
    blocking = load_staging(prod.staging)
    cameras = load_cameras(prod.cameras)
    if blocking.frame_count != timeline.frame_count or set(cameras) != {s.id for s in plan.shots}:
        raise FilmCrewError("scene.blend is older than plan.json; run `filmcrew stage` first", path=prod.blend)
    settings = RenderSettings(engine=engine_id(engine), samples=samples,
                              resolution=tuple(resolution or plan.resolution))
    kit_keys = {c.id: appearance_key(c.appearance) for c in plan.characters}
    work = _shot_work(plan, timeline, blocking, cameras, kit_keys, settings)
    ranges = {r.shot: r for r in timeline.shots}
    todo = [w for w in work if not _shot_done(prod, w, ranges[w.shot].frame_count)]
    progress.start("render", sum(ranges[w.shot].frame_count for w in todo))
    started = time.perf_counter()
    rendered = _render_shots(prod, plan, todo, ranges, settings, progress)
    seconds = time.perf_counter() - started
    _write_manifest(prod, plan, timeline, cameras, work, settings)
    edit_note = _write_edit(prod, plan, timeline, work, burn_subtitles)
    progress.finish("render", f"{len(todo)} shot(s) rendered, {rendered} frame(s) drawn; {edit_note}")
    return StageResult("render", skipped=not todo, figures={
        "shots_rendered": len(todo), "frames_drawn": rendered, "seconds": round(seconds, 2),
        "frames_total": timeline.frame_count})


def _render_shots(prod: Production, plan: Plan, todo: list[_ShotWork], ranges: dict,
                  settings: RenderSettings, progress: Progress) -> int:
    if not todo:
        return 0
    import bpy

    from .render.frames import clear_frames, configure_render, record_joints, render_shot, write_shot_state

    bpy.ops.wm.open_mainfile(filepath=str(prod.blend))
    scene = bpy.context.scene
    configure_render(scene, settings=settings)
    drawn = 0
    names = [c.id for c in plan.characters]
    for work in todo:
        shot_dir = prod.shot_dir(work.shot)
        state_path = shot_dir / "render.json"
        try:
            previous = json.loads(state_path.read_text()).get("inputs_hash")
        except (FileNotFoundError, json.JSONDecodeError):
            previous = None
        if previous != work.inputs_hash:
            clear_frames(shot_dir / "rgb")
        shot_range = ranges[work.shot]
        write_shot_state(state_path, inputs_hash=work.inputs_hash, frames=shot_range.frame_count,
                         complete=False)

        def on_frame(_local: int, drew: bool, shot: str = work.shot) -> None:
            nonlocal drawn
            drawn += int(drew)
            progress.advance("render", note=shot)

        render_shot(scene=scene, shot_range=shot_range, rgb_dir=shot_dir / "rgb", keys=work.keys,
                    on_frame=on_frame)
        record_joints(scene=scene, shot_range=shot_range, names=names, path=shot_dir / "joints.npz")
        write_shot_state(state_path, inputs_hash=work.inputs_hash, frames=shot_range.frame_count,
                         complete=True)
    return drawn


def _intrinsics(pose: CameraPose, resolution: tuple[int, int]) -> dict:
    width, height = resolution
    fx = pose.focal_mm / pose.sensor_mm * width
    return {"focal_mm": pose.focal_mm, "sensor_width_mm": pose.sensor_mm, "width": width,
            "height": height, "K": [[fx, 0.0, width / 2.0], [0.0, fx, height / 2.0], [0.0, 0.0, 1.0]]}


def _write_manifest(prod: Production, plan: Plan, timeline: Timeline, cameras: dict[str, CameraPose],
                    work: list[_ShotWork], settings: RenderSettings) -> None:
    by_id = {w.shot: w for w in work}
    shots = []
    for shot_range in timeline.shots:
        pose = cameras[shot_range.shot]
        files = [f"shots/{shot_range.shot}/rgb/{i:04d}.png" for i in range(1, shot_range.frame_count + 1)]
        atomic_write_json(prod.shot_dir(shot_range.shot) / "camera.json",
                          {"intrinsics": _intrinsics(pose, settings.resolution),
                           "world_from_camera": pose.matrix().tolist()})
        shots.append({
            "id": shot_range.shot, "scene": shot_range.scene,
            "film_frames": [shot_range.start_frame, shot_range.end_frame],
            "frame_count": shot_range.frame_count,
            "passes": {"rgb": files},
            "camera": {"intrinsics": _intrinsics(pose, settings.resolution),
                       "world_from_camera": [pose.matrix().tolist()] * shot_range.frame_count,
                       "convention": "Blender: camera looks down -Z, +Y up; metres"},
            "joints": f"shots/{shot_range.shot}/joints.npz",
            "inputs_hash": by_id[shot_range.shot].inputs_hash,
            "content_hashes": {f: sha256_file(prod.root / f) for f in files if (prod.root / f).exists()},
        })
    atomic_write_json(prod.path("manifest.json"), {
        "schema_version": 1, "title": plan.title, "fps": plan.fps,
        "resolution": list(settings.resolution), "engine": settings.engine,
        "frame_count": timeline.frame_count, "shots": shots,
    })


def _write_edit(prod: Production, plan: Plan, timeline: Timeline, work: list[_ShotWork],
                burn_subtitles: bool) -> str:
    from .render.animatic import encode_animatic

    srt = srt_text(dialogue_cues(plan=plan, timeline=timeline))
    atomic_write_text(prod.path("subtitles.srt"), srt)
    inputs = sha256_json({"shots": [w.inputs_hash for w in work], "srt": srt, "fps": plan.fps,
                          "burn": burn_subtitles})
    animatic = prod.path("animatic.mp4")
    if animatic.exists() and prod.stage_hash("animatic") == inputs:
        return "animatic unchanged"
    frames = [prod.shot_dir(r.shot) / "rgb" / f"{i:04d}.png"
              for r in timeline.shots for i in range(1, r.frame_count + 1)]
    encode_animatic(frames=frames, fps=plan.fps, srt=prod.path("subtitles.srt"), out=animatic,
                    burn_subtitles=burn_subtitles)
    prod.record_stage("animatic", inputs)
    return "animatic cut"


# --- make ---------------------------------------------------------------------------------
def make_production(*, screenplay: Path, out: Path, fps: int = 24,
                    resolution: tuple[int, int] = (480, 270), engine: str = "cycles",
                    samples: int = 4, burn_subtitles: bool = False,
                    progress: Progress | None = None) -> list[StageResult]:
    """Run plan, stage and render in order; each skips what has not changed."""
    return [
        plan_production(screenplay=screenplay, out=out, fps=fps, resolution=resolution, progress=progress),
        stage_production(out=out, progress=progress),
        render_production(out=out, engine=engine, samples=samples, resolution=resolution,
                          burn_subtitles=burn_subtitles, progress=progress),
    ]
