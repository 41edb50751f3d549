"""Which shots of a production need rendering, by the same rule as ``filmcrew render`` (no bpy).

A shot is done when its render.json carries the current inputs hash, marked complete, and
every frame file exists (``pipeline.shot_done``); the inputs hash covers the render settings,
so the farm must be given the same engine, samples, resolution and passes as a local render.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import FilmCrewError
from ..production import Production
from ..render.shots import RenderSettings


@dataclass(frozen=True)
class FarmShot:
    shot: str
    inputs_hash: str
    start_frame: int  # first film frame
    end_frame: int
    keys: tuple[str, ...]
    done: bool

    @property
    def frame_count(self) -> int:
        return self.end_frame - self.start_frame + 1


def render_settings(*, plan, engine: str, samples: int, resolution: tuple[int, int] | None,
                    passes) -> RenderSettings:
    """The RenderSettings ``filmcrew render`` would use for the same options."""
    from ..render.passes import parse_passes
    from ..render.shots import engine_id

    return RenderSettings(engine=engine_id(engine), samples=samples,
                          resolution=tuple(resolution or plan.resolution), passes=parse_passes(passes))


def production_shots(*, out: Path, engine: str = "cycles", samples: int = 4,
                     resolution: tuple[int, int] | None = None, passes=None) -> tuple[list[FarmShot], RenderSettings]:
    """Every shot of the staged production in film order, with whether its render is done."""
    from .. import pipeline
    from ..characters.kit import appearance_key
    from ..plan.io import load_plan
    from ..staging.timeline import build_timeline

    prod = Production(out)
    plan = load_plan(prod.require(prod.plan, stage="plan"))
    for needed in (prod.blend, prod.staging, prod.cameras):
        prod.require(needed, stage="stage")
    timeline = build_timeline(plan)
    blocking = pipeline.load_staging(prod.staging)
    cameras = pipeline.load_cameras(prod.cameras)
    if blocking.frame_count != timeline.frame_count or set(cameras) != {s.id for s in plan.shots}:
        raise FilmCrewError("scene.blend is older than plan.json; run `filmcrew stage` first", path=prod.blend)
    settings = render_settings(plan=plan, engine=engine, samples=samples, resolution=resolution, passes=passes)
    kit_keys = {c.id: appearance_key(c.appearance) for c in plan.characters}
    ranges = {r.shot: r for r in timeline.shots}
    shots = []
    for work in pipeline.shot_work(plan, timeline, blocking, cameras, kit_keys, settings):
        span = ranges[work.shot]
        done = pipeline.shot_done(prod, work, span.frame_count, settings.passes)
        shots.append(FarmShot(shot=work.shot, inputs_hash=work.inputs_hash, start_frame=span.start_frame,
                              end_frame=span.end_frame, keys=tuple(work.keys), done=done))
    return shots, settings


def characters(*, out: Path) -> list[str]:
    from ..plan.io import load_plan

    return [c.id for c in load_plan(Production(out).plan).characters]
