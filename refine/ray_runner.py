"""Refinement on a Ray cluster: ``filmcrew refine OUT --ray ADDRESS``.

What runs where:

- the driver (the refine worker process of ``filmcrew refine``, on the machine that runs it)
  checks the production, plans shots and windows with ``run.prepare_run`` (so a shot whose state
  file matches its inputs is skipped, exactly as in a local run), submits the tasks, forwards
  their progress, merges report.json and cuts film.mp4;
- one *window task* per window of every shot to refine, one GPU each with ``--device cuda``
  (one CPU with ``--device cpu``): it loads the model, builds the shot's control video from the
  passes and generates its window (``run.shot_control``, ``run.refine_window``);
- one *finish task* per shot (one CPU) once all its windows are in: it blends them and writes
  ``refined/<shot>.mp4`` and the shot's state file (``run.blend_shot``, ``run.save_shot``).

Windows travel through Ray's object store; everything else goes through the filesystem, so the
production folder and the model folder must be on storage that every node mounts at the same
path. A task whose worker process dies (killed, lost node) is retried up to ``MAX_RETRIES``
times; a shot that fails with a real error fails alone, with the local run's one-line message,
the other shots finish, and the run then stops without cutting the film. A rerun resumes.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..errors import FilmCrewError
from .backends import LoadedModel, RefineBackend, check_device
from .metrics import merge_report
from .run import (
    Cancelled,
    Emit,
    PreparedRun,
    RefineSettings,
    ShotJob,
    assemble_film,
    blend_shot,
    load_backend,
    peak_gib,
    prepare_run,
    refine_window,
    reset_peak,
    save_shot,
    shot_control,
    shot_error,
)

MAX_RETRIES = 3  # Ray reruns a task this many times when its worker process dies
POLL_S = 0.2  # how often the driver forwards progress and checks for cancellation
RAY_PIN = "ray==2.60.0"


@dataclass
class WindowDone:
    """What a window task reports besides its frames."""

    shot: str
    index: int
    seconds: float
    peak_gib: float | None
    host: str


def task_resources(device: str) -> dict:
    """Ray resources of one window task: a whole GPU on CUDA, one CPU otherwise."""
    if device.startswith("cuda"):
        return {"num_gpus": 1, "num_cpus": 1}
    return {"num_cpus": 1}


def connect(address: str) -> bool:
    """Join the Ray cluster at ``address`` ("auto", "local", "ray://host:port", "host:port").

    Returns True when this call started Ray in this process (the caller shuts it down); a
    process already connected (a notebook, a test) keeps its connection.
    """
    ray = _import_ray()
    if ray.is_initialized():
        return False
    if address not in ("auto", "local"):
        _probe(address)
    try:
        # Worker logs stay in the cluster's session logs: this process's stdout may be the
        # refine worker's event pipe, and task errors come back as exceptions anyway.
        ray.init(address=address, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError: one line
        first = (str(exc).strip().splitlines() or [""])[0].rstrip(".")
        hint = " (ray:// addresses need `pip install 'ray[client]'`)" if address.startswith("ray://") else ""
        raise FilmCrewError(f"cannot reach the Ray cluster at '{address}': {type(exc).__name__}: {first}{hint}; "
                            "start one with `ray start --head` or use --ray local") from exc
    return True


def _probe(address: str) -> None:
    """Fail in seconds on an address nothing listens at (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise FilmCrewError(f"cannot reach the Ray cluster at '{address}': {exc}; start one with "
                            "`ray start --head` or use --ray local") from exc


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise FilmCrewError(f"--ray needs the ray package: pip install '{RAY_PIN}'") from exc
    return ray


def check_cluster(settings: RefineSettings) -> None:
    """Refuse a cluster that cannot run a window task (no GPU for --device cuda)."""
    import ray

    resources = ray.cluster_resources()
    if settings.device.startswith("cuda") and resources.get("GPU", 0) < 1:
        raise FilmCrewError(f"the Ray cluster at '{settings.ray}' has no GPUs; --device cuda needs GPU workers "
                            "(--device cpu is for tiny test models only)")
    if resources.get("CPU", 0) < 1:
        raise FilmCrewError(f"the Ray cluster at '{settings.ray}' has no CPUs to run tasks on")


def run_refine_ray(settings: RefineSettings, *, emit: Emit, cancelled: Callable[[], bool] = lambda: False) -> dict:
    """Refine the shots of ``settings.out`` on the Ray cluster at ``settings.ray`` and cut the film.

    Same events, figures, resume and errors as ``run.run_refine``, plus ``window`` events (a
    window task started: ``host``, ``pid``, ``attempt``) and ``shot`` events with state
    ``failed``; the figures gain ``hosts`` (the nodes that ran windows).

    Raises:
        FilmCrewError: missing inputs or weights, an unreachable cluster or one without GPUs,
            failed shots (after the other shots finished; finished shots are kept).
        Cancelled: ``cancelled()`` returned True; running tasks are stopped.
    """
    run = prepare_run(settings, emit=emit, check_gpu=False)  # the driver may have no GPU
    started = time.perf_counter()
    todo = [job for job in run.jobs if not job.done]
    for job in run.jobs:
        if job.done:
            emit({"event": "shot", "shot": job.source.shot, "state": "skipped"})
    hosts: set[str] = set()
    refined = 0
    if todo:
        started_here = connect(str(settings.ray))
        try:
            check_cluster(settings)
            refined = _Driver(settings=settings, run=run, emit=emit, cancelled=cancelled, hosts=hosts).run(todo)
        finally:
            if started_here:
                import ray

                ray.shutdown()
    film_note = assemble_film(root=run.root, sources=run.all_sources, fps=run.fps, size=run.size)
    emit({"event": "film", "path": str(run.root / "film.mp4"), "note": film_note})
    return {"shots_refined": refined, "shots_skipped": sum(j.done for j in run.jobs),
            "seconds": round(time.perf_counter() - started, 2), "size": f"{run.size[0]}x{run.size[1]}",
            "film": film_note, "hosts": sorted(hosts)}


class _Driver:
    """Submits the window and finish tasks of a run and follows them to the end."""

    def __init__(self, *, settings: RefineSettings, run: PreparedRun, emit: Emit,
                 cancelled: Callable[[], bool], hosts: set[str]) -> None:
        self.settings, self.run_, self.emit, self.cancelled, self.hosts = settings, run, emit, cancelled, hosts
        self.pending: dict = {}  # ObjectRef -> (job, window index, or None for the finish task)
        self.frames: dict[str, list] = {}  # shot -> ObjectRefs of its windows' frames, in order
        self.done: dict[str, list[WindowDone]] = {}
        self.failures: dict[str, str] = {}
        self.steps_seen: dict[tuple[str, int], int] = {}
        self.attempts: dict[tuple[str, int], int] = {}
        self.progress = None  # a ray.util.queue.Queue the tasks put their events on

    def run(self, todo: list[ShotJob]) -> int:
        """Submit every window of ``todo``, then a finish task per shot; returns the shots refined."""
        import ray
        from ray.util.queue import Queue

        self.progress = Queue()
        settings_json = self.settings.to_json()
        shared = ray.put(replace(self.run_, jobs=[], all_sources=[]))  # what tasks need of the run
        window_task = ray.remote(_window_task).options(
            num_returns=2, max_retries=MAX_RETRIES, **task_resources(self.settings.device))
        finish_task = ray.remote(_finish_task).options(num_cpus=1, max_retries=MAX_RETRIES)
        for job in todo:
            shot = job.source.shot
            self.emit({"event": "shot", "shot": shot, "state": "start", "windows": len(job.windows)})
            self.frames[shot], self.done[shot] = [], []
            for index in range(len(job.windows)):
                frames, report = window_task.remote(settings_json, shared, job, index, self.progress)
                self.frames[shot].append(frames)
                self.pending[report] = (job, index)
        refined = 0
        while self.pending:
            if self.cancelled():
                for ref in self.pending:
                    ray.cancel(ref, force=True)
                raise Cancelled()
            ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=POLL_S)
            self._forward_progress()
            for ref in ready:
                refined += self._collect(ref, lambda job, seconds, peak: finish_task.remote(
                    settings_json, shared, job, seconds, peak, *self.frames[job.source.shot]))
        self._forward_progress()
        if self.failures:
            raise FilmCrewError(_failures_message(self.failures))
        return refined

    def _collect(self, ref, finish: Callable) -> int:
        """Take in one finished task; submits the shot's finish task after its last window.
        Returns 1 when a shot is done."""
        import ray

        job, index = self.pending.pop(ref)
        shot = job.source.shot
        if shot in self.failures:
            return 0
        try:
            result = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - every Ray failure becomes this shot's one line
            self._fail(job, exc)
            return 0
        if index is None:
            return self._finished(job, result)
        if self._window_done(result, job):
            seconds = sum(d.seconds for d in self.done[shot])
            peaks = [d.peak_gib for d in self.done[shot] if d.peak_gib is not None]
            self.pending[finish(job, seconds, max(peaks) if peaks else None)] = (job, None)
        return 0

    def _window_done(self, done: WindowDone, job: ShotJob) -> bool:
        self.hosts.add(done.host)
        self.done[job.source.shot].append(done)
        return len(self.done[job.source.shot]) == len(job.windows)

    def _finished(self, job: ShotJob, figures: dict) -> int:
        shot = job.source.shot
        merge_report(self.run_.root, {shot: figures})  # here, one writer: tasks would race on report.json
        seconds = sum(d.seconds for d in self.done[shot])
        self.emit({"event": "shot", "shot": shot, "state": "done", "seconds": round(seconds, 2),
                   "figures": figures})
        return 1

    def _fail(self, job: ShotJob, exc: Exception) -> None:
        import ray

        shot = job.source.shot
        self.failures[shot] = task_failure(exc, shot=shot)
        for ref, (other, _) in list(self.pending.items()):
            if other.source.shot == shot:  # the rest of a failed shot is wasted work
                ray.cancel(ref, force=True)
        self.emit({"event": "shot", "shot": shot, "state": "failed", "message": self.failures[shot]})

    def _forward_progress(self) -> None:
        """Pass the tasks' events on; a retried window's repeated steps are not counted twice."""
        from ray.util.queue import Empty

        while True:
            try:
                event = self.progress.get_nowait()
            except Empty:
                return
            if event.get("event") == "step":
                key = (event["shot"], event["window"])
                if event["step"] <= self.steps_seen.get(key, 0):
                    continue
                self.steps_seen[key] = event["step"]
            elif event.get("event") == "window":
                key = (event["shot"], event["window"])
                event["attempt"] = self.attempts[key] = self.attempts.get(key, 0) + 1
                if event["attempt"] > 1:
                    self.emit({"event": "note", "text": f"shot {event['shot']} window {event['window']}: its "
                                                        f"worker died; retry {event['attempt'] - 1} on "
                                                        f"{event['host']}"})
            self.emit(event)


