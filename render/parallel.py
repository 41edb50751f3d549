"""Shots rendered in parallel worker processes, one Blender per process (no bpy here).

The parent hands shots out one at a time, longest first, to ``workers`` child processes
(``python -m filmcrew.render.worker``); each opens scene.blend once, renders the shots it is
given and reports every frame on a line of JSON, so progress bars move as frames land. The
CPU threads are split between the workers. A worker's own output goes to a log file in the
production's ``.filmcrew/logs``; a worker that fails stops the render with its error.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..errors import FilmCrewError
from ..fsutil import atomic_write_json
from .passes import PASSES
from .shots import RenderSettings


@dataclass
class ShotTask:
    shot: str
    start_frame: int
    end_frame: int
    keys: list[str]
    shot_dir: str
    inputs_hash: str

    @property
    def frame_count(self) -> int:
        return self.end_frame - self.start_frame + 1


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def clear_frames(shot_dir: Path) -> None:
    """Remove a shot's stale frames (every pass, keypoints) before rendering it anew."""
    for name in (*PASSES, "keypoints"):
        folder = shot_dir / name
        if folder.exists():
            shutil.rmtree(folder)


def read_shot_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_shot_state(path: Path, *, inputs_hash: str, frames: int, complete: bool) -> None:
    atomic_write_json(path, {"inputs_hash": inputs_hash, "frames": frames, "complete": complete})


class _Worker:
    def __init__(self, index: int, config: dict, log_path: Path) -> None:
        self.index = index
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "filmcrew.render.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True, bufsize=1)
        self.task: ShotTask | None = None
        self.send(config)

    def send(self, message: dict | None) -> None:
        try:
            if message is None:
                self.process.stdin.close()
            else:
                self.process.stdin.write(json.dumps(message) + "\n")
                self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died; its exit is reported when its output ends

    def last_log_line(self) -> str:
        self.log.flush()
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            lines = []
        return lines[-1].strip() if lines else f"exit code {self.process.poll()}"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.log.close()


def render_parallel(*, blend: Path, tasks: list[ShotTask], settings: RenderSettings, passes: tuple[str, ...],
                    characters: list[str], workers: int, log_dir: Path,
                    on_frame: Callable[[str, bool], None], on_done: Callable[[ShotTask], None]) -> None:
    """Render ``tasks`` in up to ``workers`` processes; calls back per frame and per finished shot."""
    if not tasks:
        return
    queue = sorted(tasks, key=lambda t: -t.frame_count)
    count = max(1, min(workers, len(queue)))
    threads = max(1, (os.cpu_count() or 1) // count)
    config = {"blend": str(blend), "settings": asdict(settings), "passes": list(passes),
              "characters": characters, "threads": threads if count > 1 else 0}
    selector = selectors.DefaultSelector()
    pool = [_Worker(i, config, log_dir / f"render-worker-{i}.log") for i in range(count)]
    try:
        for worker in pool:
            worker.task = queue.pop(0)
            worker.send(asdict(worker.task))
            selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
        running = len(pool)
        while running:
            for key, _ in selector.select():
                worker: _Worker = key.data
                line = worker.process.stdout.readline()
                if not line:
                    selector.unregister(worker.process.stdout)
                    running -= 1
                    if worker.task is not None:
                        shot = worker.task.shot
                        raise FilmCrewError(f"render worker stopped on shot {shot}: {worker.last_log_line()}",
                                            path=worker.log_path)
                    continue
                event = json.loads(line)
                if event["event"] == "frame":
                    on_frame(event["shot"], bool(event["drew"]))
                elif event["event"] == "done":
                    finished, worker.task = worker.task, None
                    on_done(finished)
                    if queue:
                        worker.task = queue.pop(0)
                        worker.send(asdict(worker.task))
                    else:
                        worker.send(None)
                elif event["event"] == "error":
                    shot = worker.task.shot if worker.task else "?"
                    raise FilmCrewError(f"rendering shot {shot} failed: {event['message']}",
                                        path=event.get("path"))
    finally:
        for worker in pool:
            worker.close()
        selector.close()
