"""Benchmark the agent crew against the scripted loopback server: calls, tokens, own overhead.

For one idea: model calls and tokens per role, the wall time of the plan stage, the time spent
waiting on the model (request to answer, over loopback), and the rest: the crew's own work
(prompts, validation, Fountain, offline staging, cache and transcript writes). Then the same
run again from the cache, and once with injected faults to show what the repair loops cost.

    python scripts/bench_agents.py [--stream] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from filmcrew.agents.config import LLMSettings
from filmcrew.agents.loopback import Fault, LoopbackServer, ScriptedCrewModel
from filmcrew.pipeline import plan_production

IDEA = "Two rival chefs share one kitchen for a televised cook-off"


def run_once(server: LoopbackServer, out: Path, *, stream: bool, force: bool = False) -> tuple[float, dict]:
    llm = LLMSettings(base_url=server.url, model="scripted-crew", api_key="bench", stream=stream,
                      backoff_base=0.01)
    started = time.perf_counter()
    plan_production(idea=IDEA, out=out, fps=24, resolution=(480, 270), llm=llm, force=force)
    wall = time.perf_counter() - started
    return wall, json.loads((out / "report.json").read_text())


def table(report: dict) -> str:
    usage = report["agents"]["usage"]
    rows = [f"{'role':<16}{'calls':>6}{'cached':>8}{'prompt tok':>12}{'compl. tok':>12}{'repairs':>9}"
            f"{'retries':>9}{'model s':>9}"]
    totals = [0, 0, 0, 0, 0, 0, 0.0]
    for role, u in list(usage.items()) + [("total", None)]:
        values = totals if u is None else [u["calls"], u["cached_calls"], u["prompt_tokens"],
                                           u["completion_tokens"], u["repairs"], u["retries"], u["model_seconds"]]
        if u is not None:
            totals = [a + b for a, b in zip(totals, values)]
        rows.append(f"{role:<16}" + "".join(f"{v:>{w}}" for v, w in zip(values[:6], (6, 8, 12, 12, 9, 9)))
                    + f"{values[6]:>9.3f}")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", action="store_true", help="stream answers (SSE)")
    parser.add_argument("--runs", type=int, default=3, help="fresh runs to time (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer(ScriptedCrewModel()) as server:
        walls, crew_seconds, model_seconds, reports = [], [], [], []
        for index in range(args.runs):
            wall, report = run_once(server, Path(tmp) / f"run{index}", stream=args.stream)
            walls.append(wall)
            crew_seconds.append(report["agents"]["seconds"])
            model_seconds.append(sum(u["model_seconds"] for u in report["agents"]["usage"].values()))
            reports.append(report)
        print(f"idea: {IDEA!r}; loopback server, scripted model, stream={args.stream}")
        print(table(reports[-1]))
        wall, crew, model = (statistics.median(v) for v in (walls, crew_seconds, model_seconds))
        print(f"plan stage wall time (median of {args.runs} fresh runs): {wall:.3f} s = waiting on the model "
              f"{model:.3f} s + the crew's own work {crew - model:.3f} s + the rest of the plan stage "
              f"(PDF, plan.json, report) {wall - crew:.3f} s")
        wall, report = run_once(server, Path(tmp) / "run0", stream=args.stream, force=True)
        calls = sum(u["calls"] for u in report["agents"]["usage"].values())
        print(f"rerun from the cache: {calls} model calls, {wall:.3f} s")
        faults = [Fault("hallucinate", task="outline"), Fault("hallucinate", task="write_script"),
                  Fault("malformed", task="review_script"), Fault("hallucinate", task="shot_list"),
                  Fault("status", task="judge_shots", status=429, headers={"Retry-After": "0.2"})]
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer(ScriptedCrewModel(faults)) as server:
        wall, report = run_once(server, Path(tmp) / "faults", stream=args.stream)
        print(f"with injected faults (3 hallucinations, 1 malformed JSON, 1 429): {wall:.3f} s")
        print(table(report))
        print(f"invalid refs before review: {report['plan']['invalid_refs_before_review']}, "
              f"after: {report['plan']['invalid_refs_after_review']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
