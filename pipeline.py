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

from .errors import FilmCrewError, StageError
from .fsutil import atomic_write_json, atomic_write_text, sha256_bytes, sha256_file, sha256_json
from .plan.io import load_plan, plan_to_json, save_plan
from .plan.model import Plan
from .production import Production, merge_report
from .render.shots import RenderSettings, frame_keys, shot_inputs_hash
from .render.subtitles import dialogue_cues, srt_text
from .staging.blocking import Arrival, Blocking, Track, block_plan
from .staging.cameras import CameraPose, camera_from_json, solve_cameras
from .staging.timeline import Timeline, build_timeline

DIRECTOR_VERSION = 1
STAGE_VERSION = 2


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
def plan_production(*, screenplay: Path | None = None, out: Path, fps: int = 24,
                    resolution: tuple[int, int] = (480, 270), progress: Progress | None = None,
                    force: bool = False, idea: str | None = None, llm=None, cancel=None,
                    user_sets: dict[str, Path] | None = None) -> StageResult:
    """Parse a Fountain screenplay and write screenplay.fountain, screenplay.pdf and plan.json.

    With ``idea`` instead of a screenplay, the agent crew (``llm``: an ``agents.config.LLMSettings``)
    writes the screenplay first; with a screenplay, ``llm.roles`` may hand roles to a model.
    ``cancel`` (a ``threading.Event``) stops the crew at its next request. ``user_sets`` maps a
    scene heading's location ("CORNER CAFE") to the user's own .blend with ``MARK_*`` empties.
    """
    from .agents.crew import check_crew_settings, crew_inputs, plan_with_crew, uses_crew
    from .agents.offline import direct_screenplay
    from .audio.voices import voice_inputs, voice_plan
    from .screenplay import load_screenplay, write_pdf

    progress = progress or Progress()
    progress.start("plan", 3)
    if (idea is None) == (screenplay is None):
        raise FilmCrewError("give either a screenplay or an idea (--idea), not both or neither")
    check_crew_settings(idea=idea, llm=llm)  # no endpoint: fail before touching the folder
    parsed = load_screenplay(screenplay) if idea is None else None  # refuse bad input first
    prod = Production(out)
    prod.claim()
    text = parsed.text if parsed is not None else ""
    own_sets = _read_user_sets(user_sets or {})
    inputs = {"text": sha256_bytes(text.encode()), "fps": fps, "resolution": list(resolution),
              "director": DIRECTOR_VERSION}
    if own_sets:
        inputs["user_sets"] = {k: sha256_file(v.source_blend) for k, v in sorted(own_sets.items())}
    inputs["voices"] = voice_inputs()  # dialogue beats last as long as their spoken lines
    crew = uses_crew(idea=idea, llm=llm)
    if crew:
        inputs["agents"] = crew_inputs(idea=idea, llm=llm)
    inputs = sha256_json(inputs)
    plan_ok = prod.plan.exists() and prod.stage_hash("plan") == inputs
    if plan_ok and not force:
        progress.finish("plan", "unchanged")
        return StageResult("plan", skipped=True, note="screenplay unchanged")
    progress.advance("plan", note="parsed")
    if crew:
        parsed, plan, report = plan_with_crew(idea=idea, screenplay=parsed, llm=llm, workdir=prod.path("agents"),
                                              fps=fps, resolution=resolution, source=str(prod.screenplay),
                                              cancel=cancel)
        merge_report(prod.path("report.json"), report)
    else:
        plan = direct_screenplay(screenplay=parsed, fps=fps, resolution=resolution, user_sets=own_sets)
    progress.advance("plan", note="directed")
    plan = voice_plan(plan=plan, root=prod.root)  # speak every line; its length times the beat
    plan, dropped = _keep_pinned(prod, plan)
    if dropped:
        progress.advance("plan", 0, note=f"pinned shot(s) {', '.join(dropped)} no longer fit; re-planned")
    atomic_write_text(prod.screenplay, parsed.text)
    write_pdf(parsed, prod.path("screenplay.pdf"))
    save_plan(plan, prod.plan)
    prod.record_stage("plan", inputs)
    progress.finish("plan", f"{len(plan.scenes)} scene(s), {len(plan.shots)} shot(s)")
    return StageResult("plan", skipped=False, figures={"shots": len(plan.shots)})


