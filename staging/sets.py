"""Set recipes: loading them from ``assets/sets/<kind>.json``, choosing one for a scene heading,
finding marks by the plain words a screenplay uses, and prop footprints for collision checks.

Pure Python (no bpy). The recipe format is::

    {"keywords": ["cafe", "coffee", ...], "set": { ...a SetSpec without "id"... }}

Conventions beyond those of :mod:`filmcrew.plan.model`:

* The set's ``size`` is the inside of the room; walls (``WALL_THICKNESS``) stand outside it.
* A door's or window's ``offset`` runs along +X on the north and south walls and along +Y on the
  east and west walls, measured from the wall's midpoint.
* A prop's front faces its local -Y (Blender's convention), so a prop with rotation ``r`` faces
  ``r - 90`` degrees: rotation 0 stands against the north wall facing into the room, 90 against
  the west wall, 180 against the south wall, 270 against the east wall. Someone sitting on a
  chair faces the way the chair faces (see :func:`prop_front_facing`).
* Two seats at one table are ``<table>_seat_<n>a`` / ``<table>_seat_<n>b`` (``<n>`` may be
  empty): they face each other across the table (see :func:`across_from`).
* A mark whose id equals a prop id belongs to that prop (``mark.prop``).
* A door whose id contains ``glass`` is built with a glass leaf.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..errors import SetError
from ..plan.io import format_validation_error
from ..plan.model import Mark, Prop, SetSpec

RECIPE_DIR = Path(__file__).resolve().parents[1] / "assets" / "sets"
FALLBACK_KIND = "room"
WALL_THICKNESS = 0.15
FLAT_PROP_HEIGHT = 0.05
"""Props whose top is this low (rugs, paths, roads; a building under a rooftop) are walked on."""
MARK_CLEARANCE = 0.1
"""A stand mark keeps at least this distance from every prop footprint."""

PROP_KINDS: dict[str, str] = {
    "table": "dining or cafe table; a square footprint gets a round top on a pedestal",
    "chair": "dining chair, backrest at the back (+Y local)",
    "folding_chair": "metal folding chair",
    "stool": "bar stool",
    "counter": "kitchen or shop counter, worktop on a cabinet body",
    "sink": "counter with a basin and a tap",
    "stove": "range cooker: burners on top, oven door in front",
    "fridge": "tall two-door fridge",
    "coffee_machine": "espresso machine (stands on a counter)",
    "sofa": "sofa with arms and back cushions",
    "armchair": "upholstered armchair",
    "coffee_table": "low table with a shelf",
    "bed": "bed with headboard at the back (+Y local), pillows and a duvet",
    "nightstand": "bedside table with a drawer",
    "wardrobe": "tall two-door wardrobe",
    "desk": "desk with a modesty panel in front and a monitor facing the back (where one sits)",
    "office_chair": "swivel chair on a five-star base",
    "whiteboard": "wall board (white, or coloured as a menu or notice board)",
    "bookshelf": "open shelving filled with books",
    "cabinet": "low or wall cabinet with doors (also AC units, credenzas)",
    "tv": "flat screen",
    "lamp": "floor or table lamp with a glowing shade",
    "plant": "potted plant or bush",
    "rug": "flat rug (walkable)",
    "bench": "bench: slatted with a back when taller than 0.6 m, else a plain seat",
    "parapet": "low roof wall with a coping",
    "water_tank": "rooftop water tank on a steel stand",
    "stairwell": "rooftop stair housing with a door in front and a lamp above it",
    "lamp_post": "street lamp; the arm reaches forward (-Y local)",
    "tree": "deciduous tree",
    "car": "car, bonnet forward (-Y local)",
    "kerb": "kerb stone run",
    "road": "asphalt with dashed centre line along local X (walkable)",
    "crosswalk": "zebra stripes across local Y (walkable)",
    "path": "gravel or paved path (walkable)",
    "ground": "large flat ground beyond the set (walkable)",
    "building": "facade block with windows (lit at night) and a shop front at the front",
    "fence": "post-and-rail fence along local X",
    "radio_tower": "lattice mast with a red beacon",
    "door_frame": "free-standing door frame with an open leaf",
    "picture": "framed picture on a wall (position z: its lower edge)",
    "pendant_lamp": "hanging lamp: shade at the bottom (position z), cord up to the ceiling",
    "vent": "rooftop vent pipe with a cap",
    "ac_unit": "air-conditioning unit with a fan grille on top",
}
"""The prop kind vocabulary: every recipe prop uses one of these, and scene.sets builds each."""

_STOP_WORDS = {"the", "a", "an", "his", "her", "their", "its", "my", "our", "your", "this",
               "that", "to", "at", "of", "on", "in", "into", "onto", "s"}


# --- recipes -------------------------------------------------------------------------------------

def _recipe_path(kind: str) -> Path:
    return RECIPE_DIR / f"{kind}.json"


def recipe_kinds() -> list[str]:
    """The set kinds that have a recipe in ``assets/sets``."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.json"))


