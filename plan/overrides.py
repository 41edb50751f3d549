"""A user's pinned shots survive re-planning: their spec is carried into the new plan."""

from __future__ import annotations

from .model import Plan

PINNED_FIELDS = ("framing", "size", "angle", "movement", "subjects", "rationale")


def keep_pinned(*, old: Plan, new: Plan) -> tuple[Plan, list[str]]:
    """``new`` with the spec of every pinned shot of ``old`` that still fits it.

    A pinned shot carries over when the new plan has a shot with the same id, in the same
    scene, and the pinned subjects are still in that scene's cast. Returns the plan and the
    ids of pinned shots that could not be kept (so the caller can say so).
    """
    shots = {s.id: s for s in new.shots}
    dropped = []
    updated = []
    for shot in new.shots:
        pinned = next((s for s in old.shots if s.id == shot.id and s.pinned), None)
        if pinned is None:
            updated.append(shot)
            continue
        cast = set(new.scene(shot.scene).cast)
        if pinned.scene != shot.scene or not set(pinned.subjects) <= cast:
            dropped.append(shot.id)
            updated.append(shot)
            continue
        updated.append(shot.model_copy(update={**{f: getattr(pinned, f) for f in PINNED_FIELDS},
                                               "pinned": True}))
    dropped += [s.id for s in old.shots if s.pinned and s.id not in shots]
    return new.model_copy(update={"shots": updated}), dropped
