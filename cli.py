"""The ``filmcrew`` command line: make, plan, stage, render, schema."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import FilmCrewError


class _Bars:
    """One tqdm progress bar per stage, on stderr."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bars: dict = {}

    def start(self, stage: str, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        self.bars[stage] = tqdm(total=max(total, 0), desc=f"{stage:>6}", unit="step" if stage != "render" else "frame",
                                file=sys.stderr, dynamic_ncols=True, leave=True)

    def advance(self, stage: str, step: int = 1, note: str = "") -> None:
        bar = self.bars.get(stage)
        if bar is None:
            return
        if note:
            bar.set_postfix_str(note[:40], refresh=False)
        bar.update(step)

    def finish(self, stage: str, note: str = "") -> None:
        bar = self.bars.pop(stage, None)
        if bar is not None:
            if bar.total is not None and bar.n < bar.total:
                bar.update(bar.total - bar.n)
            bar.set_postfix_str(note[:60])
            bar.close()
        elif self.enabled and note:
            print(f"{stage:>6}: {note}", file=sys.stderr)


def _resolution(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"resolution must look like 480x270, not '{text}'") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError("resolution sides must be even and at least 16")
    return width, height


def _passes(text: str) -> tuple[str, ...]:
    from .render.passes import parse_passes

    try:
        return parse_passes(text)
    except FilmCrewError as exc:
        raise argparse.ArgumentTypeError(exc.message.removeprefix("--passes: ")) from None


def _add_render_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", default="cycles", choices=["cycles", "workbench", "eevee"],
                        help="render engine for preview frames (default: cycles)")
    parser.add_argument("--samples", type=int, default=4, help="Cycles samples per pixel, denoised (default: 4)")
    parser.add_argument("--burn-subtitles", action="store_true",
                        help="draw the subtitles into the animatic's picture too")
    parser.add_argument("--passes", default="all", type=_passes,
                        help="comma-separated passes to render: rgb,depth,normal,segment,pose,edges,flow "
                             "(default: all; rgb is always rendered)")
    parser.add_argument("--workers", type=int, default=None,
                        help="shots rendered in parallel, one Blender process each (default: min(2, CPUs))")
    parser.add_argument("--burn-label", action="store_true",
                        help="draw each shot's id into the animatic's picture")


def _user_set(text: str) -> tuple[str, Path]:
    location, sep, path = text.partition("=")
    if not sep or not location.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"--set wants LOCATION=FILE.blend, e.g. \"CORNER CAFE=cafe.blend\", not '{text}'")
    return location.strip(), Path(path.strip())


def _add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", type=_user_set, action="append", metavar="LOCATION=FILE.blend",
                        help="stage a scene heading's location in your own .blend (MARK_<id> empties are "
                             "the marks) instead of a recipe; repeatable")


def _add_crew_options(parser: argparse.ArgumentParser) -> None:
    crew = parser.add_argument_group("agent crew (any OpenAI-compatible server; OPENAI_API_KEY from the "
                                     "environment; also FILMCREW_LLM_* variables or filmcrew.toml)")
    crew.add_argument("--idea", help="a one-line idea: the agents write the screenplay (instead of a file)")
    crew.add_argument("--llm-base-url", help="the server, e.g. http://localhost:8000/v1 (env OPENAI_BASE_URL)")
    crew.add_argument("--llm-model", help="the model name (env FILMCREW_LLM_MODEL)")
    crew.add_argument("--llm-models", help="a model per role, e.g. director=big,actor=small "
                      "(env FILMCREW_LLM_MODELS; roles without one use --llm-model)")
    crew.add_argument("--llm-timeout", type=float, help="seconds per request (default 120)")
    crew.add_argument("--llm-retries", type=int, help="retries on 429, 5xx and timeouts (default 4)")
    crew.add_argument("--llm-stream", action="store_true", default=None, help="stream answers (SSE)")
    crew.add_argument("--llm-config", type=Path, help="a config file instead of ./filmcrew.toml and "
                      "~/.config/filmcrew/config.toml")
    crew.add_argument("--review-rounds", type=int, help="critique/correct rounds per review (default 2)")
    crew.add_argument("--roles", help="backend per role, e.g. screenwriter=llm,cinematographer=offline "
                      "(roles: director, screenwriter, actor, cinematographer; backends: llm, offline)")


