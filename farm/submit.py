"""``filmcrew farm submit`` and ``status``: one Flamenco job per shot, recorded in farm.json (no bpy).

Submitting prepares each shot's folder exactly as a local render does (stale frames cleared,
render.json marked incomplete) and writes ``shots/<id>/farm_task.json`` for the job's Blender
tasks, then posts a job of the FilmCrew job type with the etag the Manager advertised. Job ids
go to ``farm.json`` after each job, so a failure half-way keeps the record of what was sent.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import FilmCrewError
from ..fsutil import atomic_write_json
from ..production import Production
from .flamenco import FINAL_JOB_STATUSES, FarmError, FlamencoClient, JobType
from .shots import FarmShot, characters, production_shots

JOB_TYPE = "filmcrew"
FARM_FILE = "farm.json"


@dataclass
class SubmitOptions:
    """How to submit: the Manager, the job's place and priority, and the render settings."""

    manager: str
    priority: int = 50
    worker_tag: str | None = None
    shared_root: Path | None = None
    shared_variable: str = "jobs"
    chunk_size: int = 8
    engine: str = "cycles"
    samples: int = 4
    resolution: tuple[int, int] | None = None
    passes: object = None
    refine_model: str | None = None
    refine_args: str = ""


@dataclass
class SubmitResult:
    submitted: dict[str, str] = field(default_factory=dict)  # shot -> job id
    skipped: dict[str, str] = field(default_factory=dict)  # shot -> why
    notes: list[str] = field(default_factory=list)


def shared_path(*, out: Path, shared_root: Path | None, variable: str) -> str:
    """The production folder as the workers see it: ``{variable}/<path under the shared root>``."""
    out = Path(out).resolve()
    if shared_root is None:
        return out.as_posix()
    try:
        rel = out.relative_to(Path(shared_root).resolve())
    except ValueError:
        raise FilmCrewError(f"the production is not on the shared storage {shared_root}; the workers could not "
                            "reach it (move it there or fix --shared-root)", path=out) from None
    return f"{{{variable}}}/{rel.as_posix()}" if rel.parts else f"{{{variable}}}"


def submitter_platform() -> str:
    """Go's runtime.GOOS name for this machine, which Flamenco uses for two-way variables."""
    return {"win32": "windows", "cygwin": "windows"}.get(sys.platform, sys.platform.rstrip("0123456789"))


def read_farm(out: Path) -> dict:
    path = Path(out) / FARM_FILE
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return {"jobs": {}}
    except json.JSONDecodeError as exc:
        raise FilmCrewError(f"not valid JSON (line {exc.lineno}); fix or remove it", path=path) from None
    if not isinstance(record, dict) or not isinstance(record.get("jobs"), dict):
        raise FilmCrewError("must hold an object with 'jobs'", path=path)
    return record


def job_settings(*, job_type: JobType, values: dict) -> dict:
    """Every setting the Manager's job type declares: FilmCrew's value, else the declared default.

    A required setting FilmCrew does not fill means the installed job type is not the one this
    FilmCrew ships, which is an error, not a job that fails on the farm later.
    """
    settings = {}
    for spec in job_type.settings:
        key = spec["key"]
        if key in values:
            settings[key] = values[key]
        elif "default" in spec:
            settings[key] = spec["default"]
        elif spec.get("required"):
            raise FarmError(f"job type '{job_type.name}' on the Manager wants setting '{key}', which this FilmCrew "
                            "does not know; install this FilmCrew's assets/flamenco/filmcrew.js on the Manager")
    missing = sorted(set(values) - {s["key"] for s in job_type.settings})
    if missing:
        raise FarmError(f"job type '{job_type.name}' on the Manager has no setting '{missing[0]}'; install this "
                        "FilmCrew's assets/flamenco/filmcrew.js on the Manager")
    return settings


def _prepare_shot(prod: Production, shot: FarmShot, settings, names: list[str]) -> None:
    """Shot folder as a local render leaves it before drawing, plus the farm task for Blender."""
    from ..render.parallel import clear_frames, read_shot_state, write_shot_state
    from .chunk import TASK_FILE

    shot_dir = prod.shot_dir(shot.shot)
    state_path = shot_dir / "render.json"
    if read_shot_state(state_path).get("inputs_hash") != shot.inputs_hash:
        clear_frames(shot_dir)
    write_shot_state(state_path, inputs_hash=shot.inputs_hash, frames=shot.frame_count, complete=False)
    atomic_write_json(shot_dir / TASK_FILE, {
        "shot": shot.shot, "start_frame": shot.start_frame, "end_frame": shot.end_frame,
        "keys": list(shot.keys), "inputs_hash": shot.inputs_hash,
        "settings": {**asdict(settings), "resolution": list(settings.resolution), "passes": list(settings.passes)},
        "passes": list(settings.passes), "characters": names})