def task_failure(exc: BaseException, *, shot: str) -> str:
    """The one-line message of a shot whose task raised ``exc`` in ``ray.get``."""
    from ray.exceptions import RayTaskError

    if isinstance(exc, RayTaskError):
        cause = exc.cause
        if isinstance(cause, FilmCrewError):
            return str(cause)  # already the local run's message (shot_error)
        exc = cause
    first = (str(exc).strip().splitlines() or [""])[0]
    from ray.exceptions import RayError

    if isinstance(exc, RayError):  # the worker or its node died more than MAX_RETRIES times, out of memory...
        return (f"shot {shot}: its Ray task was lost after {MAX_RETRIES} retries: {type(exc).__name__}: {first} "
                "(see the cluster's logs under /tmp/ray/session_latest/logs)")
    return f"shot {shot} failed: {type(exc).__name__}: {first}"


def _failures_message(failures: dict[str, str]) -> str:
    messages = list(failures.values())
    if len(messages) == 1:
        return messages[0]
    return f"{len(messages)} shots failed: {messages[0]}; also {', '.join(list(failures)[1:])}"


# --------------------------------------------------------------------------- on the Ray workers

_LOADED: dict[str, RefineBackend] = {}  # one model per worker process, reused by its later tasks


def _backend(model: LoadedModel, settings: RefineSettings) -> RefineBackend:
    key = json.dumps([str(model.path), model.backend.name, settings.device, asdict(settings.memory)])
    if key not in _LOADED:
        _LOADED.clear()  # never two models in one worker's memory
        check_device(settings.device)
        _LOADED[key] = load_backend(model, settings)
    return _LOADED[key]


