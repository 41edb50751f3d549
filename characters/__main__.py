"""Child-process entry: generate character kits with torch and anny.

Usage: ``python -m filmcrew.characters generate --jobs JOBS.json`` where the JSON maps each
kit path to an appearance (``Appearance.model_dump()``). Prints ``kit <path>`` per kit written;
on failure prints the error as its last stderr line and exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Run the generator on a jobs file; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m filmcrew.characters")
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="generate character kits")
    generate.add_argument("--jobs", type=Path, required=True, help="JSON: kit path -> appearance")
    args = parser.parse_args(argv)
    try:
        from ..plan.model import Appearance
        from .kit import generate_kits

        data = json.loads(args.jobs.read_text(encoding="utf-8"))
        jobs = [(Appearance.model_validate(appearance), Path(path)) for path, appearance in data.items()]
        generate_kits(jobs=jobs, on_done=lambda path: print(f"kit {path}", flush=True))
    except Exception as exc:  # the parent shows the last stderr line to the user
        traceback.print_exc()
        print(f"{type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