@lru_cache(maxsize=None)
def _read_recipe(path: Path, mtime_ns: int) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SetError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except OSError as exc:
        raise SetError(f"cannot read recipe: {exc.strerror or exc}", path=path) from None
    if not isinstance(data, dict):
        raise SetError("a set recipe must be a JSON object with 'keywords' and 'set'", path=path)
    unknown = sorted(set(data) - {"keywords", "set"})
    if unknown:
        raise SetError(f"unknown key(s) {', '.join(unknown)}", path=path)
    keywords = data.get("keywords")
    if not isinstance(keywords, list) or not keywords or not all(isinstance(k, str) and k.strip()
                                                                 for k in keywords):
        raise SetError("must be a non-empty list of words", path=path, field="keywords")
    if not isinstance(data.get("set"), dict):
        raise SetError("must be an object (a SetSpec without 'id')", path=path, field="set")
    return data


def _recipe_data(kind: str) -> dict[str, Any]:
    path = _recipe_path(kind)
    if not re.fullmatch(r"[a-z0-9_]+", kind) or not path.is_file():
        raise SetError(f"unknown set kind '{kind}' (known: {', '.join(recipe_kinds())})")
    return _read_recipe(path, path.stat().st_mtime_ns)


def load_recipe(kind: str, *, set_id: str) -> SetSpec:
    """The recipe for ``kind`` as a validated :class:`SetSpec` with id ``set_id``.

    Raises:
        SetError: unknown kind, unreadable or invalid JSON, a spec that does not validate, or
            geometry that breaks the set rules (see :func:`set_problems`); it names file and field.
    """
    path = _recipe_path(kind)
    data = _recipe_data(kind)
    fields = dict(data["set"])
    if "id" in fields:
        raise SetError("a recipe has no 'id' (the plan gives it)", path=path, field="set.id")
    if fields.setdefault("kind", kind) != kind:
        raise SetError(f"is '{fields['kind']}' but the file is for '{kind}'", path=path,
                       field="set.kind")
    try:
        spec = SetSpec.model_validate({"id": set_id, **fields})
    except ValidationError as exc:
        raise SetError(_in_set(format_validation_error(exc).split("; ")), path=path) from None
    problems = set_problems(spec)
    if problems:
        raise SetError(_in_set(problems), path=path)
    return spec


def _in_set(problems: list[str]) -> str:
    """Problems named by their field inside the recipe's "set" object."""
    return "; ".join(f"set.{p}" if p[:1].isalpha() and ":" in p else f"set: {p}" for p in problems)


def recipe_keywords(kind: str) -> list[str]:
    """The words of a scene-heading location that pick ``kind``."""
    return list(_recipe_data(kind)["keywords"])


# --- choosing a recipe ---------------------------------------------------------------------------

def _stem(word: str) -> str:
    word = word.lower().strip("'")
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word


def _words(text: str) -> list[str]:
    return [_stem(w) for w in re.findall(r"[A-Za-z0-9']+", text) if _stem(w)]


def choose_recipe(location: str) -> str:
    """The recipe kind for a scene heading's location ("CORNER CAFE", "OFFICE HALLWAY").

    Keywords are matched as whole words (plurals folded). The match that ends latest wins, since
    the head noun of an English place name comes last ("OFFICE HALLWAY" is a hallway); among
    matches ending at the same word the longer keyword wins ("CONFERENCE ROOM" is a meeting
    room, not a generic room). No match gives ``"room"``.
    """
    words = _words(location)
    best: tuple[int, int] | None = None
    best_kind = FALLBACK_KIND
    for kind in recipe_kinds():
        for keyword in recipe_keywords(kind):
            key = _words(keyword)
            if not key:
                continue
            for end in range(len(key) - 1, len(words)):
                if words[end - len(key) + 1:end + 1] == key:
                    score = (end, len(key))
                    if best is None or score > best:
                        best, best_kind = score, kind
    return best_kind


# --- marks ---------------------------------------------------------------------------------------

def _phrase_words(text: str) -> list[str]:
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower().replace("_", " "))]
    kept = [w for w in words if w not in _STOP_WORDS]
    return kept or words