def _check_shared(run: PreparedRun, host: str) -> None:
    """The production and the model must be where the driver saw them (shared storage)."""
    for path, what in ((run.root / "manifest.json", "production folder"), (run.model.path, "model folder")):
        if not path.exists():
            raise FilmCrewError(f"the {what} is not visible on Ray node {host}; put it on storage every node "
                                "mounts at the same path", path=path)


def _emitter(progress) -> Emit:
    from ray.exceptions import RayError

    def emit(event: dict) -> None:
        try:
            progress.put_nowait(event)
        except RayError:  # the driver is gone: the work itself may still be kept
            pass

    return emit


def _window_task(settings_json: str, run: PreparedRun, job: ShotJob, index: int,
                 progress) -> tuple[np.ndarray, WindowDone]:
    """Generate window ``index`` of ``job`` on this worker (a Ray task)."""
    settings = RefineSettings.from_json(settings_json)
    host = socket.gethostname()
    emit = _emitter(progress)
    shot = job.source.shot
    emit({"event": "window", "shot": shot, "window": index + 1, "windows": len(job.windows), "state": "start",
          "host": host, "pid": os.getpid()})
    started = time.perf_counter()
    try:
        _check_shared(run, host)
        backend = _backend(run.model, settings)
        reset_peak(settings.device)
        control = shot_control(job=job, settings=settings, plan_fps=run.fps, model_fps=backend.settings.fps,
                               size=run.size, emit=emit if index == 0 else (lambda event: None))
        frames = refine_window(backend=backend, job=job, index=index, control=control, settings=settings,
                               emit=emit, cancelled=lambda: False)
    except Exception as exc:
        raise shot_error(exc, job=job, settings=settings, size=run.size) from exc
    return frames, WindowDone(shot=shot, index=index, seconds=time.perf_counter() - started,
                              peak_gib=peak_gib(settings.device), host=host)


def _finish_task(settings_json: str, run: PreparedRun, job: ShotJob, seconds: float, peak: float | None,
                 *outputs: np.ndarray) -> dict:
    """Blend the windows of ``job``, write its clip and state file; returns its figures (a Ray task)."""
    settings = RefineSettings.from_json(settings_json)
    try:
        frames = blend_shot(job=job, outputs=list(outputs), plan_fps=run.fps, model_fps=run.model.settings.fps)
        return save_shot(run=run, job=job, settings=settings, frames=frames, seconds=seconds, peak_gib=peak)
    except Exception as exc:
        raise shot_error(exc, job=job, settings=settings, size=run.size) from exc