def _refine_ready(prod: Production, shot: FarmShot) -> str | None:
    """Why the shot cannot be refined on the farm yet (None: it can)."""
    if not shot.done:
        return "not rendered yet"
    try:
        manifest = json.loads(prod.path("manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return "no manifest.json; run `filmcrew render` once the shots are rendered"
    entry = next((s for s in manifest.get("shots", []) if s.get("id") == shot.shot), None)
    if entry is None or entry.get("inputs_hash") != shot.inputs_hash:
        return "manifest.json is older than its frames; run `filmcrew render` first"
    state = prod.path(f"refined/{shot.shot}.json")
    if state.exists() and prod.path(f"refined/{shot.shot}.mp4").exists():
        return "already refined"
    return None


def _still_on_farm(client: FlamencoClient, record: dict, shot: FarmShot, kind: str) -> str | None:
    previous = record["jobs"].get(shot.shot)
    if not previous or previous.get("inputs_hash") != shot.inputs_hash or previous.get("kind") != kind:
        return None
    status = client.job(job_id=previous["job_id"]).get("status", "")
    return None if status in FINAL_JOB_STATUSES else f"already on the farm ({status})"


def submit_production(*, out: Path, options: SubmitOptions) -> SubmitResult:
    """Submit a render job for every shot that needs one (or, with a refine model, a refine job
    for every rendered shot), after checking the Manager and the FilmCrew job type."""
    out = Path(out)
    prod = Production(out)
    if not prod.marker.exists():
        raise FilmCrewError("not a FilmCrew production (no .filmcrew); run `filmcrew make` or `stage` first", path=out)
    shots, settings = production_shots(out=out, engine=options.engine, samples=options.samples,
                                       resolution=options.resolution, passes=options.passes)
    where = shared_path(out=out, shared_root=options.shared_root, variable=options.shared_variable)
    client = FlamencoClient(manager=options.manager)
    client.version()
    job_type = client.job_type(name=JOB_TYPE)
    tag = client.worker_tag_id(name=options.worker_tag) if options.worker_tag else None
    record = read_farm(out)
    record["manager"] = client.manager
    names = characters(out=out)
    title = json.loads(prod.plan.read_text()).get("title") or out.name
    result = SubmitResult()
    kind = "refine" if options.refine_model else "render"
    for shot in shots:
        why = (_refine_ready(prod, shot) if kind == "refine" else ("rendered" if shot.done else None)) \
            or _still_on_farm(client, record, shot, kind)
        if why:
            result.skipped[shot.shot] = why
            continue
        values = {"production": where, "shot": shot.shot, "inputs_hash": shot.inputs_hash,
                  "frames": "" if kind == "refine" else f"1-{shot.frame_count}", "chunk_size": options.chunk_size,
                  "refine_model": options.refine_model or "", "refine_args": options.refine_args}
        job = {"name": f"{title} {shot.shot} {kind}", "type": job_type.name, "type_etag": job_type.etag,
               "priority": options.priority, "submitter_platform": submitter_platform(),
               "settings": job_settings(job_type=job_type, values=values),
               "metadata": {"project": title, "filmcrew.shot": shot.shot, "filmcrew.kind": kind}}
        if tag:
            job["worker_tag"] = tag
        if kind == "render":
            _prepare_shot(prod, shot, settings, names)
        answer = client.submit_job(job=job)
        record["jobs"][shot.shot] = {"job_id": answer["id"], "kind": kind, "name": job["name"],
                                     "inputs_hash": shot.inputs_hash, "frames": shot.frame_count,
                                     "submitted": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        atomic_write_json(out / FARM_FILE, record)
        result.submitted[shot.shot] = answer["id"]
    if kind == "render" and result.submitted:
        result.notes.append("when the jobs complete, run `filmcrew render` with the same options: it draws no "
                            "frame again and writes the manifest and animatic")
    return result