def _crew_settings(args: argparse.Namespace):
    from .agents.config import load_settings

    return load_settings(config=args.llm_config, overrides={
        "base_url": args.llm_base_url, "model": args.llm_model, "timeout": args.llm_timeout,
        "retries": args.llm_retries, "stream": args.llm_stream, "review_rounds": args.review_rounds,
        "roles": args.roles, "models": args.llm_models})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="filmcrew", description="An AI film crew: screenplay to "
                                     "staged Blender scene and animatic.")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    make = sub.add_parser("make", help="plan, stage and render a screenplay (or an --idea) into a production folder")
    make.add_argument("screenplay", type=Path, nargs="?", help="a Fountain screenplay (.fountain)")
    make.add_argument("--out", type=Path, required=True, help="the production folder")
    make.add_argument("--fps", type=int, default=24)
    make.add_argument("--resolution", type=_resolution, default=(480, 270), help="WxH (default 480x270)")
    _add_render_options(make)
    _add_set_option(make)
    _add_crew_options(make)

    plan = sub.add_parser("plan", help="screenplay to plan.json")
    plan.add_argument("screenplay", type=Path, nargs="?")
    plan.add_argument("--out", type=Path, required=True)
    plan.add_argument("--fps", type=int, default=24)
    plan.add_argument("--resolution", type=_resolution, default=(480, 270))
    plan.add_argument("--force", action="store_true", help="re-plan even if the screenplay is unchanged")
    _add_set_option(plan)
    _add_crew_options(plan)

    stage = sub.add_parser("stage", help="plan.json to scene.blend (characters, blocking, cameras)")
    stage.add_argument("out", type=Path, help="the production folder")
    stage.add_argument("--force", action="store_true")

    render = sub.add_parser("render", help="scene.blend to frames, manifest, subtitles and animatic")
    render.add_argument("out", type=Path, help="the production folder")
    render.add_argument("--resolution", type=_resolution, default=None,
                        help="WxH (default: the plan's resolution)")
    _add_render_options(render)

    check = sub.add_parser("check", help="continuity and framing checks; writes report.json")
    check.add_argument("out", type=Path, help="the production folder")
    check.add_argument("--strict", action="store_true", help="exit 1 when any check fails")

    from .refine.cli import add_refine_parser

    add_refine_parser(sub)

    from .farm.cli import add_farm_parser

    add_farm_parser(sub)

    sub.add_parser("schema", help="print the plan's JSON Schema")
    return parser


def run(args: argparse.Namespace) -> int:
    from . import pipeline

    bars = _Bars(enabled=not args.quiet)
    if args.command == "refine":
        from .refine.cli import run_refine_command

        return run_refine_command(args, bars)
    if args.command == "farm":
        from .farm.cli import run_farm_command

        return run_farm_command(args, bars)
    if args.command == "schema":
        from .plan.io import plan_json_schema

        print(json.dumps(plan_json_schema(), indent=2))
        return 0
    if args.command == "check":
        from .review.report import check_folder, human_report

        report = check_folder(out=args.out)
        print(human_report(report))
        return 1 if args.strict and report.violations else 0
    if args.command == "plan":
        pipeline.plan_production(screenplay=args.screenplay, out=args.out, fps=args.fps,
                                 resolution=args.resolution, progress=bars, force=args.force,
                                 idea=args.idea, llm=_crew_settings(args), user_sets=dict(args.set or []))
    elif args.command == "stage":
        pipeline.stage_production(out=args.out, progress=bars, force=args.force)
    elif args.command == "render":
        pipeline.render_production(out=args.out, engine=args.engine, samples=args.samples,
                                   resolution=args.resolution, burn_subtitles=args.burn_subtitles,
                                   progress=bars, passes=args.passes, workers=args.workers,
                                   burn_label=args.burn_label)
    elif args.command == "make":
        pipeline.make_production(screenplay=args.screenplay, out=args.out, fps=args.fps,
                                 resolution=args.resolution, engine=args.engine, samples=args.samples,
                                 burn_subtitles=args.burn_subtitles, progress=bars, idea=args.idea,
                                 llm=_crew_settings(args), passes=args.passes, workers=args.workers,
                                 burn_label=args.burn_label, user_sets=dict(args.set or []))
        print(f"done: {args.out / 'animatic.mp4'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except FilmCrewError as exc:
        print(f"filmcrew: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("filmcrew: interrupted; finished frames are kept, run the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
