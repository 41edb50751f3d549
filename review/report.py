"""`filmcrew check`: run the checks on a production folder, print them, merge report.json."""

from __future__ import annotations

from pathlib import Path

from ..plan.io import load_plan
from ..production import Production, merge_report
from ..staging.timeline import build_timeline
from .blocking_metrics import blocking_metrics
from .continuity import Report, check_production
from .storyboard import write_storyboard


def _heights(prod: Production, plan) -> dict[str, float]:
    from ..characters.kit import kit_path, load_kit

    heights = {}
    for character in plan.characters:
        path = kit_path(appearance=character.appearance, cache_dir=prod.characters)
        if path.exists():
            heights[character.id] = float(load_kit(path).height_m)
    return heights


def check_folder(*, out: Path) -> Report:
    """Check a staged production folder and merge the figures into its report.json."""
    from ..pipeline import load_cameras, load_feet, load_staging

    prod = Production(out)
    plan = load_plan(prod.require(prod.plan, stage="plan"))
    prod.require(prod.staging, stage="stage")
    timeline = build_timeline(plan)
    blocking = load_staging(prod.staging)
    report = check_production(plan=plan, timeline=timeline, blocking=blocking,
                              cameras=load_cameras(prod.require(prod.cameras, stage="stage")),
                              heights=_heights(prod, plan))
    figures = report.as_json()
    figures["blocking"] = blocking_metrics(plan=plan, blocking=blocking, timeline=timeline,
                                           feet=load_feet(prod.staging))
    report.blocking = figures["blocking"]
    if (prod.root / "refined").is_dir():
        from ..refine.metrics import refine_metrics

        figures["refine"] = refine_metrics(prod.root)
    merge_report(prod.path("report.json"), figures)
    write_storyboard(plan=plan, timeline=timeline, root=prod.root)
    return report


def human_report(report: Report) -> str:
    """The findings, one per line, then the figures."""
    figures = report.as_json()
    lines = [f"{'/'.join(f.shots)}: {f.kind}: {f.detail}" for f in report.findings]
    continuity = figures["continuity"]
    lines.append(f"continuity: {continuity['line_violations']} line violation(s), "
                 f"{continuity['jump_cuts']} jump cut(s), {continuity['direction_flips']} direction flip(s)")
    framing = figures["framing"]
    if "speaker_visibility" in framing:
        lines.append(f"framing: speakers visible {framing['speaker_visibility']:.1%} of their line frames")
    if "head_error_mean" in framing:
        lines.append(f"framing: mean head error {framing['head_error_mean']:.3f} of frame height")
    lines.append(f"cameras inside walls or props: {figures['cameras']['inside_geometry']}")
    lines.extend(_blocking_lines(report.blocking))
    return "\n".join(lines)


def _blocking_lines(blocking: dict) -> list[str]:
    if not blocking:
        return []
    lines = [f"blocking: {blocking['interpenetrations']} interpenetration(s)"]
    if "foot_skate_cm_per_frame" in blocking:
        lines.append(f"blocking: foot skating {blocking['foot_skate_cm_per_frame']:.2f} cm/frame while walking")
    if "arrival_error_cm_max" in blocking:
        lines.append(f"blocking: arrival error at marks up to {blocking['arrival_error_cm_max']:.1f} cm")
    if "min_clearance_cm" in blocking:
        lines.append(f"blocking: closest walk to furniture or walls {blocking['min_clearance_cm']:.0f} cm")
    return lines
