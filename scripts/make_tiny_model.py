"""Write a tiny random-weight video model folder (diffusers layout) that `filmcrew refine --model` accepts.

    python scripts/make_tiny_model.py OUT_DIR [--backend wan-vace|cogvideox-fun]
    filmcrew refine PRODUCTION --model OUT_DIR --device cpu --size 64x32 --steps 2

The architecture is real, the weights are random and a few hundred kilobytes: the refined shots
are noise, but every step of the refine path runs, on a laptop CPU, with nothing downloaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write (created)")
    parser.add_argument("--backend", choices=["wan-vace", "cogvideox-fun"], default="wan-vace")
    parser.add_argument("--fps", type=int, default=8, help="the frame rate the model claims (default 8)")
    parser.add_argument("--window", type=int, default=None,
                        help="longest window in frames, 4k+1 (default 17 for wan-vace, 9 for cogvideox-fun)")
    args = parser.parse_args(argv)
    from filmcrew.refine.tiny import make_tiny_cogvideox_fun, make_tiny_wan_vace

    if args.out.exists() and any(args.out.iterdir()):
        print(f"{args.out}: folder is not empty; choose a new one", file=sys.stderr)
        return 2
    if args.backend == "wan-vace":
        make_tiny_wan_vace(args.out, fps=args.fps, window=args.window or 17)
    else:
        make_tiny_cogvideox_fun(args.out, fps=args.fps, window=args.window or 9)
    print(f"tiny {args.backend} model: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