def _match_score(phrase: list[str], name: list[str]) -> float:
    """How well a phrase names something called ``name`` (0: not at all)."""
    if not phrase or not name:
        return 0.0
    if phrase == name:
        return 100.0
    n, p = len(name), len(phrase)
    if any(phrase[i:i + n] == name for i in range(p - n + 1)):
        return 60.0 + n - 0.1 * (p - n)  # the phrase names it among other words
    if any(name[i:i + p] == phrase for i in range(n - p + 1)):
        return 40.0 + p - 0.1 * (n - p)  # the phrase is part of its name
    common = len({_stem(w) for w in phrase} & {_stem(w) for w in name})
    if common and common / max(p, n) >= 0.5:
        return 20.0 * common / max(p, n)
    return 0.0


def _names(item: Mark | Prop) -> list[list[str]]:
    return [_phrase_words(a) for a in item.aliases] + [_phrase_words(item.id)]


def find_mark(set_spec: SetSpec, phrase: str, *, kind: str | None = None) -> Mark | None:
    """The mark a plain-words phrase means ("the window table", "the counter", "the parapet").

    Marks are matched by their aliases and ids; failing that, a prop matched by its aliases or id
    gives the mark that belongs to it (or the nearest stand mark). ``kind`` ("stand", "sit",
    "lean") keeps only marks of that kind. Earlier marks win ties. None when nothing fits.
    """
    words = _phrase_words(phrase)
    marks = [m for m in set_spec.marks if kind is None or m.kind == kind]
    if not words or not marks:
        return None
    best, best_score = None, 0.0
    for mark in marks:
        score = max(_match_score(words, name) for name in _names(mark))
        if score > best_score:
            best, best_score = mark, score
    prop_best, prop_score = None, 0.0
    for prop in set_spec.props:
        score = max(_match_score(words, name) for name in _names(prop))
        if score > prop_score:
            prop_best, prop_score = prop, score
    if prop_best is not None and prop_score > best_score:
        owned = [m for m in marks if m.prop == prop_best.id] or \
            [m for m in marks if m.id.startswith(f"{prop_best.id}_seat_")]  # the seats at a table
        if owned:
            return owned[0]
        stands = [m for m in marks if m.kind != "sit"] or marks
        x, y = prop_best.position[:2]
        return min(stands, key=lambda m: math.hypot(m.position[0] - x, m.position[1] - y))
    return best


def across_from(set_spec: SetSpec, mark_id: str) -> Mark | None:
    """The seat facing ``mark_id`` across the same table (``..._seat_1a`` ↔ ``..._seat_1b``)."""
    match = re.fullmatch(r"(.+_seat_\w*?)([ab])", mark_id)
    seats = {m.id: m for m in set_spec.marks if m.kind == "sit"}
    if not match or mark_id not in seats:
        return None
    return seats.get(match.group(1) + ("b" if match.group(2) == "a" else "a"))


def entrance_mark(set_spec: SetSpec) -> Mark:
    """Where people come in: the ``door`` mark, else ``entrance``, else the first mark."""
    for mark_id in ("door", "entrance"):
        for mark in set_spec.marks:
            if mark.id == mark_id:
                return mark
    if not set_spec.marks:
        raise SetError(f"set '{set_spec.id}' has no marks")
    return set_spec.marks[0]


# --- geometry ------------------------------------------------------------------------------------

def prop_front_facing(prop: Prop) -> float:
    """The facing (degrees) of a prop's front, and of someone sitting on it."""
    return (prop.rotation - 90.0) % 360.0


def footprint(prop: Prop) -> np.ndarray:
    """The 4x2 corners (counter-clockwise) of a prop's rotated footprint."""
    half_x, half_y = prop.size[0] / 2.0, prop.size[1] / 2.0
    local = np.array([[-half_x, -half_y], [half_x, -half_y], [half_x, half_y], [-half_x, half_y]])
    angle = math.radians(prop.rotation)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return local @ rot.T + np.array(prop.position[:2])


def prop_footprints(set_spec: SetSpec) -> list[tuple[str, np.ndarray]]:
    """(prop id, 4x2 footprint corners) of every prop people must walk around.

    Props whose top is at most ``FLAT_PROP_HEIGHT`` above the floor (rugs, paths, roads, the
    building under a rooftop) are walked on and left out.
    """
    return [(p.id, footprint(p)) for p in set_spec.props
            if p.position[2] + p.size[2] > FLAT_PROP_HEIGHT]


