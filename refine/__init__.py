"""Video diffusion refinement: a production's passes to finished shots, and the film.

``refine_production`` runs the refine worker (its own process) and reports its progress;
``refine_metrics`` computes the quality figures of refined shots without weights or a GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import FilmCrewError
from .backends import BACKENDS, MemoryOptions, RefineBackend, WindowInput
from .metrics import refine_metrics
from .run import RefineSettings

if TYPE_CHECKING:
    from ..pipeline import Progress, StageResult

__all__ = ["BACKENDS", "MemoryOptions", "RefineBackend", "RefineSettings", "WindowInput",
           "refine_metrics", "refine_production"]


def refine_production(*, settings: RefineSettings, progress: Progress | None = None,
                      notes: list[str] | None = None, python: str | None = None) -> StageResult:
    """Refine the production ``settings.out`` in a worker process and cut ``film.mp4``.

    Args:
        settings: what to refine and how (model, size, steps, shots, device, memory options).
        progress: receives stage ``refine`` (one step per denoising step).
        notes: collects one-line notes (fallbacks taken, the film's make-up) as they come.
        python: interpreter for the worker (default: this one).

    Raises:
        FilmCrewError: the worker's one-line error (missing GPU or weights, out of memory...).
        KeyboardInterrupt: after asking the worker to stop; finished shots are kept.
    """
    from ..pipeline import Progress, StageResult
    from .backends import resolve_model
    from .worker import RefineWorker

    progress = progress or Progress()
    notes = notes if notes is not None else []
    root = Path(settings.out)
    for name, stage in (("plan.json", "plan"), ("manifest.json", "render")):
        if not (root / name).exists():
            raise FilmCrewError(f"missing; run `filmcrew {stage}` first", path=root / name)
    resolve_model(settings.model)  # no weights: stop before starting a process
    worker = RefineWorker(settings, python=python).start()
    figures: dict = {}
    started = False
    failure: str | None = None
    try:
        for event in worker.events():
            kind = event.get("event")
            if kind == "plan":
                progress.start("refine", int(event["total_steps"]))
                started = True
            elif kind == "step":
                progress.advance("refine", 1, f"{event['shot']} w{event['window']}/{event['windows']}")
            elif kind == "note":
                notes.append(event["text"])
            elif kind == "film":
                notes.append(event["note"])
            elif kind == "done":
                figures = event["figures"]
            elif kind == "error":
                failure = event["message"]
    except KeyboardInterrupt:
        worker.cancel()
        worker.wait(timeout=60)
        raise
    worker.wait(timeout=60)
    if failure is not None:
        if started:
            progress.finish("refine", "failed")
        raise FilmCrewError(failure)
    skipped = not figures.get("shots_refined")
    progress.finish("refine", f"{figures.get('shots_refined', 0)} shot(s) refined, "
                              f"{figures.get('shots_skipped', 0)} unchanged")
    return StageResult("refine", skipped=skipped, note=figures.get("film", ""), figures=figures)