def _read_user_sets(user_sets: dict[str, Path]) -> dict:
    """The user's own sets as SetSpecs by location id (reading a .blend needs bpy)."""
    if not user_sets:
        return {}
    from .agents.offline import location_id
    from .scene.sets import load_user_set

    specs = {}
    for location, path in user_sets.items():
        set_id = location_id(location)
        _, spec = load_user_set(blend_path=Path(path).resolve(), set_id=set_id)
        specs[set_id] = spec
    return specs


def _keep_pinned(prod: Production, plan: Plan) -> tuple[Plan, list[str]]:
    """Carry the user's pinned shots from the plan.json being replaced."""
    from .plan.overrides import keep_pinned

    if not prod.plan.exists():
        return plan, []
    try:
        old = load_plan(prod.plan)
    except FilmCrewError:
        return plan, []  # an unreadable old plan has nothing to keep
    return keep_pinned(old=old, new=plan)


# --- stage --------------------------------------------------------------------------------
TRACK_FIELDS = ("position", "facing", "sit", "present", "seat_height", "gaze")


def _save_staging(path: Path, blocking: Blocking, feet: dict[str, np.ndarray] | None = None) -> None:
    arrays = {"frame_count": np.array(blocking.frame_count)}
    for cid, track in blocking.tracks.items():
        for name in TRACK_FIELDS:
            arrays[f"{cid}/{name}"] = getattr(track, name)
    for cid, array in (feet or {}).items():
        arrays[f"feet/{cid}"] = array
    arrays["set_offsets"] = np.array(json.dumps(blocking.set_offsets))
    arrays["arrivals"] = np.array(json.dumps([asdict(a) for a in blocking.arrivals]))
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_staging(path: Path) -> Blocking:
    data = np.load(path)
    blocking = Blocking(frame_count=int(data["frame_count"]),
                        set_offsets={k: tuple(v) for k, v in json.loads(str(data["set_offsets"])).items()})
    ids = sorted({key.split("/")[0] for key in data.files if "/" in key} - {"feet"})
    for cid in ids:
        blocking.tracks[cid] = Track(**{n: data[f"{cid}/{n}"] for n in TRACK_FIELDS})
    if "arrivals" in data.files:
        blocking.arrivals = [Arrival(**{**a, "target": tuple(a["target"])})
                             for a in json.loads(str(data["arrivals"]))]
    return blocking


def load_feet(path: Path) -> dict[str, np.ndarray]:
    """Baked feet per character (F, 4, 3: ankles, then balls of the feet), when staging measured them."""
    data = np.load(path)
    return {key.split("/", 1)[1]: data[key] for key in data.files if key.startswith("feet/")}


def _save_cameras(path: Path, cameras: dict[str, CameraPose]) -> None:
    atomic_write_json(path, {shot: asdict(pose) for shot, pose in cameras.items()})


def load_cameras(path: Path) -> dict[str, CameraPose]:
    data = json.loads(path.read_text())
    return {shot: camera_from_json(pose) for shot, pose in data.items()}


def _kits(plan: Plan, prod: Production, progress: Progress) -> tuple[dict[str, Path], dict[str, str]]:
    from .characters.kit import appearance_key, ensure_kits

    appearances = {c.id: c.appearance for c in plan.characters}
    paths = ensure_kits(appearances=appearances, cache_dir=prod.characters,
                        progress=lambda note: progress.advance("stage", 0, note))
    return paths, {cid: appearance_key(a) for cid, a in appearances.items()}


def _heights(kit_paths: dict[str, Path]) -> dict[str, float]:
    from .characters.kit import load_kit

    return {cid: float(load_kit(path).height_m) for cid, path in kit_paths.items()}


def _clip_paths(plan: Plan, prod: Production) -> dict[tuple[str, int], Path]:
    """The clip file of every ``perform`` beat, relative paths taken from the production folder."""
    paths = {}
    for si, scene in enumerate(plan.scenes):
        for bi, beat in enumerate(scene.beats):
            clip = getattr(beat, "clip", None)
            if clip is None:
                continue
            path = Path(clip).expanduser()
            path = path if path.is_absolute() else prod.root / path
            if not path.is_file():
                raise StageError(f"motion clip not found: {path}", path=prod.plan,
                                 field=f"scenes[{si}].beats[{bi}].clip")
            paths[(scene.id, bi)] = path
    return paths


