"""Benchmark the cinematographer: solver time per shot and per screenplay, and the checks.

Usage: python scripts/bench_cameras.py [SCREENPLAY ...]
Defaults to the shared screenplays (../shared/screenplays) or the bundled samples. Character
heights come from real body kits (generated once into a temporary cache).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    from filmcrew.agents.offline import direct_screenplay
    from filmcrew.characters.kit import ensure_kits, load_kit
    from filmcrew.review.continuity import check_production
    from filmcrew.screenplay import load_screenplay
    from filmcrew.staging.blocking import block_plan
    from filmcrew.staging.cameras import solve_cameras
    from filmcrew.staging.timeline import build_timeline

    shared = REPO.parent / "shared" / "screenplays"
    paths = [Path(p) for p in sys.argv[1:]] or sorted(
        (shared if shared.exists() else REPO / "assets" / "samples").glob("*.fountain"))
    cache = Path(tempfile.mkdtemp(prefix="bench_cameras."))
    print(f"{'screenplay':28} {'shots':>5} {'solve s':>8} {'ms/shot':>8} {'check s':>8} {'line':>5} "
          f"{'jump':>5} {'flip':>5} {'speaker vis':>11} {'head err':>9} {'inside':>6}")
    for path in paths:
        plan = direct_screenplay(screenplay=load_screenplay(path))
        kits = ensure_kits(appearances={c.id: c.appearance for c in plan.characters}, cache_dir=cache)
        heights = {cid: float(load_kit(p).height_m) for cid, p in kits.items()}
        timeline = build_timeline(plan)
        blocking = block_plan(plan=plan, timeline=timeline)
        started = time.perf_counter()
        cameras = solve_cameras(plan=plan, timeline=timeline, blocking=blocking, heights=heights)
        solve = time.perf_counter() - started
        started = time.perf_counter()
        report = check_production(plan=plan, timeline=timeline, blocking=blocking, cameras=cameras,
                                  heights=heights)
        check = time.perf_counter() - started
        figures = report.as_json()
        cont, framing = figures["continuity"], figures["framing"]
        print(f"{path.name:28} {len(plan.shots):>5} {solve:>8.2f} {1000 * solve / len(plan.shots):>8.1f} "
              f"{check:>8.2f} {cont['line_violations']:>5} {cont['jump_cuts']:>5} {cont['direction_flips']:>5} "
              f"{framing.get('speaker_visibility', float('nan')):>11.3f} "
              f"{framing.get('head_error_mean', float('nan')):>9.3f} {figures['cameras']['inside_geometry']:>6}")


if __name__ == "__main__":
    main()
