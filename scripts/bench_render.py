"""Render cost per pass: seconds per frame for RGB only, RGB plus each pass, and all passes.

Usage:
    python scripts/bench_render.py [--production OUT] [--shot S01_005] [--frames 4]
        [--engines cycles,workbench] [--sizes 480x270,832x480] [--each]

Without --production it plans and stages assets/samples/coffee_shop.fountain in a temporary
folder (the first run builds the character kits: minutes). Every configuration renders the
same frames of one shot in one Blender session after a warm-up frame; the figures are wall
seconds per frame, including writing every file. --each also times RGB plus each single pass.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _production(path: Path | None, work: Path) -> Path:
    from filmcrew.pipeline import plan_production, stage_production

    if path is not None:
        return path
    out = work / "coffee"
    plan_production(screenplay=ROOT / "assets" / "samples" / "coffee_shop.fountain", out=out)
    stage_production(out=out)
    return out


def _time_config(*, out: Path, shot: str, frames: int, engine: str, size: tuple[int, int],
                 passes: tuple[str, ...], work: Path) -> float:
    import bpy

    from filmcrew.console import quiet_output
    from filmcrew.plan import load_plan
    from filmcrew.render.frames import FrameRenderer, ShotJob, configure_render
    from filmcrew.render.shots import RenderSettings, engine_id
    from filmcrew.staging.timeline import build_timeline

    plan = load_plan(out / "plan.json")
    shot_range = next(r for r in build_timeline(plan).shots if r.shot == shot)
    with quiet_output():
        bpy.ops.wm.open_mainfile(filepath=str(out / "scene.blend"))
    scene = bpy.context.scene
    settings = RenderSettings(engine=engine_id(engine), resolution=size, passes=passes)
    configure_render(scene, settings=settings)
    renderer = FrameRenderer(scene=scene, settings=settings, passes=passes,
                             characters=[c.id for c in plan.characters])
    target = work / f"{engine}_{size[0]}x{size[1]}_{'-'.join(passes)}"
    job = ShotJob(shot=shot, start_frame=shot_range.start_frame, end_frame=shot_range.end_frame,
                  keys=[str(i) for i in range(shot_range.frame_count)], shot_dir=target)
    step = max(1, shot_range.frame_count // (frames + 1))
    locals_ = [min(shot_range.frame_count - 1, step * (i + 1)) for i in range(frames)]
    renderer.render_frame(job, 0)  # warm-up: kernels, BVH, textures
    started = time.perf_counter()
    for local in locals_:
        renderer.render_frame(job, local)
    return (time.perf_counter() - started) / len(locals_)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--production", type=Path, help="a staged production folder")
    parser.add_argument("--shot", default="S01_005", help="the shot to render (default S01_005, a two-shot)")
    parser.add_argument("--frames", type=int, default=4, help="timed frames per configuration")
    parser.add_argument("--engines", default="cycles,workbench")
    parser.add_argument("--sizes", default="480x270,832x480")
    parser.add_argument("--each", action="store_true", help="also time RGB plus each single pass")
    args = parser.parse_args(argv)

    from filmcrew.render.passes import PASSES

    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench_render.") as tmp:
        work = Path(tmp)
        out = _production(args.production, work)
        print(f"shot {args.shot}, {args.frames} frames per configuration, wall seconds per frame")
        print(f"{'engine':<10} {'size':<8} {'passes':<28} {'s/frame':>8} {'fps':>6} {'x rgb':>6}")
        for engine in args.engines.split(","):
            for size in sizes:
                configs = [("rgb",)]
                if args.each:
                    configs += [("rgb", p) for p in PASSES if p != "rgb"]
                configs.append(PASSES)
                base = None
                for passes in configs:
                    seconds = _time_config(out=out, shot=args.shot, frames=args.frames, engine=engine,
                                           size=size, passes=passes, work=work)
                    base = base or seconds
                    label = "all" if passes == PASSES else ",".join(passes)
                    print(f"{engine:<10} {size[0]}x{size[1]:<4} {label:<28} {seconds:8.2f} {1 / seconds:6.2f} "
                          f"{seconds / base:6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