def _read_clips(plan: Plan, paths: dict[tuple[str, int], Path]) -> dict:
    from .characters.clips import read_clip

    return {key: read_clip(path) for key, path in paths.items()}


def _baked_feet(plan: Plan, blocking: Blocking) -> dict[str, np.ndarray]:
    """The ankles and balls of the feet of every character on every film frame (F, 4, 3), from
    the baked rig (for the metrics)."""
    import bpy

    from .scene.motion import sample_feet

    armatures = {c.id: bpy.data.objects[c.id] for c in plan.characters if c.id in bpy.data.objects}
    return sample_feet(scene=bpy.context.scene, armatures=armatures, frames=range(1, blocking.frame_count + 1),
                       toes=True)


def stage_production(*, out: Path, progress: Progress | None = None, force: bool = False) -> StageResult:
    """Stage plan.json: character kits, blocking, cameras, and scene.blend."""
    progress = progress or Progress()
    prod = Production(out)
    prod.claim()
    plan = load_plan(prod.require(prod.plan, stage="plan"))
    progress.start("stage", 4 + len(plan.characters) + len(plan.sets))
    kit_paths, kit_keys = _kits(plan, prod, progress)
    clip_paths = _clip_paths(plan, prod)
    inputs = sha256_json({"plan": sha256_bytes(plan_to_json(plan).encode()), "kits": kit_keys,
                          "clips": {f"{k[0]}/{k[1]}": sha256_file(p) for k, p in clip_paths.items()},
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
                progress=lambda note: progress.advance("stage", note=note), clips=_read_clips(plan, clip_paths))
    feet = _baked_feet(plan, blocking)
    progress.advance("stage", 0, "feet measured")
    _save_staging(prod.staging, blocking, feet)
    _save_cameras(prod.cameras, cameras)
    save_blend(prod.blend)
    from .review.blocking_metrics import blocking_metrics

    merge_report(prod.path("report.json"), {"blocking": blocking_metrics(plan=plan, blocking=blocking,
                                                                         timeline=timeline, feet=feet)})
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


def shot_work(plan: Plan, timeline: Timeline, blocking: Blocking, cameras: dict[str, CameraPose],
               kit_keys: dict[str, str], settings: RenderSettings) -> list[_ShotWork]:
    work = []
    for shot_range in timeline.shots:
        inputs = shot_inputs_hash(plan=plan, shot_range=shot_range, blocking=blocking,
                                  camera=cameras[shot_range.shot], kit_keys=kit_keys, settings=settings)
        work.append(_ShotWork(shot_range.shot, inputs,
                              frame_keys(plan=plan, shot_range=shot_range, blocking=blocking,
                                         camera=cameras[shot_range.shot])))
    return work


def shot_done(prod: Production, work: _ShotWork, frames: int, passes: tuple[str, ...]) -> bool:
    from .render.parallel import read_shot_state
    from .render.passes import frame_file_map

    shot_dir = prod.shot_dir(work.shot)
    state = read_shot_state(shot_dir / "render.json")
    if state.get("inputs_hash") != work.inputs_hash or not state.get("complete"):
        return False
    return all((shot_dir / rel).exists() for i in range(1, frames + 1)
               for rel in [*frame_file_map(passes, i).values(), f"keypoints/{i:04d}.json"])


def render_production(*, out: Path, engine: str = "cycles", samples: int = 4,
                      resolution: tuple[int, int] | None = None, burn_subtitles: bool = False,
                      passes: str | list[str] | tuple[str, ...] | None = None, workers: int | None = None,
                      burn_label: bool = False, progress: Progress | None = None) -> StageResult:
    """Render every shot's frames and passes, then the manifest, dialogue track and edit files.

    Args:
        passes: which passes (``render.passes.PASSES``; comma-separated or a list); None: all.
        workers: parallel render processes, one Blender each (default: min(2, CPU count)).
        burn_label: draw each frame's shot id into the animatic's picture.
    """
    import time

    from .characters.kit import appearance_key
    from .render.shots import engine_id
    from .render.parallel import default_workers
    from .render.passes import parse_passes

    progress = progress or Progress()
    chosen = parse_passes(passes)
    if workers is not None and workers < 1:
        raise FilmCrewError(f"--workers must be at least 1, not {workers}")
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
                              resolution=tuple(resolution or plan.resolution), passes=chosen)
    kit_keys = {c.id: appearance_key(c.appearance) for c in plan.characters}
    work = shot_work(plan, timeline, blocking, cameras, kit_keys, settings)
    ranges = {r.shot: r for r in timeline.shots}
    todo = [w for w in work if not shot_done(prod, w, ranges[w.shot].frame_count, chosen)]
    progress.start("render", sum(ranges[w.shot].frame_count for w in todo))
    started = time.perf_counter()
    rendered = _render_shots(prod, plan, todo, ranges, settings, progress,
                             workers=workers or default_workers())
    seconds = time.perf_counter() - started
    lines = _dialogue_audio(prod, plan, timeline)
    _write_manifest(prod, plan, timeline, work, settings, lines)
    edit_note = _write_edit(prod, plan, timeline, work, burn_subtitles, burn_label, lines)
    if todo or not prod.path("storyboard.png").exists():
        from .review.storyboard import write_storyboard

        write_storyboard(plan=plan, timeline=timeline, root=prod.root)
    progress.finish("render", f"{len(todo)} shot(s) rendered, {rendered} frame(s) drawn; {edit_note}")
    return StageResult("render", skipped=not todo, figures={
        "shots_rendered": len(todo), "frames_drawn": rendered, "seconds": round(seconds, 2),
        "frames_total": timeline.frame_count, "passes": list(chosen)})


