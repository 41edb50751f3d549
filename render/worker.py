"""A render worker process: one Blender that renders the shots its parent sends (bpy).

Protocol: JSON lines. On stdin, a configuration first (blend, settings, passes, characters,
threads), then one shot task per line (``parallel.ShotTask``); end of input ends the worker.
On stdout, ``{"event": "frame", "shot", "drew"}`` per frame, ``{"event": "done", "shot"}`` per
shot, ``{"event": "error", "message", "path"}`` on failure. Blender's own prints go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path


def _protocol_stream():
    """Keep the real stdout for the protocol; send everything else printed there to stderr."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(fd, "w", buffering=1)


def main() -> int:
    out = _protocol_stream()

    def emit(**event) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    try:
        config = json.loads(sys.stdin.readline())
        import bpy

        from ..console import quiet_output
        from ..errors import FilmCrewError
        from ..staging.timeline import ShotRange
        from .frames import FrameRenderer, ShotJob, configure_render, record_joints, render_shot
        from .shots import RenderSettings

        settings = RenderSettings(**{**config["settings"], "resolution": tuple(config["settings"]["resolution"]),
                                      "passes": tuple(config["settings"]["passes"])})
        with quiet_output():
            bpy.ops.wm.open_mainfile(filepath=config["blend"])
        scene = bpy.context.scene
        configure_render(scene, settings=settings, threads=int(config.get("threads", 0)))
        renderer = FrameRenderer(scene=scene, settings=settings, passes=tuple(config["passes"]),
                                 characters=list(config["characters"]))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        traceback.print_exc()
        emit(event="error", message=str(exc), path=getattr(exc, "path", None))
        return 1
    for line in sys.stdin:
        task = json.loads(line)
        try:
            job = ShotJob(shot=task["shot"], start_frame=task["start_frame"], end_frame=task["end_frame"],
                          keys=task["keys"], shot_dir=Path(task["shot_dir"]))
            render_shot(renderer=renderer, job=job,
                        on_frame=lambda _local, drew, shot=job.shot: emit(event="frame", shot=shot, drew=drew))
            record_joints(scene=scene, shot_range=ShotRange(job.shot, "", job.start_frame, job.end_frame),
                          names=renderer.characters, path=job.shot_dir / "joints.npz")
        except FilmCrewError as exc:
            emit(event="error", message=exc.message, path=exc.path)
            return 1
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            emit(event="error", message=f"{type(exc).__name__}: {exc}", path=task.get("shot_dir"))
            return 1
        emit(event="done", shot=job.shot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
