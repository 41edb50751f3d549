"""Benchmark `filmcrew make` end to end on screenplays: wall seconds per stage, render speed.

Usage: python scripts/bench_make.py [SCREENPLAY ...] [--resolution 480x270] [--keep DIR]
Defaults to the shared screenplays (../shared/screenplays) or the bundled samples. Each
screenplay is made twice in a fresh folder: cold, then again unchanged (which must do no
rendering). Every make runs in its own process, as a user's would.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CHILD = """
import json, sys, time
from pathlib import Path
from filmcrew import pipeline
times = {}
t0 = time.perf_counter()
r = pipeline.plan_production(screenplay=Path(sys.argv[1]), out=Path(sys.argv[2]), resolution=RES)
times['plan'] = time.perf_counter() - t0; t0 = time.perf_counter()
s = pipeline.stage_production(out=Path(sys.argv[2]))
times['stage'] = time.perf_counter() - t0; t0 = time.perf_counter()
x = pipeline.render_production(out=Path(sys.argv[2]))
times['render'] = time.perf_counter() - t0
print(json.dumps({'times': times, 'render': x.figures, 'stage': s.figures}))
"""


def run_make(screenplay: Path, out: Path, resolution: tuple[int, int]) -> dict:
    code = _CHILD.replace("RES", repr(resolution))
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code, str(screenplay), str(out)],
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"make failed on {screenplay}:\n{result.stderr[-2000:]}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["wall"] = wall
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("screenplays", nargs="*", type=Path)
    parser.add_argument("--resolution", default="480x270")
    parser.add_argument("--keep", type=Path, help="keep the production folders under this folder")
    args = parser.parse_args()
    resolution = tuple(int(v) for v in args.resolution.split("x"))
    shared = REPO.parent / "shared" / "screenplays"
    screenplays = args.screenplays or sorted((shared if shared.exists() else REPO / "assets" / "samples").glob("*.fountain"))
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench_make."))
    print(f"resolution {resolution[0]}x{resolution[1]}, Cycles at the default samples, folders in {base}")
    print(f"{'screenplay':28} {'frames':>6} {'drawn':>6} {'plan s':>7} {'stage s':>8} {'render s':>9} "
          f"{'frames/s':>9} {'wall s':>7} {'rerun s':>8}")
    for screenplay in screenplays:
        out = base / screenplay.stem
        cold = run_make(screenplay, out, resolution)
        warm = run_make(screenplay, out, resolution)
        render = cold["render"]
        fps = render["frames_total"] / max(cold["times"]["render"], 1e-9)
        print(f"{screenplay.name:28} {render['frames_total']:>6} {render['frames_drawn']:>6} "
              f"{cold['times']['plan']:>7.1f} {cold['times']['stage']:>8.1f} {cold['times']['render']:>9.1f} "
              f"{fps:>9.2f} {cold['wall']:>7.1f} {warm['wall']:>8.1f}")
        if warm["render"]["frames_drawn"]:
            print(f"  WARNING: the unchanged rerun drew {warm['render']['frames_drawn']} frames")


if __name__ == "__main__":
    main()