def _render_shots(prod: Production, plan: Plan, todo: list[_ShotWork], ranges: dict,
                  settings: RenderSettings, progress: Progress, *, workers: int) -> int:
    from .render.parallel import ShotTask, clear_frames, read_shot_state, render_parallel, write_shot_state

    tasks = []
    for work in todo:
        shot_dir = prod.shot_dir(work.shot)
        state_path = shot_dir / "render.json"
        if read_shot_state(state_path).get("inputs_hash") != work.inputs_hash:
            clear_frames(shot_dir)
        shot_range = ranges[work.shot]
        write_shot_state(state_path, inputs_hash=work.inputs_hash, frames=shot_range.frame_count,
                         complete=False)
        tasks.append(ShotTask(shot=work.shot, start_frame=shot_range.start_frame, end_frame=shot_range.end_frame,
                              keys=work.keys, shot_dir=str(shot_dir), inputs_hash=work.inputs_hash))
    drawn = 0

    def on_frame(shot: str, drew: bool) -> None:
        nonlocal drawn
        drawn += int(drew)
        progress.advance("render", note=shot)

    def on_done(task: ShotTask) -> None:
        write_shot_state(Path(task.shot_dir) / "render.json", inputs_hash=task.inputs_hash,
                         frames=task.frame_count, complete=True)

    render_parallel(blend=prod.blend, tasks=tasks, settings=settings, passes=settings.passes,
                    characters=[c.id for c in plan.characters], workers=workers,
                    log_dir=prod.marker / "logs", on_frame=on_frame, on_done=on_done)
    return drawn


def _dialogue_audio(prod: Production, plan: Plan, timeline: Timeline) -> list:
    """Every dialogue line's WAV (from the cache when the plan stage made it) and its start."""
    from .audio.voices import ensure_line_audio

    lines = ensure_line_audio(plan=plan, root=prod.root)
    return [(timeline.beats[(line.scene, line.beat)].start, line) for line in lines]


def _write_manifest(prod: Production, plan: Plan, timeline: Timeline, work: list[_ShotWork],
                    settings: RenderSettings, lines: list) -> None:
    from .render.manifest import HashCache, keypoint_names, segment_legend, shot_entry, write_manifest

    by_id = {w.shot: w for w in work}
    hashes = HashCache(prod.marker / "hashes.json")
    shots = []
    for shot_range in timeline.shots:
        entry = shot_entry(root=prod.root, shot=shot_range.shot, scene=shot_range.scene,
                           film_frames=(shot_range.start_frame, shot_range.end_frame),
                           frame_count=shot_range.frame_count, passes=settings.passes,
                           inputs_hash=by_id[shot_range.shot].inputs_hash, hashes=hashes)
        atomic_write_json(prod.shot_dir(shot_range.shot) / "camera.json",
                          {"intrinsics": entry["camera"]["intrinsics"],
                           "world_from_camera": entry["camera"]["world_from_camera"][0],
                           "world_from_camera_per_frame": entry["camera"]["world_from_camera"]})
        shots.append(entry)
    hashes.save()
    write_manifest(prod.path("manifest.json"), {
        "schema_version": 2, "title": plan.title, "fps": plan.fps,
        "resolution": list(settings.resolution), "engine": settings.engine, "samples": settings.samples,
        "passes": list(settings.passes), "frame_count": timeline.frame_count,
        "keypoint_names": keypoint_names(),
        "segmentation": segment_legend(prod.root, [s.shot for s in timeline.shots]),
        "audio": {"dialogue": "audio/dialogue.wav",
                  "lines": [{"file": line.file, "start": round(start, 4), "seconds": line.seconds,
                             "character": line.character, "scene": line.scene, "beat": line.beat}
                            for start, line in lines]},
        "deliverables": {"animatic": "animatic.mp4", "subtitles": "subtitles.srt", "timeline": "timeline.otio"},
        "shots": shots,
    })


