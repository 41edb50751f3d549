"""The refine stage itself, as run inside the worker process.

For each shot: the control video at the model size, resampled from the plan's frame rate to
the model's, cut into windows, refined window by window with the same seed and references,
blended, resampled back and written to ``refined/<shot>.mp4`` with ``refined/<shot>.json``
(its inputs hash and run figures). A shot whose inputs hash did not change is skipped, so a
run that failed or was cancelled resumes where it stopped. Then ``film.mp4``: every shot in
order, refined where it is, from the animatic where it is not, with the animatic's audio and
the subtitles.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FilmCrewError
from ..fsutil import atomic_write_json, sha256_bytes, sha256_file, sha256_json
from ..plan.io import load_plan
from ..plan.model import Plan
from .backends import (
    LoadedModel,
    MemoryOptions,
    RefineBackend,
    WindowInput,
    check_cpu_size,
    check_device,
    find_model,
)
from .control import (
    ShotSource,
    build_control,
    load_manifest,
    parse_layers,
    shot_sources,
)
from .geometry import Window, blend_windows, plan_windows, resample_indices, snap_size
from .metrics import merge_report, shot_metrics
from .prompts import NEGATIVE_PROMPT, shot_people, shot_prompt
from .references import character_reference
from .video import FilmPiece, cut_film, probe, write_video

REFINE_VERSION = 1
Emit = Callable[[dict], None]


class Cancelled(Exception):
    """The user cancelled the run; finished shots are kept."""


@dataclass
class RefineSettings:
    """Everything ``filmcrew refine`` takes (JSON-serialisable: it travels to the worker)."""

    out: str
    model: str
    backend: str = "auto"
    size: tuple[int, int] = (832, 480)
    steps: int = 30
    shots: list[str] | None = None
    device: str = "cuda"
    seed: int = 0
    guidance_scale: float = 5.0
    conditioning_scale: float = 1.0
    control: str = "auto"
    window: int | None = None
    overlap: int | None = None
    negative_prompt: str = NEGATIVE_PROMPT
    style_frame: str | None = None
    max_references: int = 3
    memory: MemoryOptions = field(default_factory=MemoryOptions)
    force: bool = False
    ray: str | None = None  # a Ray cluster address: shots and windows run there (see ray_runner.py)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RefineSettings:
        data = json.loads(text)
        data["memory"] = MemoryOptions(**data.get("memory", {}))
        data["size"] = tuple(data["size"])
        return cls(**data)


@dataclass
class ShotJob:
    source: ShotSource
    prompt: str
    references: list[Path]
    subjects: list[str]
    model_frames: int
    windows: list[Window]
    inputs_hash: str
    done: bool


def check_settings(settings: RefineSettings) -> None:
    """Refuse bad numbers before any work."""
    if settings.steps < 1:
        raise FilmCrewError(f"--steps must be at least 1, not {settings.steps}")
    if settings.overlap is not None and settings.overlap < 0:
        raise FilmCrewError(f"--overlap must be 0 or more, not {settings.overlap}")
    if settings.size[0] < 16 or settings.size[1] < 16:
        raise FilmCrewError(f"--size must be at least 16x16, not {settings.size[0]}x{settings.size[1]}")
    parse_layers(settings.control)
    if settings.style_frame and not Path(settings.style_frame).is_file():
        raise FilmCrewError("style frame not found", path=settings.style_frame)


def _select(sources: list[ShotSource], wanted: list[str] | None) -> list[ShotSource]:
    if not wanted:
        return sources
    known = {s.shot: s for s in sources}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise FilmCrewError(f"unknown shot(s) {', '.join(unknown)}; the shots are "
                            f"{', '.join(known) if len(known) <= 12 else ', '.join(list(known)[:12]) + '...'}")
    return [s for s in sources if s.shot in wanted]


def _files_hash(source: ShotSource, names: tuple[str, ...]) -> dict:
    return {name: sha256_bytes("".join(sha256_file(p) for p in source.passes[name]).encode())
            for name in names if name in source.passes}


def plan_jobs(*, settings: RefineSettings, model: LoadedModel, plan: Plan, root: Path,
              sources: list[ShotSource], size: tuple[int, int]) -> list[ShotJob]:
    """Prompts, references, windows and inputs hashes of the shots to refine."""
    shots = {s.id: s for s in plan.shots}
    window = settings.window or model.settings.window
    overlap = default_overlap(window) if settings.overlap is None else settings.overlap
    references_dir = root / "refined" / "references"
    jobs = []
    for source in sources:
        shot = shots.get(source.shot)
        if shot is None:
            raise FilmCrewError(f"shot {source.shot} of the manifest is not in plan.json; run "
                                "`filmcrew render` again", path=root / "manifest.json")
        prompt = shot_prompt(plan, shot)
        people = shot_people(plan, shot)
        references: list[Path] = []
        if model.backend.supports_references:
            references = [character_reference(character=c, characters_dir=root / "characters",
                                               cache_dir=references_dir)
                          for c in people[:settings.max_references]]
            if settings.style_frame:
                references.append(Path(settings.style_frame))
        model_frames = len(resample_indices(source.frame_count, src_fps=plan.fps, dst_fps=model.settings.fps))
        windows = plan_windows(model_frames, window=window, overlap=overlap)
        inputs = sha256_json({
            "version": REFINE_VERSION, "model": model.identity, "backend": model.backend.name,
            "size": list(size), "steps": settings.steps, "seed": settings.seed,
            "guidance": settings.guidance_scale, "conditioning": settings.conditioning_scale,
            "control": settings.control, "window": window, "overlap": overlap,
            "negative": settings.negative_prompt, "prompt": prompt, "fps": plan.fps,
            "model_fps": model.settings.fps, "dtype": settings.memory.dtype,
            "passes": _files_hash(source, ("rgb", "depth", "pose", "edges")),
            "references": [sha256_file(p) for p in references],
            "frames": source.frame_count,
        })
        clip = root / "refined" / f"{source.shot}.mp4"
        state = _read_state(root, source.shot)
        done = (not settings.force and clip.exists() and state.get("complete") is True
                and state.get("inputs_hash") == inputs)
        jobs.append(ShotJob(source=source, prompt=prompt, references=references,
                            subjects=[c.id for c in people], model_frames=model_frames, windows=windows,
                            inputs_hash=inputs, done=done))
    return jobs


def default_overlap(window: int) -> int:
    """Frames shared by neighbouring windows when not given: a fifth of the window, a multiple of
    4 (16 for Wan's 81-frame windows), at least 4 and leaving room to advance."""
    return max(0, min(window - 2, max(4, (window - 1) // 5 // 4 * 4)))


def _read_state(root: Path, shot: str) -> dict:
    try:
        return json.loads((root / "refined" / f"{shot}.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


@dataclass
class ShotControl:
    """A shot's control video and mask at the model's size and frame rate, and its references."""

    frames: np.ndarray
    mask: np.ndarray
    references: tuple


def shot_control(*, job: ShotJob, settings: RefineSettings, plan_fps: int, model_fps: int,
                 size: tuple[int, int], emit: Emit) -> ShotControl:
    """Build the control video of ``job`` from its passes, resampled to the model's rate."""
    from PIL import Image

    source = job.source
    control = build_control(source, size=size, spec=settings.control, subjects=job.subjects)
    for note in control.notes:
        emit({"event": "note", "text": note})
    to_model = resample_indices(source.frame_count, src_fps=plan_fps, dst_fps=model_fps)
    return ShotControl(frames=control.frames[to_model], mask=control.mask()[to_model],
                       references=tuple(Image.open(p).convert("RGB") for p in job.references))


def refine_window(*, backend: RefineBackend, job: ShotJob, index: int, control: ShotControl,
                  settings: RefineSettings, emit: Emit, cancelled: Callable[[], bool]) -> np.ndarray:
    """Generate window ``index`` of ``job``: (window length, H, W, 3) uint8 at the model's rate."""
    window = job.windows[index]
    take = np.minimum(np.arange(window.start, window.end), len(control.frames) - 1)  # pad with the last frame

    def on_step(step: int, steps: int) -> None:
        if cancelled():
            raise Cancelled()
        emit({"event": "step", "shot": job.source.shot, "window": index + 1, "windows": len(job.windows),
              "step": step, "steps": steps})

    return backend.generate(WindowInput(
        control=control.frames[take], mask=control.mask[take], references=control.references, prompt=job.prompt,
        negative_prompt=settings.negative_prompt, seed=settings.seed, steps=settings.steps,
        guidance_scale=settings.guidance_scale, conditioning_scale=settings.conditioning_scale),
        on_step=on_step)


def blend_shot(*, job: ShotJob, outputs: list[np.ndarray], plan_fps: int, model_fps: int) -> np.ndarray:
    """Blend the windows of ``job`` and resample back to the plan's rate: (N, H, W, 3) uint8."""
    frames = len(resample_indices(job.source.frame_count, src_fps=plan_fps, dst_fps=model_fps))
    refined = blend_windows(job.windows, outputs, frames)
    back = resample_indices(frames, src_fps=model_fps, dst_fps=plan_fps, n_dst=job.source.frame_count)
    return refined[back]


def refine_shot(*, backend: RefineBackend, job: ShotJob, settings: RefineSettings, plan_fps: int,
                size: tuple[int, int], emit: Emit, cancelled: Callable[[], bool]) -> np.ndarray:
    """Refine one shot; returns its frames at the plan's rate, (N, H, W, 3) uint8."""
    model_fps = backend.settings.fps
    control = shot_control(job=job, settings=settings, plan_fps=plan_fps, model_fps=model_fps, size=size,
                           emit=emit)
    outputs = [refine_window(backend=backend, job=job, index=index, control=control, settings=settings,
                             emit=emit, cancelled=cancelled)
               for index in range(len(job.windows))]
    return blend_shot(job=job, outputs=outputs, plan_fps=plan_fps, model_fps=model_fps)


def shot_error(exc: Exception, *, job: ShotJob, settings: RefineSettings, size: tuple[int, int]) -> FilmCrewError:
    """The one-line error of a shot that failed with ``exc`` (out of memory: what to try)."""
    shot = job.source.shot
    if isinstance(exc, FilmCrewError):
        return FilmCrewError(f"shot {shot}: {exc}")
    if _is_oom(exc):
        return FilmCrewError(_oom_message(shot, size, job, settings))
    first = (str(exc).strip().splitlines() or [""])[0]  # torch, diffusers: one line, naming the shot
    return FilmCrewError(f"shot {shot} failed: {type(exc).__name__}: {first}")


def save_shot(*, run: PreparedRun, job: ShotJob, settings: RefineSettings, frames: np.ndarray,
              seconds: float, peak_gib: float | None) -> dict:
    """Write ``refined/<shot>.mp4`` and its state file; returns the shot's figures for report.json."""
    shot, size, model = job.source.shot, run.size, run.model
    clip = run.root / "refined" / f"{shot}.mp4"
    write_video(frames, fps=run.fps, out=clip)
    state = {"shot": shot, "complete": True, "inputs_hash": job.inputs_hash, "backend": model.backend.name,
             "model": str(model.path), "size": f"{size[0]}x{size[1]}", "steps": settings.steps,
             "seed": settings.seed, "model_fps": model.settings.fps, "windows": len(job.windows),
             "model_frames": job.model_frames, "prompt": job.prompt,
             "references": [str(p) for p in job.references], "seconds": round(seconds, 2),
             "seconds_per_frame": round(seconds / job.model_frames, 4)}
    if peak_gib is not None:
        state["peak_gpu_memory_gib"] = round(peak_gib, 2)
    atomic_write_json(run.root / "refined" / f"{shot}.json", state)
    figures = shot_metrics(job.source, clip)
    figures.update({k: state[k] for k in ("size", "steps", "seconds_per_frame", "peak_gpu_memory_gib",
                                          "backend") if k in state})
    return figures


@dataclass
class PreparedRun:
    """What every shot of a run shares: checked inputs, the model, the size and the shot jobs."""

    root: Path
    model: LoadedModel
    fps: int
    size: tuple[int, int]
    all_sources: list[ShotSource]
    jobs: list[ShotJob]


def prepare_run(settings: RefineSettings, *, emit: Emit, check_gpu: bool = True) -> PreparedRun:
    """Check the inputs, resolve the model and plan the shots; emits ``note`` and ``plan`` events.

    ``check_gpu=False`` leaves the device check to the machines that run the shots (a Ray cluster
    whose driver has no GPU).
    """
    check_settings(settings)
    root = Path(settings.out)
    for name, stage in (("plan.json", "plan"), ("manifest.json", "render")):
        if not (root / name).exists():
            raise FilmCrewError(f"missing; run `filmcrew {stage}` first", path=root / name)
    model = find_model(settings.model, settings.backend)
    if check_gpu:
        check_device(settings.device)
    check_cpu_size(model.path, settings.device)
    plan = load_plan(root / "plan.json")
    manifest = load_manifest(root)
    all_sources = shot_sources(root, manifest)
    sources = _select(all_sources, settings.shots)
    size = snap_size(source=tuple(manifest["resolution"]), requested=settings.size,
                     multiple=model.backend.size_multiple)
    jobs = plan_jobs(settings=settings, model=model, plan=plan, root=root, sources=sources, size=size)
    if not model.backend.supports_references and any(s.has("rgb") for s in sources):
        emit({"event": "note", "text": f"{model.backend.name} takes no reference images; characters' "
                                       "identity comes from the prompt alone"})
    if not model.backend.supports_conditioning_scale and settings.conditioning_scale != 1.0:
        emit({"event": "note", "text": f"{model.backend.name} has no conditioning scale; ignored"})
    emit({"event": "plan", "size": list(size), "fps": plan.fps, "model_fps": model.settings.fps,
          "shots": [{"shot": j.source.shot, "windows": len(j.windows), "frames": j.model_frames,
                     "done": j.done} for j in jobs],
          "total_steps": sum(len(j.windows) * settings.steps for j in jobs if not j.done)})
    return PreparedRun(root=root, model=model, fps=plan.fps, size=size, all_sources=all_sources, jobs=jobs)


def run_refine(settings: RefineSettings, *, emit: Emit, cancelled: Callable[[], bool] = lambda: False) -> dict:
    """Refine the shots of ``settings.out`` and cut the film; returns the run's figures.

    With ``settings.ray`` set, the shots and their windows run as tasks on that Ray cluster
    (``ray_runner.run_refine_ray``); otherwise one after the other in this process.

    Args:
        settings: what to refine and how.
        emit: receives progress events (dicts with an ``event`` key): ``plan``, ``shot``, ``step``,
            ``note``, ``film``.
        cancelled: polled at every denoising step; True stops the run (raises ``Cancelled``).

    Raises:
        FilmCrewError: missing inputs, weights or GPU, out of memory, a failing shot. Shots
            finished before the failure are kept.
        Cancelled: ``cancelled()`` returned True.
    """
    if settings.ray:
        from .ray_runner import run_refine_ray

        return run_refine_ray(settings, emit=emit, cancelled=cancelled)
    run = prepare_run(settings, emit=emit)
    backend = None
    refined_count = 0
    started = time.perf_counter()
    for job in run.jobs:
        shot = job.source.shot
        if job.done:
            emit({"event": "shot", "shot": shot, "state": "skipped"})
            continue
        if backend is None:
            backend = load_backend(run.model, settings)
        emit({"event": "shot", "shot": shot, "state": "start", "windows": len(job.windows)})
        shot_started = time.perf_counter()
        reset_peak(settings.device)
        try:
            frames = refine_shot(backend=backend, job=job, settings=settings, plan_fps=run.fps, size=run.size,
                                 emit=emit, cancelled=cancelled)
        except Cancelled:
            raise
        except Exception as exc:
            raise shot_error(exc, job=job, settings=settings, size=run.size) from exc
        seconds = time.perf_counter() - shot_started
        figures = save_shot(run=run, job=job, settings=settings, frames=frames, seconds=seconds,
                            peak_gib=peak_gib(settings.device))
        merge_report(run.root, {shot: figures})
        refined_count += 1
        emit({"event": "shot", "shot": shot, "state": "done", "seconds": round(seconds, 2),
              "figures": figures})
    film_note = assemble_film(root=run.root, sources=run.all_sources, fps=run.fps, size=run.size)
    emit({"event": "film", "path": str(run.root / "film.mp4"), "note": film_note})
    return {"shots_refined": refined_count, "shots_skipped": sum(j.done for j in run.jobs),
            "seconds": round(time.perf_counter() - started, 2), "size": f"{run.size[0]}x{run.size[1]}",
            "film": film_note}


def load_backend(model: LoadedModel, settings: RefineSettings) -> RefineBackend:
    """Load the model's pipeline onto ``settings.device``; errors in one line naming the model."""
    try:
        return model.backend.load(model.path, device=settings.device, memory=settings.memory,
                                  settings=model.settings)
    except FilmCrewError:
        raise
    except Exception as exc:  # torch, diffusers, transformers: one line naming the model
        if _is_oom(exc):
            raise FilmCrewError("out of GPU memory loading the model; try --offload model (or group) "
                                "or --dtype bf16", path=model.path) from exc
        first = (str(exc).strip().splitlines() or [""])[0]
        raise FilmCrewError(f"cannot load the {model.backend.name} model: {type(exc).__name__}: {first}",
                            path=model.path) from exc


def assemble_film(*, root: Path, sources: list[ShotSource], fps: int, size: tuple[int, int]) -> str:
    """Cut ``film.mp4`` (skipped when its inputs did not change); returns a one-line note."""
    pieces, states, missing = [], [], []
    for source in sources:
        clip = root / "refined" / f"{source.shot}.mp4"
        state = _read_state(root, source.shot)
        ready = clip.exists() and state.get("complete") is True
        if ready:
            info = probe(clip)
            ready = (info.width, info.height) == tuple(size)
        pieces.append(FilmPiece(shot=source.shot, clip=clip if ready else None,
                                first_frame=source.film_frames[0] - 1, frame_count=source.frame_count))
        states.append(state.get("inputs_hash") if ready else None)
        if not ready:
            missing.append(source.shot)
    animatic = root / "animatic.mp4"
    srt = root / "subtitles.srt"
    inputs = sha256_json({"states": states, "size": list(size), "fps": fps,
                          "animatic": sha256_file(animatic) if animatic.exists() else None,
                          "srt": sha256_file(srt) if srt.exists() else None})
    film = root / "film.mp4"
    marker = root / "refined" / "film.json"
    try:
        previous = json.loads(marker.read_text()).get("inputs_hash")
    except (FileNotFoundError, json.JSONDecodeError):
        previous = None
    if film.exists() and previous == inputs:
        return "film unchanged"
    streams = cut_film(pieces=pieces, animatic=animatic if animatic.exists() else None,
                       srt=srt if srt.exists() else None, fps=fps, size=size, out=film)
    atomic_write_json(marker, {"inputs_hash": inputs, "streams": list(streams),
                               "from_animatic": missing})
    note = f"film cut ({', '.join(streams)})"
    if missing:
        note += f"; {len(missing)} shot(s) from the animatic: {', '.join(missing[:6])}" + \
            ("..." if len(missing) > 6 else "")
    if "audio" not in streams:
        note += "; the animatic has no audio track"
    return note


def _is_oom(exc: BaseException) -> bool:
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    return "out of memory" in str(exc).lower()


def _oom_message(shot: str, size: tuple[int, int], job: ShotJob, settings: RefineSettings) -> str:
    length = job.windows[0].length if job.windows else 0
    tried = []
    if settings.memory.offload != "group":
        tried.append("--offload group" if settings.memory.offload == "model" else "--offload model (or group)")
    if not settings.memory.vae_tiling:
        tried.append("--vae-tiling")
    if settings.memory.dtype == "fp32":
        tried.append("--dtype bf16")
    tried += ["a smaller --size", "a shorter --window"]
    return (f"out of GPU memory refining shot {shot} at {size[0]}x{size[1]} with {length}-frame windows; "
            f"try {', '.join(tried)}")


def reset_peak(device: str) -> None:
    """Start measuring peak GPU memory afresh (nothing on the CPU)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float | None:
    """Peak GPU memory since ``reset_peak`` in GiB; None on the CPU (not measured)."""
    if not device.startswith("cuda"):
        return None
    import torch

    return torch.cuda.max_memory_allocated() / 2**30
