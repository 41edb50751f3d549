"""``filmcrew farm``: submit shots to a Flamenco farm and follow them (kept here so cli.py only wires it in)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_farm_parser(sub) -> None:
    """Add the ``farm`` subcommand (``submit``, ``status``) to ``filmcrew``'s subparsers."""
    from ..cli import _passes, _resolution

    farm = sub.add_parser("farm", help="render (and refine) shots on a Flamenco render farm",
                          description="Submit one Flamenco job per shot of a production on shared storage, "
                                      "with the FilmCrew job type (assets/flamenco/filmcrew.js installed in the "
                                      "Manager's scripts folder), and follow the jobs.")
    actions = farm.add_subparsers(dest="farm_command", required=True)
    submit = actions.add_parser("submit", help="a job for every shot that needs rendering (or refining)")
    submit.add_argument("out", type=Path, help="the production folder, on the farm's shared storage")
    submit.add_argument("--manager", required=True, help="the Flamenco Manager, e.g. http://flamenco:8080")
    submit.add_argument("--priority", type=int, default=50, help="job priority 0-100 (default 50)")
    submit.add_argument("--worker-tag", help="only workers with this tag (name or id) take the jobs")
    submit.add_argument("--shared-root", type=Path,
                        help="where this machine mounts the shared storage; paths are sent as "
                             "{VARIABLE}/<path under it> (default: absolute paths, for two-way variables)")
    submit.add_argument("--shared-variable", default="jobs",
                        help="the Manager's variable for the shared storage (default: jobs)")
    submit.add_argument("--chunk-size", type=int, default=8, help="frames per render task (default 8)")
    submit.add_argument("--engine", default="cycles", choices=["cycles", "workbench", "eevee"],
                        help="as for `filmcrew render`; must match the later local render")
    submit.add_argument("--samples", type=int, default=4, help="Cycles samples (default 4)")
    submit.add_argument("--resolution", type=_resolution, default=None, help="WxH (default: the plan's)")
    submit.add_argument("--passes", default="all", type=_passes, help="as for `filmcrew render` (default all)")
    submit.add_argument("--refine-model", help="submit refinement jobs for rendered shots with this model "
                                               "(a folder or id the GPU workers can load)")
    submit.add_argument("--refine-args", default="", help="more `filmcrew refine` arguments for the GPU workers, "
                                                         "e.g. \"--steps 30 --offload model\"")
    status = actions.add_parser("status", help="job status and task progress per shot; exit 1 if a job failed")
    status.add_argument("out", type=Path, help="the production folder")
    status.add_argument("--manager", help="default: the Manager recorded in farm.json")


def run_farm_command(args: argparse.Namespace, bars) -> int:
    """Run ``filmcrew farm submit|status`` with parsed ``args``."""
    from ..errors import FilmCrewError

    if args.farm_command == "status":
        from .status import farm_status, status_table

        rows = farm_status(out=args.out, manager=args.manager)
        print(status_table(rows))
        return 1 if any(r.status in ("failed", "canceled") for r in rows) else 0
    from .submit import SubmitOptions, submit_production

    if not 0 <= args.priority <= 100:
        raise FilmCrewError(f"--priority must be 0-100, not {args.priority}")
    if args.chunk_size < 1:
        raise FilmCrewError(f"--chunk-size must be at least 1, not {args.chunk_size}")
    options = SubmitOptions(manager=args.manager, priority=args.priority, worker_tag=args.worker_tag,
                            shared_root=args.shared_root, shared_variable=args.shared_variable,
                            chunk_size=args.chunk_size, engine=args.engine, samples=args.samples,
                            resolution=args.resolution, passes=args.passes, refine_model=args.refine_model,
                            refine_args=args.refine_args)
    result = submit_production(out=args.out, options=options)
    for shot, job_id in result.submitted.items():
        print(f"submitted {shot}: job {job_id}")
    for shot, why in result.skipped.items():
        print(f"skipped {shot}: {why}")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"done: {len(result.submitted)} job(s) submitted, {len(result.skipped)} shot(s) skipped; "
          f"`filmcrew farm status {args.out}` follows them")
    return 0