def distance_to_footprint(corners: np.ndarray, point: tuple[float, float]) -> float:
    """Signed distance from ``point`` to a convex footprint (negative inside)."""
    p = np.asarray(point, dtype=float)
    edges = np.roll(corners, -1, axis=0) - corners
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    signed = ((p - corners) * normals).sum(axis=1)
    if signed.max() <= 0.0:
        return float(signed.max())
    t = np.clip(((p - corners) * edges).sum(axis=1) / (edges * edges).sum(axis=1), 0.0, 1.0)
    nearest = corners + edges * t[:, None]
    return float(np.linalg.norm(nearest - p, axis=1).min())


def wall_length(set_spec: SetSpec, wall: str) -> float:
    return set_spec.size[0] if wall in ("north", "south") else set_spec.size[1]


def set_problems(set_spec: SetSpec) -> list[str]:
    """Every way a set breaks the rules staging relies on, each naming its field."""
    problems: list[str] = []
    width, depth, height = set_spec.size
    for label, ids in (("props", [p.id for p in set_spec.props]),
                       ("marks", [m.id for m in set_spec.marks]),
                       ("doors", [d.id for d in set_spec.doors])):
        seen: set[str] = set()
        for item_id in ids:
            if item_id in seen:
                problems.append(f"{label}: duplicate id '{item_id}'")
            seen.add(item_id)
    props = {p.id: p for p in set_spec.props}
    for pi, prop in enumerate(set_spec.props):
        if prop.kind not in PROP_KINDS:
            problems.append(f"props[{pi}].kind: unknown prop kind '{prop.kind}' "
                            f"(known: {', '.join(sorted(PROP_KINDS))})")
        if min(prop.size) <= 0.0:
            problems.append(f"props[{pi}].size: extents must be positive")
        elif set_spec.interior:
            corners = footprint(prop)
            if (np.abs(corners) > np.array([width / 2, depth / 2]) + 0.01).any():
                problems.append(f"props[{pi}] '{prop.id}'.position: reaches into or through a wall")
    if set_spec.interior and not set_spec.doors:
        problems.append("doors: an interior needs at least one door")
    if not set_spec.interior and (set_spec.doors or set_spec.windows):
        problems.append("doors/windows: an exterior has no walls to put them in")
    openings: dict[str, list[tuple[float, float, str]]] = {}
    for label, items in (("doors", set_spec.doors), ("windows", set_spec.windows)):
        for i, item in enumerate(items):
            half = wall_length(set_spec, item.wall) / 2.0
            lo, hi = item.offset - item.width / 2.0, item.offset + item.width / 2.0
            if lo < -half + 0.05 or hi > half - 0.05:
                problems.append(f"{label}[{i}].offset: opening {lo:.2f}..{hi:.2f} does not fit "
                                f"the {item.wall} wall (-{half:.2f}..{half:.2f})")
            top = item.height if label == "doors" else item.sill + item.height
            if top > height - 0.05:
                problems.append(f"{label}[{i}].height: top {top:.2f} reaches the ceiling "
                                f"({height:.2f})")
            for other_lo, other_hi, other in openings.get(item.wall, []):
                if lo < other_hi and other_lo < hi:
                    problems.append(f"{label}[{i}]: overlaps {other} on the {item.wall} wall")
            openings.setdefault(item.wall, []).append((lo, hi, f"{label}[{i}]"))
    if set_spec.walkable is None:
        problems.append("walkable: missing")
        return problems
    (x0, y0), (x1, y1) = set_spec.walkable
    if x0 >= x1 or y0 >= y1:
        problems.append("walkable: min must be below max")
    if x0 < -width / 2 or x1 > width / 2 or y0 < -depth / 2 or y1 > depth / 2:
        problems.append("walkable: reaches outside the set")
    footprints = dict(prop_footprints(set_spec))
    for mi, mark in enumerate(set_spec.marks):
        where = f"marks[{mi}] '{mark.id}'"
        x, y = mark.position
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            problems.append(f"{where}.position: ({x:.2f}, {y:.2f}) is outside the walkable area")
        if mark.prop is not None and mark.prop not in props:
            problems.append(f"{where}.prop: unknown prop '{mark.prop}'")
        if mark.id in props and mark.prop != mark.id:
            problems.append(f"{where}.prop: a mark named like prop '{mark.id}' must belong to it")
        if mark.kind == "sit":
            if mark.prop is None or mark.prop not in props or mark.seat_height is None:
                problems.append(f"{where}: a sit mark needs its seat's prop and seat_height")
            elif distance_to_footprint(footprint(props[mark.prop]), (x, y)) > 0.05:
                problems.append(f"{where}.position: not on its seat '{mark.prop}'")
            continue
        for prop_id, corners in footprints.items():
            if distance_to_footprint(corners, (x, y)) < MARK_CLEARANCE:
                problems.append(f"{where}.position: inside (or touching) prop '{prop_id}'")
    return problems
