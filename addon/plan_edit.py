"""Reading plan.json and writing the panel's edits back into it (no bpy, no pydantic).

Blender's own Python lacks pydantic, so the panel edits plan.json as plain JSON. Every
value it writes comes from the plan's own vocabulary below (kept equal to plan/model.py by
tests/test_addon_plan_edit.py) or is checked here against the plan's cast; the next stage
validates the whole plan as usual. An edited shot is marked ``pinned``, so re-planning keeps
it (plan/overrides.py) and staging re-renders only the shots whose pictures changed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import PlanError
from ..fsutil import atomic_write_text

SIZES = ("ECU", "CU", "MCU", "MS", "MLS", "FS", "LS", "ELS")
ANGLES = ("eye", "high", "low", "overhead", "dutch")
MOVEMENTS = ("static", "pan", "tilt", "dolly_in", "dolly_out", "truck", "orbit", "crane", "follow",
             "handheld")
SHOT_FIELDS = ("size", "angle", "movement", "subjects")
BODY_FIELDS = ("gender", "age_years", "weight", "muscle", "height")
OUTFIT_FIELDS = ("top", "bottom", "shoes", "hair")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def read_plan(path: Path) -> dict[str, Any]:
    """plan.json as a dict, with errors that name the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError("no such file (run Plan first)", path=path) from None
    except json.JSONDecodeError as exc:
        raise PlanError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("shots"), list):
        raise PlanError("not a FilmCrew plan (no shots list)", path=path)
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def _find(items: list[dict], item_id: str, *, kind: str, path: Path) -> tuple[int, dict]:
    for index, item in enumerate(items):
        if item.get("id") == item_id:
            return index, item
    raise PlanError(f"no {kind} '{item_id}' (the plan changed; reload it)", path=path)


def edit_shot(*, path: Path, shot_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a shot's size, angle, movement or subjects and pin it; returns the new shot.

    Raises:
        PlanError: an unknown shot, field or value, or a subject not in the shot's scene.
    """
    data = read_plan(path)
    index, shot = _find(data["shots"], shot_id, kind="shot", path=path)
    where = f"shots[{index}]"
    for name, value in changes.items():
        if name not in SHOT_FIELDS:
            raise PlanError(f"cannot edit '{name}' from the panel (editable: {', '.join(SHOT_FIELDS)})",
                            path=path, field=where)
        allowed = {"size": SIZES, "angle": ANGLES, "movement": MOVEMENTS}.get(name)
        if allowed and value not in allowed:
            raise PlanError(f"must be one of {', '.join(allowed)}, not '{value}'", path=path,
                            field=f"{where}.{name}")
    if "subjects" in changes:
        changes = {**changes, "subjects": _subjects(data, shot, changes["subjects"], path, where)}
    if all(shot.get(k) == v for k, v in changes.items()):
        return shot  # nothing changed: leave the file (and its hash) alone
    shot.update(changes)
    shot["pinned"] = True
    _write(path, data)
    return shot


def _subjects(data: dict, shot: dict, value: Any, path: Path, where: str) -> list[str]:
    subjects = [s.strip() for s in value.split(",")] if isinstance(value, str) else list(value)
    subjects = [s for s in subjects if s]
    scene = next((s for s in data.get("scenes", []) if s.get("id") == shot.get("scene")), None)
    cast = list(scene.get("cast", [])) if scene else []
    unknown = [s for s in subjects if s not in cast]
    if unknown:
        raise PlanError(f"{', '.join(unknown)} not in scene {shot.get('scene')}'s cast "
                        f"({', '.join(cast) or 'nobody'})", path=path, field=f"{where}.subjects")
    return subjects


def edit_appearance(*, path: Path, character_id: str, body: dict[str, float] | None = None,
                    skin_tone: str | None = None, outfit: dict[str, str] | None = None) -> dict[str, Any]:
    """Change a character's body, skin tone or outfit colours; returns the new appearance.

    Raises:
        PlanError: an unknown character or field, a value out of range, a colour that is not #rrggbb.
    """
    data = read_plan(path)
    index, character = _find(data.get("characters", []), character_id, kind="character", path=path)
    where = f"characters[{index}].appearance"
    appearance = character.setdefault("appearance", {})
    before = json.dumps(appearance, sort_keys=True)
    for name, value in (body or {}).items():
        low, high = (1.0, 95.0) if name == "age_years" else (0.0, 1.0)
        if name not in BODY_FIELDS or not low <= float(value) <= high:
            raise PlanError(f"'{name}' must be one of {', '.join(BODY_FIELDS)} within {low:g}..{high:g}, "
                            f"not {value!r}", path=path, field=f"{where}.{name}")
        appearance[name] = round(float(value), 4)
    if skin_tone is not None:
        appearance["skin_tone"] = _colour(skin_tone, path, f"{where}.skin_tone")
    for name, value in (outfit or {}).items():
        if name not in OUTFIT_FIELDS:
            raise PlanError(f"no outfit part '{name}' (parts: {', '.join(OUTFIT_FIELDS)})", path=path,
                            field=f"{where}.outfit")
        appearance.setdefault("outfit", {})[name] = _colour(value, path, f"{where}.outfit.{name}")
    if json.dumps(appearance, sort_keys=True) != before:
        _write(path, data)
    return appearance


def _colour(value: str, path: Path, where: str) -> str:
    if not _HEX.match(value):
        raise PlanError(f"must be a colour like #a0b1c2, not '{value}'", path=path, field=where)
    return value.lower()


def hex_to_rgb(value: str) -> tuple[float, float, float]:
    """'#rrggbb' as display (sRGB) floats in 0..1, what a COLOR_GAMMA property holds."""
    return tuple(int(value[i:i + 2], 16) / 255.0 for i in (1, 3, 5))


def rgb_to_hex(rgb) -> str:
    return "#" + "".join(f"{max(0, min(255, round(float(c) * 255))):02x}" for c in list(rgb)[:3])