def _write_edit(prod: Production, plan: Plan, timeline: Timeline, work: list[_ShotWork],
                burn_subtitles: bool, burn_label: bool, lines: list) -> str:
    from .audio.mix import SAMPLE_RATE, mix_lines, write_wav
    from .render.animatic import encode_animatic
    from .render.otio_timeline import AudioClip, ShotClip, build_timeline as otio_timeline, write_timeline

    srt = srt_text(dialogue_cues(plan=plan, timeline=timeline))
    atomic_write_text(prod.path("subtitles.srt"), srt)
    seconds = timeline.frame_count / plan.fps
    dialogue = prod.path("audio/dialogue.wav")
    track = mix_lines(lines=[(start, prod.root / line.file) for start, line in lines], seconds=seconds)
    write_wav(dialogue, track, SAMPLE_RATE)
    specs = {s.id: s for s in plan.shots}
    shot_clips = [ShotClip(shot=r.shot, frame_count=r.frame_count, folder=f"shots/{r.shot}/rgb/",
                           metadata={"scene": r.scene, "framing": specs[r.shot].framing,
                                     "size": specs[r.shot].size, "film_frames": [r.start_frame, r.end_frame]})
                  for r in timeline.shots]
    audio_clips = [AudioClip(name=f"{line.character}: {line.text[:40]}", start=start, seconds=line.seconds,
                             path=line.file, metadata={"scene": line.scene, "beat": line.beat,
                                                       "character": line.character, "text": line.text})
                   for start, line in lines]
    write_timeline(prod.path("timeline.otio"),
                   otio_timeline(title=plan.title, fps=plan.fps, shots=shot_clips, lines=audio_clips))
    inputs = sha256_json({"shots": [w.inputs_hash for w in work], "srt": srt, "fps": plan.fps,
                          "burn": burn_subtitles, "label": burn_label, "audio": sha256_file(dialogue)})
    animatic = prod.path("animatic.mp4")
    if animatic.exists() and prod.stage_hash("animatic") == inputs:
        return "animatic unchanged"
    frames = [prod.shot_dir(r.shot) / "rgb" / f"{i:04d}.png"
              for r in timeline.shots for i in range(1, r.frame_count + 1)]
    labels = [r.shot for r in timeline.shots for _ in range(r.frame_count)] if burn_label else None
    encode_animatic(frames=frames, fps=plan.fps, srt=prod.path("subtitles.srt"), out=animatic,
                    burn_subtitles=burn_subtitles, audio=dialogue, labels=labels)
    prod.record_stage("animatic", inputs)
    return "animatic cut"


# --- make ---------------------------------------------------------------------------------
def make_production(*, screenplay: Path | None = None, out: Path, fps: int = 24,
                    resolution: tuple[int, int] = (480, 270), engine: str = "cycles",
                    samples: int = 4, burn_subtitles: bool = False,
                    progress: Progress | None = None, idea: str | None = None, llm=None,
                    cancel=None, passes: str | list[str] | tuple[str, ...] | None = None,
                    workers: int | None = None, burn_label: bool = False,
                    user_sets: dict[str, Path] | None = None) -> list[StageResult]:
    """Run plan, stage and render in order; each skips what has not changed."""
    return [
        plan_production(screenplay=screenplay, out=out, fps=fps, resolution=resolution, progress=progress,
                        idea=idea, llm=llm, cancel=cancel, user_sets=user_sets),
        stage_production(out=out, progress=progress),
        render_production(out=out, engine=engine, samples=samples, resolution=resolution,
                          burn_subtitles=burn_subtitles, progress=progress, passes=passes,
                          workers=workers, burn_label=burn_label),
    ]
