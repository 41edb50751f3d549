"""Between the production folder and the panel: plan.json, report.json and scene.blend.

All of this runs in Blender's main thread and is quick (small JSON files, one append), so
it is called directly by operators and by the timer that finishes a worker run.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import bpy

from ..errors import FilmCrewError
from .plan_edit import BODY_FIELDS, OUTFIT_FIELDS, edit_appearance, edit_shot, hex_to_rgb, read_plan, rgb_to_hex

_LOADING = [False]  # True while the lists are filled from plan.json: their updates are not edits


@contextmanager
def _filling():
    _LOADING[0] = True
    try:
        yield
    finally:
        _LOADING[0] = False


def production(settings) -> Path | None:
    folder = bpy.path.abspath(settings.output)
    return Path(folder) if folder else None


def load_plan_lists(*, settings) -> None:
    """Fill the shot list and the cast from plan.json (empty lists when there is none)."""
    folder = production(settings)
    plan_path = folder / "plan.json" if folder else None
    data = read_plan(plan_path) if plan_path and plan_path.is_file() else {"shots": [], "characters": []}
    with _filling():
        settings.shots.clear()
        for shot in data["shots"]:
            item = settings.shots.add()
            item.name = shot["id"]
            item.scene_id = shot.get("scene", "")
            item.framing = shot.get("framing", "")
            item.size, item.angle, item.movement = shot["size"], shot["angle"], shot["movement"]
            item.subjects = ", ".join(shot.get("subjects", []))
            item.pinned = bool(shot.get("pinned"))
        settings.cast.clear()
        for character in data.get("characters", []):
            _fill_character(settings.cast.add(), character)
    settings.shot_index = min(settings.shot_index, max(len(settings.shots) - 1, 0))
    settings.cast_index = min(settings.cast_index, max(len(settings.cast) - 1, 0))


def _fill_character(item, character: dict) -> None:
    appearance = character.get("appearance", {})
    item.name = character["id"]
    item.display_name = character.get("name", character["id"])
    for name in BODY_FIELDS:
        if name in appearance:
            setattr(item, name, appearance[name])
    if "skin_tone" in appearance:
        item.skin_tone = hex_to_rgb(appearance["skin_tone"])
    for name in OUTFIT_FIELDS:
        if name in appearance.get("outfit", {}):
            setattr(item, name, hex_to_rgb(appearance["outfit"][name]))


def _settings_of(context, item):
    """The scene settings an item belongs to (the item's own scene, whatever the context)."""
    return item.id_data.filmcrew if item.id_data else context.scene.filmcrew


def shot_edited(*, context, item, field: str) -> None:
    """A shot's spec changed in the list: pin it in plan.json (undo the edit if it is refused)."""
    if _LOADING[0]:
        return
    settings = _settings_of(context, item)
    value = item.subjects if field == "subjects" else getattr(item, field)
    try:
        shot = edit_shot(path=production(settings) / "plan.json", shot_id=item.name, changes={field: value})
    except FilmCrewError as exc:
        settings.status = f"Edit refused: {exc}"
        load_plan_lists(settings=settings)
        return
    with _filling():
        item.pinned = bool(shot.get("pinned"))
        item.subjects = ", ".join(shot.get("subjects", []))
    settings.status = f"{item.name} pinned; Stage and Render re-render only the shots that change"


def appearance_edited(*, context, item) -> None:
    """A cast member's appearance changed: write it into plan.json."""
    if _LOADING[0]:
        return
    settings = _settings_of(context, item)
    try:
        edit_appearance(path=production(settings) / "plan.json", character_id=item.name,
                        body={name: getattr(item, name) for name in BODY_FIELDS},
                        skin_tone=rgb_to_hex(item.skin_tone),
                        outfit={name: rgb_to_hex(getattr(item, name)) for name in OUTFIT_FIELDS})
    except FilmCrewError as exc:
        settings.status = f"Edit refused: {exc}"
        load_plan_lists(settings=settings)
        return
    settings.status = f"{item.name}'s appearance changed; Stage rebuilds that character"


def load_report(*, settings, findings: list[str] | None = None) -> None:
    """Show report.json's figures (flattened to ``section.key``) and the last check's findings."""
    folder = production(settings)
    path = folder / "report.json" if folder else None
    settings.figures.clear()
    if path and path.is_file():
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            settings.status = f"{path}: not valid JSON (line {exc.lineno})"
            report = {}
        for key, value in _flatten(report):
            item = settings.figures.add()
            item.name, item.value = key, value
    if findings is not None:
        settings.findings.clear()
        for line in findings:
            settings.findings.add().value = line


def _flatten(report: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _flatten(value, f"{name}.")
        elif isinstance(value, (int, float, str, bool)):
            rows.append((name, f"{value:.4g}" if isinstance(value, float) else str(value)))
    return rows


def check_findings(output: list[str]) -> list[str]:
    """The finding lines of ``filmcrew check``'s output (review/report.py prints the figures after them)."""
    findings = []
    for line in output:
        if line.startswith("continuity:"):
            break
        findings.append(line)
    return findings


def load_staged_scene(*, settings) -> bpy.types.Scene:
    """Append scene.blend's scene into this session and show it; replaces the one loaded before.

    The new scene gets a copy of the panel settings, so the panel keeps working on it.
    """
    blend = production(settings) / "scene.blend"
    if not blend.is_file():
        raise FilmCrewError("no scene.blend yet; run Stage first", path=blend)
    with bpy.data.libraries.load(str(blend), link=False) as (source, target):
        target.scenes = list(source.scenes[:1])
    scene = target.scenes[0]
    old = bpy.data.scenes.get(settings.staged_scene) if settings.staged_scene else None
    scene.name = f"FilmCrew {scene.name}"
    _copy_settings(settings, scene.filmcrew)
    for window in bpy.context.window_manager.windows:
        if old is None or window.scene == old or window.scene == settings.id_data:
            window.scene = scene
    for other in bpy.data.scenes:  # every scene's panel points at the new staged scene
        other.filmcrew.staged_scene = scene.name
    if old is not None and old != scene:
        _remove_scene(old)
    load_plan_lists(settings=scene.filmcrew)
    load_report(settings=scene.filmcrew)
    return scene


def _copy_settings(source, target) -> None:
    for prop in source.bl_rna.properties:
        if prop.identifier != "rna_type" and prop.type != "COLLECTION" and not prop.is_readonly:
            setattr(target, prop.identifier, getattr(source, prop.identifier))


def _remove_scene(scene) -> None:
    """Remove a staged scene and the objects no other scene uses."""
    others = [s for s in bpy.data.scenes if s != scene]
    shared = {o for s in others for o in s.objects}
    objects = [o for o in scene.objects if o not in shared]
    collections = [c for c in scene.collection.children_recursive
                   if not any(c in s.collection.children_recursive for s in others)]
    bpy.data.scenes.remove(scene)
    bpy.data.batch_remove(ids=objects + collections)
