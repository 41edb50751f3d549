"""Building sets in Blender: from a :class:`SetSpec` (a recipe) or from a user's own .blend.

Geometry is made directly as mesh data (no operators), one object per wall, window pane, door
leaf and prop, so a whole set builds in a fraction of a second. Props are built by small
per-kind builders (``PROP_BUILDERS``) in the prop's local frame: origin at the centre of its
footprint on the floor, front towards -Y, parts fitted into ``prop.size``. Materials are
Principled BSDFs named ``FC_<role>_<colour>`` and shared between objects.
"""

from __future__ import annotations

import colorsys
import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import bpy
import mathutils
import numpy as np

from ..errors import SetError
from ..plan.model import Door, Light, Mark, Prop, SetSpec, Window
from ..staging.sets import PROP_KINDS, WALL_THICKNESS

MARK_PREFIX = "MARK_"
CEILING_THICKNESS = 0.1
FLOOR_THICKNESS = 0.1
DOOR_OPEN_DEGREES = 80.0
"""Door leaves stand open, swung out of the room, so the opening stays passable and visible."""
INTERIOR_WORLD_STRENGTH = 0.45
EXTERIOR_WORLD_STRENGTH = 1.0


# --- colours and materials -----------------------------------------------------------------------

def hex_to_linear(color: str) -> tuple[float, float, float]:
    """An sRGB ``#rrggbb`` colour as linear RGB."""
    srgb = [int(color[i:i + 2], 16) / 255.0 for i in (1, 3, 5)]
    return tuple(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in srgb)


def _shade(color: str, factor: float) -> str:
    """``color`` lighter (factor > 1) or darker (factor < 1), as ``#rrggbb``."""
    r, g, b = (int(color[i:i + 2], 16) / 255.0 for i in (1, 3, 5))
    h, l, s = colorsys.rgb_to_hls(r, g, b)
    r, g, b = colorsys.hls_to_rgb(h, min(1.0, l * factor), s)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


def _luminance(color: str) -> float:
    r, g, b = hex_to_linear(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@dataclass(frozen=True)
class Finish:
    """How a surface role looks: colour (None: the prop's own colour), roughness, metal, glow."""

    color: str | None = None
    roughness: float = 0.6
    metallic: float = 0.0
    emission: float = 0.0
    night_emission: float | None = None
    alpha: float = 1.0


FINISHES: dict[str, Finish] = {
    "main": Finish(None, 0.6),
    "main_light": Finish(None, 0.7),
    "main_dark": Finish(None, 0.6),
    "wall": Finish(None, 0.85),
    "floor": Finish(None, 0.55),
    "ceiling": Finish("#f2f0ea", 0.9),
    "trim": Finish("#f0ede6", 0.45),
    "metal": Finish("#a7aaad", 0.3, 0.9),
    "dark_metal": Finish("#2e3033", 0.4, 0.7),
    "black": Finish("#151515", 0.5),
    "screen": Finish("#07090c", 0.12),
    "glass": Finish("#c8dbe4", 0.05, alpha=0.18),
    "car_glass": Finish("#1d252e", 0.1),
    "shop_glass": Finish("#1e2a33", 0.08, 0.2),
    "window_dark": Finish("#27323d", 0.12, 0.3),
    "window_lit": Finish("#ffd08a", 0.5, emission=0.0, night_emission=4.0),
    "shade": Finish("#f3e2c0", 0.8, emission=1.0, night_emission=3.0),
    "lamp_glow": Finish("#fff0cc", 0.5, emission=1.0, night_emission=12.0),
    "bulb": Finish("#ffd49a", 0.5, emission=12.0, night_emission=25.0),
    "beacon": Finish("#ff2a1a", 0.5, emission=20.0, night_emission=40.0),
    "headlight": Finish("#f0f0e6", 0.2, emission=0.5, night_emission=6.0),
    "taillight": Finish("#a01010", 0.3, emission=0.3, night_emission=3.0),
    "white": Finish("#eeeae3", 0.85),
    "paint": Finish("#efeee8", 0.7),
    "stone": Finish("#d9d4ca", 0.35),
    "wood": Finish("#8b6a4a", 0.6),
    "wood_dark": Finish("#4a3526", 0.6),
    "fabric_dark": Finish("#3a3a40", 0.9),
    "bark": Finish("#5b4332", 0.9),
    "terracotta": Finish("#a5573a", 0.8),
    "soil": Finish("#3a2a1e", 1.0),
    "leaf_dark": Finish("#355a26", 0.8),
    "concrete": Finish("#a19d95", 0.9),
    "rubber": Finish("#1b1b1c", 0.8),
    "book_0": Finish("#7a2e2a", 0.7), "book_1": Finish("#2f4e6e", 0.7),
    "book_2": Finish("#c9b68a", 0.7), "book_3": Finish("#3d5c3a", 0.7),
    "book_4": Finish("#d8d2c4", 0.7), "book_5": Finish("#5a3d5c", 0.7),
}

DEFAULT_COLORS: dict[str, str] = {
    "table": "#8b6a4a", "chair": "#5a4330", "folding_chair": "#5b6b5a", "stool": "#2f2f33",
    "counter": "#e9e5dc", "sink": "#e9e5dc", "stove": "#e6e6e2", "fridge": "#e8e8e6",
    "coffee_machine": "#b9bcbf", "sofa": "#5d6f82", "armchair": "#8a5a44",
    "coffee_table": "#7a5a3c", "bed": "#e8e2d6", "nightstand": "#7a5a3c", "wardrobe": "#c8b49a",
    "desk": "#8c6d4f", "office_chair": "#2e3136", "whiteboard": "#f7f7f5", "bookshelf": "#7b5a3e",
    "cabinet": "#6e5642", "tv": "#111111", "lamp": "#f3e2c0", "plant": "#4e7a34", "rug": "#8a4b3c",
    "bench": "#7a5535", "parapet": "#8a857c", "water_tank": "#6f5a44", "stairwell": "#7a5646",
    "lamp_post": "#2e3033", "tree": "#4e7a34", "car": "#8c1f1f", "kerb": "#b5b0a6",
    "road": "#3a3b3e", "crosswalk": "#ecebe6", "path": "#b7a888", "ground": "#6a6a6a",
    "building": "#8a8580", "fence": "#4b3b2c", "radio_tower": "#6a6f78", "door_frame": "#8b6a4a",
    "picture": "#b5654a", "pendant_lamp": "#2b2b2e", "vent": "#9a9ea3", "ac_unit": "#b8bcc0",
}


@dataclass
class BuildContext:
    """What a builder may depend on besides the size: the time of day and a seed per prop."""

    night: bool = False
    seed: int = 0

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


def _material(role: str, color: str, night: bool) -> bpy.types.Material:
    finish = FINISHES[role]
    name = f"FC_{role}_{color[1:].lower()}{'_night' if night and finish.night_emission else ''}"
    mat = bpy.data.materials.get(name)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(name)
    linear = hex_to_linear(color)
    mat.diffuse_color = (*linear, finish.alpha)
    mat.roughness = finish.roughness
    mat.metallic = finish.metallic
    tree = mat.node_tree
    if tree is None:  # Blender before 5.0 creates materials without nodes
        mat.use_nodes = True
        tree = mat.node_tree
    bsdf = next(n for n in tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = (*linear, 1.0)
    bsdf.inputs["Roughness"].default_value = finish.roughness
    bsdf.inputs["Metallic"].default_value = finish.metallic
    strength = finish.night_emission if night and finish.night_emission is not None else finish.emission
    if strength:
        bsdf.inputs["Emission Color"].default_value = (*linear, 1.0)
        bsdf.inputs["Emission Strength"].default_value = strength
    if finish.alpha < 1.0:
        bsdf.inputs["Alpha"].default_value = finish.alpha
        if hasattr(mat, "surface_render_method"):
            mat.surface_render_method = "BLENDED"
    return mat


def _role_color(role: str, main: str) -> str:
    if role == "main" or role in ("wall", "floor"):
        return main
    if role == "main_light":
        return _shade(main, 1.25)
    if role == "main_dark":
        return _shade(main, 0.7)
    return FINISHES[role].color or main


# --- mesh parts ----------------------------------------------------------------------------------

_BOX_FACES = np.array([[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6],
                       [3, 0, 4, 7]])
_BOX_CORNERS = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                         [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=float)


class Parts:
    """Boxes, cylinders and ellipsoids in one local frame, each face tagged with a surface role."""

    def __init__(self) -> None:
        self._verts: list[np.ndarray] = []
        self._loops: list[np.ndarray] = []
        self._totals: list[np.ndarray] = []
        self._roles: list[tuple[str, int]] = []
        self._smooth: list[np.ndarray] = []
        self._count = 0

    def add(self, verts: np.ndarray, faces: np.ndarray | Sequence[Sequence[int]], role: str,
            *, smooth: bool | np.ndarray = False) -> None:
        verts = np.asarray(verts, dtype=float).reshape(-1, 3)
        if isinstance(faces, np.ndarray):
            totals = np.full(len(faces), faces.shape[1], dtype=np.int64)
            loops = faces.astype(np.int64).ravel()
        else:
            totals = np.array([len(f) for f in faces], dtype=np.int64)
            loops = np.fromiter((i for f in faces for i in f), dtype=np.int64)
        self._verts.append(verts)
        self._loops.append(loops + self._count)
        self._totals.append(totals)
        self._roles.append((role, len(totals)))
        self._smooth.append(np.broadcast_to(np.asarray(smooth, dtype=bool), totals.shape))
        self._count += len(verts)

    def boxes(self, mins: np.ndarray, maxs: np.ndarray, role: str) -> None:
        """Many axis-aligned boxes at once: ``mins``/``maxs`` are (n, 3)."""
        mins, maxs = np.atleast_2d(mins).astype(float), np.atleast_2d(maxs).astype(float)
        if not len(mins):
            return
        verts = mins[:, None, :] + _BOX_CORNERS[None] * (maxs - mins)[:, None, :]
        faces = (_BOX_FACES[None] + 8 * np.arange(len(mins))[:, None, None]).reshape(-1, 4)
        self.add(verts.reshape(-1, 3), faces, role)

    def box(self, x0: float, y0: float, z0: float, x1: float, y1: float, z1: float,
            role: str = "main", *, rz: float = 0.0, pivot: tuple[float, float] | None = None) -> None:
        """An axis-aligned box from (x0, y0, z0) to (x1, y1, z1), turned ``rz`` degrees about Z
        around ``pivot`` (default: its own centre)."""
        verts = np.array([x0, y0, z0]) + _BOX_CORNERS * np.array([x1 - x0, y1 - y0, z1 - z0])
        if rz:
            px, py = pivot if pivot is not None else ((x0 + x1) / 2, (y0 + y1) / 2)
            a = math.radians(rz)
            dx, dy = verts[:, 0] - px, verts[:, 1] - py
            verts[:, 0] = px + dx * math.cos(a) - dy * math.sin(a)
            verts[:, 1] = py + dx * math.sin(a) + dy * math.cos(a)
        self.add(verts, _BOX_FACES, role)

    def cube(self, cx: float, cy: float, cz: float, sx: float, sy: float, sz: float,
             role: str = "main", *, rz: float = 0.0) -> None:
        """A box by centre and size."""
        self.box(cx - sx / 2, cy - sy / 2, cz - sz / 2, cx + sx / 2, cy + sy / 2, cz + sz / 2,
                 role, rz=rz)

    def cylinder(self, a: float, b: float, h0: float, h1: float, r0: float, r1: float | None = None,
                 role: str = "main", *, axis: str = "z", segments: int = 16) -> None:
        """A cylinder (or frustum, radius ``r0`` to ``r1``) along ``axis`` from ``h0`` to ``h1``;
        (a, b) is its centre in the other two axes (x, y for "z"; y, z for "x"; x, z for "y")."""
        r1 = r0 if r1 is None else r1
        t = np.linspace(0.0, 2.0 * math.pi, segments, endpoint=False)
        ca, sa = np.cos(t), np.sin(t)
        bottom = np.column_stack([a + r0 * ca, b + r0 * sa, np.full(segments, h0)])
        top = np.column_stack([a + r1 * ca, b + r1 * sa, np.full(segments, h1)])
        verts = np.vstack([bottom, top])
        i = np.arange(segments)
        j = (i + 1) % segments
        faces = [tuple(f) for f in np.stack([i, j, j + segments, i + segments], axis=1).tolist()]
        faces += [tuple(range(segments, 2 * segments)), tuple(range(segments - 1, -1, -1))]
        if axis == "x":  # (a, b, h) -> (h, a, b): a cyclic permutation keeps the winding
            verts = verts[:, [2, 0, 1]]
        elif axis == "y":  # (a, b, h) -> (a, h, b): a swap flips it
            verts = verts[:, [0, 2, 1]]
            faces = [tuple(reversed(f)) for f in faces]
        smooth = np.ones(len(faces), dtype=bool)
        smooth[-2:] = False
        self.add(verts, faces, role, smooth=smooth)

    def ellipsoid(self, cx: float, cy: float, cz: float, rx: float, ry: float, rz: float,
                  role: str = "main", *, segments: int = 12, rings: int = 7) -> None:
        theta = np.linspace(0.0, math.pi, rings + 1)[1:-1]
        phi = np.linspace(0.0, 2.0 * math.pi, segments, endpoint=False)
        st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
        ring_verts = np.stack([rx * st * np.cos(phi), ry * st * np.sin(phi),
                               rz * np.broadcast_to(ct, (len(theta), segments))], axis=2)
        verts = np.vstack([[[0.0, 0.0, rz]], ring_verts.reshape(-1, 3), [[0.0, 0.0, -rz]]])
        verts += np.array([cx, cy, cz])
        faces: list[tuple[int, ...]] = []
        n = segments
        for k in range(n):  # counter-clockwise seen from outside: normals point out
            faces.append((0, 1 + k, 1 + (k + 1) % n))
        for r in range(rings - 2):
            for k in range(n):
                a, b = 1 + r * n + k, 1 + r * n + (k + 1) % n
                faces.append((a, a + n, b + n, b))
        last = len(verts) - 1
        base = 1 + (rings - 2) * n
        for k in range(n):
            faces.append((base + k, last, base + (k + 1) % n))
        self.add(verts, faces, role, smooth=True)

    def quads_facing(self, centers: np.ndarray, width: float, height: float, axis: str,
                     sign: float, role: str) -> None:
        """Flat rectangles (windows on a facade) centred at ``centers`` (n, 3), facing ``sign``
        along ``axis`` ("x" or "y")."""
        centers = np.atleast_2d(centers)
        if not len(centers):
            return
        du, dz = width / 2, height / 2
        offsets = np.array([[-du, -dz], [du, -dz], [du, dz], [-du, dz]])
        verts = np.repeat(centers[:, None, :], 4, axis=1).astype(float)
        along = 0 if axis == "y" else 1
        verts[:, :, along] += offsets[None, :, 0]
        verts[:, :, 2] += offsets[None, :, 1]
        order = [0, 1, 2, 3]
        if (axis == "y") == (sign > 0):
            order = [3, 2, 1, 0]
        faces = (np.array(order)[None] + 4 * np.arange(len(centers))[:, None])
        self.add(verts.reshape(-1, 3), faces, role)

    @property
    def empty(self) -> bool:
        return self._count == 0

    def to_object(self, name: str, *, main_color: str, night: bool,
                  collection: bpy.types.Collection) -> bpy.types.Object:
        """One mesh object with a material slot per role."""
        verts = np.vstack(self._verts) if self._verts else np.empty((0, 3))
        loops = np.concatenate(self._loops) if self._loops else np.empty(0, dtype=np.int64)
        totals = np.concatenate(self._totals) if self._totals else np.empty(0, dtype=np.int64)
        mesh = bpy.data.meshes.new(name)
        mesh.vertices.add(len(verts))
        mesh.vertices.foreach_set("co", verts.astype(np.float32).ravel())
        mesh.loops.add(len(loops))
        mesh.loops.foreach_set("vertex_index", loops.astype(np.int32))
        mesh.polygons.add(len(totals))
        starts = np.concatenate([[0], np.cumsum(totals)[:-1]]) if len(totals) else totals
        mesh.polygons.foreach_set("loop_start", starts.astype(np.int32))
        mesh.polygons.foreach_set("loop_total", totals.astype(np.int32))
        slots: dict[str, int] = {}
        indices = []
        for role, count in self._roles:
            if role not in slots:
                slots[role] = len(slots)
                mesh.materials.append(_material(role, _role_color(role, main_color), night))
            indices.append(np.full(count, slots[role], dtype=np.int32))
        if indices:
            mesh.polygons.foreach_set("material_index", np.concatenate(indices))
        sharp = ~np.concatenate(self._smooth) if self._smooth else np.empty(0, dtype=bool)
        if len(sharp):
            attr = mesh.attributes.new("sharp_face", "BOOLEAN", "FACE")
            attr.data.foreach_set("value", sharp)
        mesh.update(calc_edges=True)
        mesh.validate(clean_customdata=False)
        obj = bpy.data.objects.new(name, mesh)
        collection.objects.link(obj)
        return obj


# --- prop builders (local frame: footprint centred at the origin, floor at z=0, front at -Y) ------

Builder = Callable[[Parts, float, float, float, BuildContext], None]


def _legs(p: Parts, sx: float, sy: float, z1: float, thick: float, inset: float, role: str) -> None:
    for x in (-1, 1):
        for y in (-1, 1):
            cx, cy = x * (sx / 2 - inset - thick / 2), y * (sy / 2 - inset - thick / 2)
            p.box(cx - thick / 2, cy - thick / 2, 0.0, cx + thick / 2, cy + thick / 2, z1, role)


def build_table(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    top = 0.04
    if abs(sx - sy) < 0.05:  # a round cafe table on a pedestal
        r = min(sx, sy) / 2
        p.cylinder(0, 0, sz - top, sz, r, r, "main", segments=28)
        p.cylinder(0, 0, 0.03, sz - top, 0.035, 0.035, "dark_metal", segments=10)
        p.cylinder(0, 0, 0.0, 0.03, r * 0.6, r * 0.5, "dark_metal", segments=20)
        return
    p.box(-sx / 2, -sy / 2, sz - top, sx / 2, sy / 2, sz, "main")
    p.box(-sx / 2 + 0.07, -sy / 2 + 0.07, sz - top - 0.08, sx / 2 - 0.07, sy / 2 - 0.07, sz - top,
          "main_dark")
    _legs(p, sx, sy, sz - top, 0.06, 0.05, "main_dark")


def build_chair(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    seat = min(0.46, sz * 0.55)
    leg = 0.04
    _legs(p, sx, sy, seat - 0.04, leg, 0.02, "main_dark")
    p.box(-sx / 2 + 0.01, -sy / 2 + 0.01, seat - 0.04, sx / 2 - 0.01, sy / 2 - 0.01, seat, "main")
    for x in (-1, 1):  # back posts
        cx = x * (sx / 2 - 0.02 - leg / 2)
        p.box(cx - leg / 2, sy / 2 - 0.02 - leg, seat, cx + leg / 2, sy / 2 - 0.02, sz, "main_dark")
    p.box(-sx / 2 + 0.02, sy / 2 - 0.05, sz - 0.22, sx / 2 - 0.02, sy / 2 - 0.02, sz - 0.02, "main")


def build_folding_chair(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    seat = min(0.45, sz * 0.55)
    r = 0.012
    for x in (-1, 1):
        cx = x * (sx / 2 - 0.03)
        p.cylinder(cx, -sy / 2 + 0.05, 0.0, seat, r, r, "metal", segments=8)
        p.cylinder(cx, sy / 2 - 0.05, 0.0, sz, r, r, "metal", segments=8)
        p.box(cx - r, -sy / 2 + 0.05, 0.12, cx + r, sy / 2 - 0.05, 0.14, "metal")
    p.box(-sx / 2 + 0.03, -sy / 2 + 0.04, seat - 0.025, sx / 2 - 0.03, sy / 2 - 0.04, seat, "main")
    p.box(-sx / 2 + 0.03, sy / 2 - 0.065, sz - 0.2, sx / 2 - 0.03, sy / 2 - 0.04, sz - 0.03, "main")


def build_stool(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    r = min(sx, sy) / 2
    p.cylinder(0, 0, sz - 0.06, sz, r, r, "main", segments=20)
    for angle in (45, 135, 225, 315):
        a = math.radians(angle)
        p.cylinder(0.7 * r * math.cos(a), 0.7 * r * math.sin(a), 0.0, sz - 0.06, 0.015, 0.015,
                   "metal", segments=8)
    ring = 0.7 * r
    p.box(-ring, -ring, 0.28, ring, -ring + 0.02, 0.3, "metal")
    p.box(-ring, ring - 0.02, 0.28, ring, ring, 0.3, "metal")


def _cabinet_body(p: Parts, sx: float, sy: float, top: float, *, doors: float = 0.6,
                  plinth: float = 0.1, role: str = "main") -> None:
    """A cabinet body from the floor to ``top`` with a recessed plinth, door seams and handles."""
    p.box(-sx / 2 + 0.05, -sy / 2 + 0.05, 0.0, sx / 2, sy / 2, plinth, "black")
    p.box(-sx / 2, -sy / 2, plinth, sx / 2, sy / 2, top, role)
    count = max(1, round(sx / doors))
    width = sx / count
    for k in range(1, count):
        u = -sx / 2 + k * width
        p.box(u - 0.003, -sy / 2 - 0.003, plinth + 0.01, u + 0.003, -sy / 2 + 0.001, top - 0.01, "black")
    for k in range(count):
        u = -sx / 2 + (k + 0.5) * width + (0.2 * width if k % 2 == 0 else -0.2 * width)
        hz = min(top - 0.08, plinth + (top - plinth) * 0.8)
        p.box(u - 0.006, -sy / 2 - 0.025, hz - 0.06, u + 0.006, -sy / 2, hz + 0.06, "metal")


def build_counter(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    _cabinet_body(p, sx, sy, sz - 0.04)
    p.box(-sx / 2, -sy / 2 - 0.02 if sy > 0.3 else -sy / 2, sz - 0.04, sx / 2, sy / 2, sz, "stone")


def build_sink(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    build_counter(p, sx, sy, sz, ctx)
    bw, bd = min(0.55, sx * 0.6), min(0.42, sy * 0.7)
    p.box(-bw / 2, -bd / 2, sz, bw / 2, bd / 2, sz + 0.004, "metal")
    p.box(-bw / 2 + 0.03, -bd / 2 + 0.03, sz + 0.004, bw / 2 - 0.03, bd / 2 - 0.03, sz + 0.005, "dark_metal")
    ty = bd / 2 + 0.06
    p.cylinder(0, ty, sz, sz + 0.28, 0.018, 0.018, "metal", segments=10)
    p.box(-0.012, ty - 0.16, sz + 0.25, 0.012, ty, sz + 0.28, "metal")


def build_stove(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    p.box(-sx / 2, -sy / 2, 0.0, sx / 2, sy / 2, sz - 0.03, "main")
    p.box(-sx / 2, -sy / 2, sz - 0.03, sx / 2, sy / 2, sz, "black")
    for bx in (-sx / 4, sx / 4):
        for by in (-sy / 4, sy / 4):
            p.cylinder(bx, by, sz, sz + 0.012, min(sx, sy) * 0.13, None, "dark_metal", segments=16)
    door_top = sz - 0.16
    p.box(-sx / 2 + 0.05, -sy / 2 - 0.01, 0.12, sx / 2 - 0.05, -sy / 2, door_top, "screen")
    p.box(-sx / 2 + 0.08, -sy / 2 - 0.05, door_top - 0.05, sx / 2 - 0.08, -sy / 2 - 0.02,
          door_top - 0.03, "metal")
    for k in range(4):
        u = -sx / 2 + (k + 1) * sx / 5
        p.cylinder(u, sz - 0.08, -sy / 2 - 0.03, -sy / 2, 0.02, None, "black", axis="y", segments=10)


def build_fridge(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    p.box(-sx / 2, -sy / 2 + 0.02, 0.0, sx / 2, sy / 2, sz, "main")
    split = sz * 0.68
    p.box(-sx / 2, -sy / 2, 0.02, sx / 2, -sy / 2 + 0.02, split - 0.01, "main")
    p.box(-sx / 2, -sy / 2, split + 0.01, sx / 2, -sy / 2 + 0.02, sz - 0.01, "main")
    p.box(-sx / 2 + 0.01, -sy / 2 + 0.005, split - 0.01, sx / 2 - 0.01, -sy / 2 + 0.02, split + 0.01, "black")
    hx = sx / 2 - 0.08
    p.box(hx - 0.015, -sy / 2 - 0.05, split - 0.55, hx + 0.015, -sy / 2, split - 0.1, "metal")
    p.box(hx - 0.015, -sy / 2 - 0.05, split + 0.1, hx + 0.015, -sy / 2, split + 0.4, "metal")


def build_coffee_machine(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    p.box(-sx / 2, -sy / 2 + 0.08, 0.0, sx / 2, sy / 2, sz, "main")
    p.box(-sx / 2, -sy / 2, 0.0, sx / 2, -sy / 2 + 0.08, 0.04, "dark_metal")
    p.box(-sx / 2 + 0.02, -sy / 2 + 0.075, sz * 0.45, sx / 2 - 0.02, -sy / 2 + 0.08, sz * 0.9, "black")
    for u in (-sx / 5, sx / 5):
        p.cylinder(u, -sy / 2 + 0.04, sz * 0.42, sz * 0.55, 0.035, None, "metal", segments=12)
    p.box(-sx / 2 + 0.02, -sy / 2 + 0.1, sz, sx / 2 - 0.02, sy / 2 - 0.02, sz + 0.01, "black")


def _upholstered(p: Parts, sx: float, sy: float, sz: float, seats: int) -> None:
    arm = min(0.18, sx * 0.18)
    back = min(0.22, sy * 0.25)
    base_top = 0.4
    legs = 0.08
    _legs(p, sx, sy, legs, 0.05, 0.04, "wood_dark")
    p.box(-sx / 2, -sy / 2, legs, sx / 2, sy / 2, base_top, "main")
    for x in (-1, 1):
        x0 = x * sx / 2
        p.box(min(x0, x0 - x * arm), -sy / 2, base_top, max(x0, x0 - x * arm), sy / 2,
              min(sz, 0.62), "main")
    p.box(-sx / 2, sy / 2 - back, base_top, sx / 2, sy / 2, sz, "main")
    inner = sx - 2 * arm
    width = inner / seats
    for k in range(seats):
        u0 = -sx / 2 + arm + k * width
        p.box(u0 + 0.01, -sy / 2 + 0.02, base_top, u0 + width - 0.01, sy / 2 - back, base_top + 0.08,
              "main_light")
        p.box(u0 + 0.02, sy / 2 - back - 0.14, base_top + 0.08, u0 + width - 0.02, sy / 2 - back,
              sz - 0.05, "main_light", rz=0.0)


def build_sofa(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    _upholstered(p, sx, sy, sz, max(2, round((sx - 0.36) / 0.7)))


def build_armchair(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    _upholstered(p, sx, sy, sz, 1)


def build_coffee_table(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    p.box(-sx / 2, -sy / 2, sz - 0.04, sx / 2, sy / 2, sz, "main")
    _legs(p, sx, sy, sz - 0.04, 0.045, 0.03, "main_dark")
    p.box(-sx / 2 + 0.05, -sy / 2 + 0.05, 0.1, sx / 2 - 0.05, sy / 2 - 0.05, 0.12, "main_dark")


def build_bed(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    mattress = min(0.55, sz * 0.9)
    head = 0.07
    _legs(p, sx, sy - head, 0.1, 0.06, 0.03, "wood_dark")
    p.box(-sx / 2, -sy / 2, 0.1, sx / 2, sy / 2 - head, 0.3, "wood")
    p.box(-sx / 2 + 0.02, -sy / 2 + 0.02, 0.3, sx / 2 - 0.02, sy / 2 - head, mattress - 0.03, "white")
    duvet_end = sy / 2 - head - 0.55
    p.box(-sx / 2 - 0.01, -sy / 2 - 0.01, mattress - 0.03, sx / 2 + 0.01, duvet_end, mattress + 0.02, "main")
    p.box(-sx / 2 - 0.015, -sy / 2 - 0.015, 0.25, sx / 2 + 0.015, duvet_end, mattress - 0.03, "main")
    pillow_w = sx / 2 - 0.08
    for x in (-1, 1):
        cx = x * (pillow_w / 2 + 0.03)
        p.box(cx - pillow_w / 2, sy / 2 - head - 0.45, mattress - 0.03, cx + pillow_w / 2,
              sy / 2 - head - 0.05, mattress + 0.1, "white")
    p.box(-sx / 2, sy / 2 - head, 0.0, sx / 2, sy / 2, sz, "wood")


def build_nightstand(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    _legs(p, sx, sy, 0.08, 0.04, 0.01, "main_dark")
    p.box(-sx / 2, -sy / 2, 0.08, sx / 2, sy / 2, sz, "main")
    p.box(-sx / 2 + 0.02, -sy / 2 - 0.004, sz - 0.04, sx / 2 - 0.02, -sy / 2, sz - 0.034, "black")
    p.cylinder(0, -sy / 2 - 0.02, sz - 0.12, sz - 0.1, 0.015, None, "metal", segments=8)


def build_wardrobe(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    _cabinet_body(p, sx, sy, sz - 0.04, doors=sx / 2, plinth=0.08)
    p.box(-sx / 2, -sy / 2, sz - 0.04, sx / 2, sy / 2, sz, "main_dark")


def build_desk(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    top = 0.035
    p.box(-sx / 2, -sy / 2, sz - top, sx / 2, sy / 2, sz, "main")
    for x in (-1, 1):
        p.box(x * sx / 2 - (0.03 if x > 0 else 0), -sy / 2 + 0.02, 0.0,
              x * sx / 2 + (0.03 if x < 0 else 0), sy / 2 - 0.02, sz - top, "main_dark")
    p.box(-sx / 2 + 0.03, -sy / 2 + 0.03, 0.3, sx / 2 - 0.03, -sy / 2 + 0.05, sz - top, "main_dark")
    ped = min(0.42, sx * 0.3)
    p.box(sx / 2 - 0.03 - ped, -sy / 2 + 0.05, 0.02, sx / 2 - 0.03, sy / 2 - 0.04, sz - top - 0.02, "main_dark")
    for k in range(3):
        z = 0.1 + k * (sz - 0.2) / 3
        p.box(sx / 2 - 0.03 - ped * 0.7, sy / 2 - 0.04, z + 0.1, sx / 2 - 0.03 - ped * 0.3, sy / 2 - 0.02,
              z + 0.12, "metal")
    # a monitor facing the one who sits behind the desk (+Y), and a keyboard
    my = -sy * 0.15
    p.box(-0.1, my - 0.08, sz, 0.1, my + 0.08, sz + 0.012, "black")
    p.box(-0.02, my - 0.02, sz, 0.02, my + 0.01, sz + 0.18, "black")
    p.box(-0.3, my + 0.01, sz + 0.1, 0.3, my + 0.04, sz + 0.45, "black")
    p.box(-0.28, my + 0.04, sz + 0.12, 0.28, my + 0.041, sz + 0.43, "screen")
    p.box(-0.22, sy * 0.2 - 0.07, sz, 0.22, sy * 0.2 + 0.07, sz + 0.02, "fabric_dark")


def build_office_chair(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    reach = min(sx, sy) / 2 - 0.03
    for k in range(5):
        angle = 90 + k * 72
        a = math.radians(angle)
        cx, cy = reach / 2 * math.cos(a), reach / 2 * math.sin(a)
        p.cube(cx, cy, 0.07, reach, 0.045, 0.035, "black", rz=angle)
        p.cylinder(reach * math.cos(a), reach * math.sin(a), 0.0, 0.05, 0.025, None, "black", segments=8)
    p.cylinder(0, 0, 0.05, 0.42, 0.03, None, "metal", segments=10)
    seat_w, seat_d = min(0.52, sx - 0.08), min(0.5, sy - 0.1)
    p.box(-seat_w / 2, -seat_d / 2 - 0.02, 0.42, seat_w / 2, seat_d / 2 - 0.02, 0.5, "main")
    p.box(-0.03, seat_d / 2 - 0.06, 0.45, 0.03, seat_d / 2, 0.62, "black")
    p.box(-seat_w / 2 + 0.03, seat_d / 2 - 0.04, 0.58, seat_w / 2 - 0.03, seat_d / 2 + 0.04, sz, "main")
    for x in (-1, 1):
        ax = x * (seat_w / 2 - 0.02)
        p.box(ax - 0.02, -0.05, 0.5, ax + 0.02, 0.0, 0.66, "black")
        p.box(ax - 0.03, -0.18, 0.64, ax + 0.03, 0.1, 0.67, "black")


def build_whiteboard(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    frame = 0.025
    p.box(-sx / 2, -sy / 2, 0.0, sx / 2, sy / 2, sz, "metal")
    p.box(-sx / 2 + frame, -sy / 2 - 0.003, frame, sx / 2 - frame, -sy / 2 + 0.01, sz - frame, "main")
    p.box(-sx / 2 + 0.1, -sy / 2 - 0.06, -0.02, sx / 2 - 0.1, -sy / 2, 0.0, "metal")


def build_bookshelf(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    side = 0.02
    p.box(-sx / 2, -sy / 2, 0.0, -sx / 2 + side, sy / 2, sz, "main")
    p.box(sx / 2 - side, -sy / 2, 0.0, sx / 2, sy / 2, sz, "main")
    p.box(-sx / 2 + side, sy / 2 - 0.012, 0.0, sx / 2 - side, sy / 2, sz, "main_dark")
    p.box(-sx / 2 + side, -sy / 2, 0.0, sx / 2 - side, sy / 2, 0.08, "main")
    p.box(-sx / 2 + side, -sy / 2, sz - side, sx / 2 - side, sy / 2, sz, "main")
    shelves = max(1, round((sz - 0.1) / 0.36))
    gap = (sz - 0.08 - side) / shelves
    rng = ctx.rng()
    by_role: dict[str, list[tuple[list[float], list[float]]]] = {}
    for k in range(shelves):
        z0 = 0.08 + k * gap
        if k:
            p.box(-sx / 2 + side, -sy / 2, z0 - side, sx / 2 - side, sy / 2 - 0.012, z0, "main")
        u = -sx / 2 + side + 0.01
        while u < sx / 2 - side - 0.06:
            width = float(rng.uniform(0.022, 0.05))
            if rng.random() < 0.06:
                u += float(rng.uniform(0.05, 0.15))
                continue
            height = float(rng.uniform(0.6, 0.85)) * (gap - side)
            depth = float(rng.uniform(0.65, 0.85)) * (sy - 0.02)
            role = f"book_{int(rng.integers(0, 6))}"
            by_role.setdefault(role, []).append(([u, sy / 2 - 0.015 - depth, z0],
                                                 [u + width, sy / 2 - 0.015, z0 + height]))
            u += width + 0.002
    for role, items in by_role.items():
        p.boxes(np.array([a for a, _ in items]), np.array([b for _, b in items]), role)


def build_cabinet(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    if sz < 0.9 or sz < sx:  # a low cabinet or sideboard on a plinth, with a top slab
        _cabinet_body(p, sx, sy, sz - 0.03, doors=max(0.4, min(0.6, sx / 2)), plinth=0.08)
        p.box(-sx / 2, -sy / 2, sz - 0.03, sx / 2, sy / 2, sz, "main_dark")
    else:  # tall: a filing cabinet or a unit with drawers
        p.box(-sx / 2, -sy / 2, 0.0, sx / 2, sy / 2, sz, "main")
        drawers = max(2, round(sz / 0.33))
        for k in range(drawers):
            z = (k + 0.5) * sz / drawers
            p.box(-sx / 2 + 0.02, -sy / 2 - 0.004, z + sz / drawers / 2 - 0.005, sx / 2 - 0.02,
                  -sy / 2, z + sz / drawers / 2, "black")
            p.box(-0.06, -sy / 2 - 0.025, z + 0.05, 0.06, -sy / 2, z + 0.07, "metal")


def build_tv(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    p.box(-sx / 2, -sy / 2 + 0.01, 0.0, sx / 2, sy / 2, sz, "black")
    p.box(-sx / 2 + 0.015, -sy / 2, 0.015, sx / 2 - 0.015, -sy / 2 + 0.01, sz - 0.015, "screen")


def build_lamp(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    r = min(sx, sy) / 2
    p.cylinder(0, 0, 0.0, max(0.015, sz * 0.02), r * 0.7, r * 0.65, "dark_metal", segments=18)
    p.cylinder(0, 0, 0.0, sz * 0.7, max(0.008, r * 0.06), None, "dark_metal", segments=8)
    p.cylinder(0, 0, sz * 0.62, sz, r, r * 0.7, "shade", segments=20)


def build_plant(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    rng = ctx.rng()
    r = min(sx, sy) / 2
    base = 0.0
    if max(sx, sy) < 1.0:  # potted
        pot = min(0.4, sz * 0.3)
        p.cylinder(0, 0, 0.0, pot, r * 0.55, r * 0.7, "terracotta", segments=16)
        p.cylinder(0, 0, pot - 0.03, pot - 0.02, r * 0.66, None, "soil", segments=16)
        base = pot
    blobs = 5 if max(sx, sy) < 1.0 else 7
    height = sz - base
    for k in range(blobs):
        a = 2 * math.pi * k / blobs + float(rng.uniform(0, 0.8))
        spread = float(rng.uniform(0.2, 0.45))
        cz = base + height * float(rng.uniform(0.4, 0.7))
        rz = min(height * 0.45, sz - cz)
        p.ellipsoid(spread * sx / 2 * math.cos(a), spread * sy / 2 * math.sin(a), cz,
                    sx * 0.32, sy * 0.32, rz, "main" if k % 2 else "leaf_dark", segments=10, rings=6)


def build_rug(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    p.box(-sx / 2, -sy / 2, 0.0, sx / 2, sy / 2, sz * 0.7, "main_dark")
    p.box(-sx / 2 + 0.1, -sy / 2 + 0.1, 0.0, sx / 2 - 0.1, sy / 2 - 0.1, sz, "main")


def build_bench(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    if sz <= 0.6:  # a plain seat on two panel legs
        p.box(-sx / 2, -sy / 2, sz - 0.05, sx / 2, sy / 2, sz, "main")
        for x in (-1, 1):
            cx = x * (sx / 2 - 0.1)
            p.box(cx - 0.025, -sy / 2 + 0.04, 0.0, cx + 0.025, sy / 2 - 0.04, sz - 0.05, "dark_metal")
        return
    seat, seat_depth = 0.45, min(0.45, sy - 0.12)
    slats = 4
    for k in range(slats):
        y0 = -sy / 2 + k * seat_depth / slats
        p.box(-sx / 2, y0 + 0.01, seat - 0.035, sx / 2, y0 + seat_depth / slats - 0.01, seat, "main")
    for k in range(3):
        z0 = seat + 0.12 + k * (sz - seat - 0.14) / 3
        p.box(-sx / 2, sy / 2 - 0.08, z0, sx / 2, sy / 2 - 0.04, z0 + (sz - seat - 0.14) / 3 - 0.02, "main")
    for x in (-1, 1):
        cx = x * (sx / 2 - 0.12)
        p.box(cx - 0.03, -sy / 2 + 0.03, 0.0, cx + 0.03, -sy / 2 + 0.08, seat, "dark_metal")
        p.box(cx - 0.03, sy / 2 - 0.1, 0.0, cx + 0.03, sy / 2 - 0.04, sz, "dark_metal")
        p.box(cx - 0.03, -sy / 2 + 0.03, seat - 0.06, cx + 0.03, sy / 2 - 0.04, seat - 0.035, "dark_metal")
        p.box(cx - 0.03, -sy / 2 + 0.02, seat + 0.2, cx + 0.03, sy / 2 - 0.04, seat + 0.23, "dark_metal")


def build_parapet(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    inset_x, inset_y = (0.02, 0.0) if sx < sy else (0.0, 0.02)
    p.box(-sx / 2 + inset_x, -sy / 2 + inset_y, 0.0, sx / 2 - inset_x, sy / 2 - inset_y, sz - 0.05, "main")
    p.box(-sx / 2, -sy / 2, sz - 0.05, sx / 2, sy / 2, sz, "main_light")


def build_water_tank(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    r = min(sx, sy) / 2
    stand = sz * 0.3
    for x in (-1, 1):
        for y in (-1, 1):
            cx, cy = x * r * 0.72, y * r * 0.72
            p.box(cx - 0.06, cy - 0.06, 0.0, cx + 0.06, cy + 0.06, stand, "dark_metal")
    p.box(-r * 0.8, -r * 0.8, stand - 0.08, r * 0.8, r * 0.8, stand, "dark_metal")
    p.box(-r * 0.74, -0.04, stand * 0.45, r * 0.74, 0.04, stand * 0.45 + 0.06, "dark_metal")
    p.box(-0.04, -r * 0.74, stand * 0.45, 0.04, r * 0.74, stand * 0.45 + 0.06, "dark_metal")
    body_top = sz * 0.86
    p.cylinder(0, 0, stand, body_top, r * 0.93, None, "main", segments=28)
    for k in range(4):
        z = stand + (k + 0.5) * (body_top - stand) / 4
        p.cylinder(0, 0, z, z + 0.05, r * 0.95, None, "dark_metal", segments=28)
    p.cylinder(0, 0, body_top, sz, r * 0.97, 0.06, "main_dark", segments=28)


def build_stairwell(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    roof = 0.15
    p.box(-sx / 2 + 0.05, -sy / 2 + 0.05, 0.0, sx / 2 - 0.05, sy / 2 - 0.05, sz - roof, "main")
    p.box(-sx / 2, -sy / 2, sz - roof, sx / 2, sy / 2, sz, "concrete")
    dw, dh = min(0.95, sx * 0.5), min(2.1, sz - roof - 0.3)
    front = -sy / 2 + 0.05
    p.box(-dw / 2 - 0.06, front - 0.03, 0.0, dw / 2 + 0.06, front, dh + 0.06, "dark_metal")
    p.box(-dw / 2, front - 0.05, 0.02, dw / 2, front - 0.03, dh, "main_dark")
    p.box(dw / 2 - 0.12, front - 0.1, 1.0, dw / 2 - 0.06, front - 0.05, 1.03, "metal")
    p.box(-0.09, front - 0.16, dh + 0.16, 0.09, front, dh + 0.26, "dark_metal")
    p.ellipsoid(0, front - 0.09, dh + 0.12, 0.06, 0.06, 0.06, "bulb", segments=10, rings=6)
    p.box(-dw / 2 - 0.25, front - 0.35, 0.0, dw / 2 + 0.25, front, 0.04, "concrete")


def build_lamp_post(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    r = min(sx, sy) / 2
    p.cylinder(0, 0, 0.0, 0.5, r, r * 0.6, "main", segments=14)
    p.cylinder(0, 0, 0.5, sz, r * 0.35, r * 0.25, "main", segments=12)
    arm = min(1.2, 0.25 * sz)
    p.box(-0.025, -arm, sz - 0.1, 0.025, 0.0, sz - 0.05, "main")
    p.box(-0.14, -arm - 0.25, sz - 0.2, 0.14, -arm + 0.05, sz - 0.06, "main")
    p.box(-0.12, -arm - 0.23, sz - 0.22, 0.12, -arm + 0.03, sz - 0.2, "lamp_glow")


def build_tree(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    """Size x/y is the trunk's base (what people walk around); the canopy spreads ~0.3 x height."""
    rng = ctx.rng()
    r = min(sx, sy) / 2
    trunk = sz * 0.5
    p.cylinder(0, 0, 0.0, trunk, r * 0.75, r * 0.45, "bark", segments=10)
    spread = sz * 0.3
    for k in range(6):
        a = 2 * math.pi * k / 6 + float(rng.uniform(0, 1))
        d = spread * float(rng.uniform(0.25, 0.55))
        rad = spread * float(rng.uniform(0.55, 0.8))
        cz = sz * float(rng.uniform(0.6, 0.78))
        p.ellipsoid(d * math.cos(a), d * math.sin(a), cz, rad, rad, min(rad * 0.85, sz - cz),
                    "main" if k % 2 else "leaf_dark", segments=10, rings=6)


def build_car(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    wheel_r, wheel_w = min(0.33, sz * 0.23), 0.22
    body0, body1 = wheel_r * 0.6, sz * 0.55
    p.box(-sx / 2, -sy / 2 + 0.05, body0, sx / 2, sy / 2 - 0.05, body1, "main")
    p.box(-sx / 2 + 0.02, -sy / 2, body0, sx / 2 - 0.02, -sy / 2 + 0.05, body0 + 0.2, "black")
    p.box(-sx / 2 + 0.02, sy / 2 - 0.05, body0, sx / 2 - 0.02, sy / 2, body0 + 0.2, "black")
    cab0, cab1 = -sy / 2 + sy * 0.3, sy / 2 - sy * 0.16
    p.box(-sx / 2 + 0.1, cab0, body1, sx / 2 - 0.1, cab1, sz - 0.05, "car_glass")
    p.box(-sx / 2 + 0.12, cab0 + 0.15, sz - 0.05, sx / 2 - 0.12, cab1 - 0.1, sz, "main")
    for x in (-1, 1):
        cx = x * (sx / 2 - 0.3)
        p.box(cx - 0.14, -sy / 2 + 0.02, body1 - 0.16, cx + 0.14, -sy / 2 + 0.05, body1 - 0.06, "headlight")
        p.box(cx - 0.14, sy / 2 - 0.05, body1 - 0.16, cx + 0.14, sy / 2 - 0.02, body1 - 0.06, "taillight")
        for y in (-1, 1):
            cy = y * (sy / 2 - sy * 0.18)
            x0, x1 = (sx / 2 - wheel_w + 0.02, sx / 2 + 0.01) if x > 0 else (-sx / 2 - 0.01, -sx / 2 + wheel_w - 0.02)
            p.cylinder(cy, wheel_r, x0, x1, wheel_r, None, "rubber", axis="x", segments=18)
            hub = x1 + 0.002 if x > 0 else x0 - 0.002
            p.cylinder(cy, wheel_r, min(hub, hub - x * 0.01), max(hub, hub - x * 0.01), wheel_r * 0.55,
                       None, "metal", axis="x", segments=14)


def build_kerb(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    p.box(-sx / 2, -sy / 2, 0.0, sx / 2, sy / 2, sz, "main")


def build_road(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    p.box(-sx / 2, -sy / 2, 0.0, sx / 2, sy / 2, sz, "main")
    dash, gap = 3.0, 3.0
    starts = np.arange(-sx / 2, sx / 2 - dash, dash + gap)
    n = len(starts)
    p.boxes(np.column_stack([starts, np.full(n, -0.06), np.full(n, sz)]),
            np.column_stack([starts + dash, np.full(n, 0.06), np.full(n, sz + 0.003)]), "paint")
    for y in (-1, 1):
        y0 = y * (sy / 2 - 0.3)
        p.box(-sx / 2, y0 - 0.05, sz, sx / 2, y0 + 0.05, sz + 0.003, "paint")


def build_crosswalk(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    count = max(1, int(sy // 0.9))
    pitch = sy / count
    y0 = -sy / 2 + np.arange(count) * pitch + pitch * 0.2
    p.boxes(np.column_stack([np.full(count, -sx / 2), y0, np.zeros(count)]),
            np.column_stack([np.full(count, sx / 2), y0 + pitch * 0.55, np.full(count, sz)]), "main")


def build_flat(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    p.box(-sx / 2, -sy / 2, 0.0, sx / 2, sy / 2, sz, "main")


def build_building(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    """A block with a cornice, a shop front on its front (-Y) and windows on three sides."""
    rng = ctx.rng()
    p.box(-sx / 2 + 0.1, -sy / 2 + 0.1, 0.0, sx / 2 - 0.1, sy / 2 - 0.1, sz - 0.3, "main")
    p.box(-sx / 2, -sy / 2, sz - 0.3, sx / 2, sy / 2, sz, "main_dark")
    ground = min(4.0, sz * 0.3)
    front = -sy / 2 + 0.1
    if sz > 6.0:
        dw = 1.2
        p.box(-dw / 2, front - 0.02, 0.0, dw / 2, front + 0.02, 2.4, "wood_dark")
        for side in (-1, 1):
            x0, x1 = sorted((side * (dw / 2 + 0.3), side * (sx / 2 - 0.5)))
            if x1 - x0 > 0.5:
                p.box(x0, front - 0.02, 0.5, x1, front + 0.02, ground - 1.0, "shop_glass")
        p.box(-sx / 2 + 0.2, front - 0.25, ground - 0.8, sx / 2 - 0.2, front, ground - 0.4, "main_dark")
        p.box(-sx / 2 + 0.1, front - 0.04, 0.0, sx / 2 - 0.1, front, 0.5, "concrete")
    floor_h, col_w = 3.2, 2.4
    rows = np.arange(ground + 0.9, sz - 1.2, floor_h) if sz > 6.0 else np.arange(0.9, sz - 1.2, floor_h)
    if not len(rows):
        return
    for axis, sign, length, offset in (("y", -1, sx, sy / 2 - 0.1 + 0.02), ("x", 1, sy, sx / 2 - 0.1 + 0.02),
                                       ("x", -1, sy, sx / 2 - 0.1 + 0.02)):
        cols = max(1, int((length - 1.0) // col_w))
        us = (np.arange(cols) - (cols - 1) / 2) * col_w
        uu, zz = np.meshgrid(us, rows + 0.75)
        uu, zz = uu.ravel(), zz.ravel()
        if axis == "y":
            centers = np.column_stack([uu, np.full(len(uu), sign * offset), zz])
        else:
            centers = np.column_stack([np.full(len(uu), sign * offset), uu, zz])
        lit = rng.random(len(centers)) < (0.42 if ctx.night else 0.0)
        p.quads_facing(centers[lit], 1.2, 1.5, axis, sign, "window_lit")
        p.quads_facing(centers[~lit], 1.2, 1.5, axis, sign, "window_dark")


def build_fence(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    posts = np.arange(-sx / 2 + 0.05, sx / 2, 2.0)
    if posts[-1] < sx / 2 - 0.1:
        posts = np.append(posts, sx / 2 - 0.05)
    n = len(posts)
    t = min(0.1, sy)
    p.boxes(np.column_stack([posts - t / 2, np.full(n, -sy / 2), np.zeros(n)]),
            np.column_stack([posts + t / 2, np.full(n, sy / 2), np.full(n, sz)]), "main")
    for z in (sz * 0.4, sz * 0.85):
        p.box(-sx / 2, -sy / 2 + 0.01, z - 0.04, sx / 2, sy / 2 - 0.01, z + 0.04, "main")


def build_radio_tower(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    tiers = 10
    leg = 0.18
    for k in range(tiers):
        z0, z1 = k * sz / tiers, (k + 1) * sz / tiers
        half = (min(sx, sy) / 2) * (1.0 - 0.8 * k / tiers)
        for x in (-1, 1):
            for y in (-1, 1):
                p.box(x * half - leg / 2, y * half - leg / 2, z0, x * half + leg / 2, y * half + leg / 2, z1, "main")
        p.box(-half, -half, z1 - 0.12, half, -half + 0.08, z1, "main")
        p.box(-half, half - 0.08, z1 - 0.12, half, half, z1, "main")
        if k in (4, 7):
            p.ellipsoid(half, -half, z1, 0.35, 0.35, 0.35, "beacon", segments=8, rings=5)
    p.ellipsoid(0, 0, sz, 0.6, 0.6, 0.6, "beacon", segments=10, rings=6)


def build_door_frame(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    jamb = 0.06
    p.box(-sx / 2, -sy / 2, 0.0, -sx / 2 + jamb, sy / 2, sz, "trim")
    p.box(sx / 2 - jamb, -sy / 2, 0.0, sx / 2, sy / 2, sz, "trim")
    p.box(-sx / 2, -sy / 2, sz - jamb, sx / 2, sy / 2, sz, "trim")
    _door_leaf(p, hinge=(-sx / 2 + jamb, -sy / 2), width=sx - 2 * jamb, height=sz - jamb - 0.01,
               angle=-DOOR_OPEN_DEGREES, glass=False)


def build_picture(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    rng = ctx.rng()
    frame = min(0.05, sx * 0.08)
    p.box(-sx / 2, -sy / 2 + 0.01, 0.0, sx / 2, sy / 2, sz, "black")
    p.box(-sx / 2 + frame, -sy / 2, frame, sx / 2 - frame, -sy / 2 + 0.01, sz - frame, "main_light")
    split = float(rng.uniform(0.35, 0.65))
    p.box(-sx / 2 + frame * 2, -sy / 2 - 0.002, frame * 2, sx / 2 - frame * 2, -sy / 2,
          frame * 2 + (sz - frame * 4) * split, "main")
    cx = float(rng.uniform(-0.2, 0.2)) * sx
    p.ellipsoid(cx, -sy / 2 - 0.002, sz * 0.62, sx * 0.12, 0.002, sz * 0.12, "main_dark", segments=12, rings=6)


def build_pendant_lamp(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    r = min(sx, sy) / 2
    shade = min(0.3, sz * 0.35)
    p.cylinder(0, 0, 0.0, shade, r, r * 0.3, "main", segments=20)
    p.cylinder(0, 0, 0.005, 0.01, r * 0.85, None, "lamp_glow", segments=20)
    p.cylinder(0, 0, shade, sz, 0.006, None, "black", segments=6)
    p.cylinder(0, 0, sz - 0.02, sz, 0.05, None, "black", segments=12)


def build_vent(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    r = min(sx, sy) / 2
    p.cylinder(0, 0, 0.0, 0.05, r * 0.9, None, "main_dark", segments=16)
    p.cylinder(0, 0, 0.05, sz * 0.8, r * 0.45, None, "main", segments=16)
    p.cylinder(0, 0, sz * 0.8, sz * 0.85, r, r, "main", segments=16)
    p.cylinder(0, 0, sz * 0.85, sz, r, r * 0.2, "main", segments=16)


def build_ac_unit(p: Parts, sx: float, sy: float, sz: float, ctx: BuildContext) -> None:
    p.box(-sx / 2, -sy / 2, 0.0, sx / 2, sy / 2, 0.08, "dark_metal")
    p.box(-sx / 2 + 0.02, -sy / 2 + 0.02, 0.08, sx / 2 - 0.02, sy / 2 - 0.02, sz - 0.02, "main")
    r = min(sx, sy) * 0.38
    p.cylinder(0, 0, sz - 0.02, sz, r, None, "black", segments=24)
    p.cylinder(0, 0, sz, sz + 0.005, r * 0.25, None, "dark_metal", segments=12)
    slats = np.arange(0.18, sz - 0.1, 0.06)
    n = len(slats)
    p.boxes(np.column_stack([np.full(n, -sx / 2 + 0.08), np.full(n, -sy / 2), slats]),
            np.column_stack([np.full(n, sx / 2 - 0.08), np.full(n, -sy / 2 + 0.02), slats + 0.02]),
            "main_dark")


PROP_BUILDERS: dict[str, Builder] = {
    "ac_unit": build_ac_unit, "picture": build_picture, "pendant_lamp": build_pendant_lamp, "vent": build_vent,
    "table": build_table, "chair": build_chair, "folding_chair": build_folding_chair,
    "stool": build_stool, "counter": build_counter, "sink": build_sink, "stove": build_stove,
    "fridge": build_fridge, "coffee_machine": build_coffee_machine, "sofa": build_sofa,
    "armchair": build_armchair, "coffee_table": build_coffee_table, "bed": build_bed,
    "nightstand": build_nightstand, "wardrobe": build_wardrobe, "desk": build_desk,
    "office_chair": build_office_chair, "whiteboard": build_whiteboard,
    "bookshelf": build_bookshelf, "cabinet": build_cabinet, "tv": build_tv, "lamp": build_lamp,
    "plant": build_plant, "rug": build_rug, "bench": build_bench, "parapet": build_parapet,
    "water_tank": build_water_tank, "stairwell": build_stairwell, "lamp_post": build_lamp_post,
    "tree": build_tree, "car": build_car, "kerb": build_kerb, "road": build_road,
    "crosswalk": build_crosswalk, "path": build_flat, "ground": build_flat,
    "building": build_building, "fence": build_fence, "radio_tower": build_radio_tower,
    "door_frame": build_door_frame,
}
assert set(PROP_BUILDERS) == set(PROP_KINDS), "every prop kind needs a builder"


# --- walls, doors, windows -----------------------------------------------------------------------

def _door_leaf(p: Parts, *, hinge: tuple[float, float], width: float, height: float, angle: float,
               glass: bool, thickness: float = 0.04) -> None:
    """A door leaf hinged at ``hinge`` (its edge on the line y = hinge y), along +X when closed,
    turned ``angle`` degrees about the hinge."""
    hx, hy = hinge

    def part(x0: float, x1: float, z0: float, z1: float, role: str, t: float = thickness) -> None:
        p.box(hx + x0, hy - t / 2, z0, hx + x1, hy + t / 2, z1, role, rz=angle, pivot=(hx, hy))

    if glass:
        rail = 0.06
        part(0.0, rail, 0.0, height, "dark_metal")
        part(width - rail, width, 0.0, height, "dark_metal")
        part(rail, width - rail, 0.0, 0.12, "dark_metal")
        part(rail, width - rail, height - rail, height, "dark_metal")
        part(rail, width - rail, 0.12, height - rail, "glass", 0.012)
        part(width - 0.14, width - 0.11, 0.75, 1.35, "metal", thickness + 0.08)
    else:
        part(0.0, width, 0.0, height, "main")
        part(width - 0.12, width - 0.06, 1.0, 1.03, "metal", thickness + 0.1)


def wall_pieces(length: float, height: float, openings: Iterable[tuple[float, float, float, float]]
                ) -> list[tuple[float, float, float, float]]:
    """Boxes (u0, u1, z0, z1) that make a wall from ``-length/2`` to ``length/2`` around the
    openings (u0, u1, z0, z1)."""
    cuts = sorted(openings)
    pieces = []
    u = -length / 2
    for u0, u1, z0, z1 in cuts:
        if u0 > u:
            pieces.append((u, u0, 0.0, height))
        if z0 > 0.0:
            pieces.append((u0, u1, 0.0, z0))
        if z1 < height:
            pieces.append((u0, u1, z1, height))
        u = max(u, u1)
    if u < length / 2:
        pieces.append((u, length / 2, 0.0, height))
    return pieces


@dataclass(frozen=True)
class _WallFrame:
    """Maps wall coordinates (u along the wall, d into the wall from its inner face) to X, Y."""

    axis_u: np.ndarray
    normal: np.ndarray  # outward
    inner: float        # distance of the inner face from the centre

    def xy(self, u: float, d: float) -> np.ndarray:
        return self.axis_u * u + self.normal * (self.inner + d)


def _wall_frames(set_spec: SetSpec) -> dict[str, _WallFrame]:
    width, depth, _ = set_spec.size
    return {"north": _WallFrame(np.array([1.0, 0.0]), np.array([0.0, 1.0]), depth / 2),
            "south": _WallFrame(np.array([1.0, 0.0]), np.array([0.0, -1.0]), depth / 2),
            "east": _WallFrame(np.array([0.0, 1.0]), np.array([1.0, 0.0]), width / 2),
            "west": _WallFrame(np.array([0.0, 1.0]), np.array([-1.0, 0.0]), width / 2)}


def _wall_box(p: Parts, frame: _WallFrame, u0: float, u1: float, d0: float, d1: float, z0: float,
              z1: float, role: str) -> None:
    a, b = frame.xy(u0, d0), frame.xy(u1, d1)
    p.box(min(a[0], b[0]), min(a[1], b[1]), z0, max(a[0], b[0]), max(a[1], b[1]), z1, role)


def _build_walls(set_spec: SetSpec, collection: bpy.types.Collection) -> None:
    width, depth, height = set_spec.size
    t = WALL_THICKNESS
    frames = _wall_frames(set_spec)
    doors: dict[str, list[Door]] = {w: [] for w in frames}
    windows: dict[str, list[Window]] = {w: [] for w in frames}
    for door in set_spec.doors:
        doors[door.wall].append(door)
    for window in set_spec.windows:
        windows[window.wall].append(window)
    for wall, frame in frames.items():
        length = width + 2 * t if wall in ("north", "south") else depth
        openings = [(d.offset - d.width / 2, d.offset + d.width / 2, 0.0, d.height) for d in doors[wall]]
        openings += [(w.offset - w.width / 2, w.offset + w.width / 2, w.sill, w.sill + w.height)
                     for w in windows[wall]]
        p = Parts()
        for u0, u1, z0, z1 in wall_pieces(length, height, openings):
            _wall_box(p, frame, u0, u1, 0.0, t, z0, z1, "wall")
        inner = width if wall in ("north", "south") else depth
        u = -inner / 2
        for door in sorted(doors[wall], key=lambda d: d.offset) + [None]:  # skirting, broken at doors
            end = inner / 2 if door is None else door.offset - door.width / 2
            if end > u:
                _wall_box(p, frame, u, end, -0.012, 0.0, 0.0, 0.08, "main_dark")
            if door is not None:
                u = door.offset + door.width / 2
        for door in doors[wall]:
            u0, u1 = door.offset - door.width / 2, door.offset + door.width / 2
            _wall_box(p, frame, u0, u0 + 0.04, -0.015, t + 0.015, 0.0, door.height, "trim")
            _wall_box(p, frame, u1 - 0.04, u1, -0.015, t + 0.015, 0.0, door.height, "trim")
            _wall_box(p, frame, u0 - 0.04, u1 + 0.04, -0.015, t + 0.015, door.height - 0.04,
                      door.height + 0.04, "trim")
        for i, window in enumerate(windows[wall]):
            u0, u1 = window.offset - window.width / 2, window.offset + window.width / 2
            z0, z1 = window.sill, window.sill + window.height
            f = 0.05
            for a0, a1, b0, b1 in ((u0, u0 + f, z0, z1), (u1 - f, u1, z0, z1),
                                   (u0 + f, u1 - f, z0, z0 + f), (u0 + f, u1 - f, z1 - f, z1)):
                _wall_box(p, frame, a0, a1, t / 2 - 0.04, t / 2 + 0.04, b0, b1, "trim")
            if window.width > 1.5:
                mid = (u0 + u1) / 2
                _wall_box(p, frame, mid - 0.03, mid + 0.03, t / 2 - 0.03, t / 2 + 0.03, z0, z1, "trim")
            if z0 > 0.05:
                _wall_box(p, frame, u0 - 0.05, u1 + 0.05, -0.05, t / 2, z0 - 0.03, z0, "trim")
            glass = Parts()
            _wall_box(glass, frame, u0 + f, u1 - f, t / 2 - 0.005, t / 2 + 0.005, z0 + f, z1 - f, "glass")
            glass.to_object(f"Window_{wall}_{i}", main_color=set_spec.wall_color, night=False,
                            collection=collection)
        wall_obj = p.to_object(f"Wall_{wall}", main_color=set_spec.wall_color, night=False,
                               collection=collection)
        wall_obj["kind"] = "wall"
        for door in doors[wall]:
            _build_door_leaf(set_spec, door, frame, collection)


def _build_door_leaf(set_spec: SetSpec, door: Door, frame: _WallFrame,
                     collection: bpy.types.Collection) -> None:
    """The leaf stands open outside the room, hinged at the door's low-u jamb on the outer face."""
    p = Parts()
    glass = "glass" in door.id.lower()
    width = door.width - 0.08
    _door_leaf(p, hinge=(0.0, 0.0), width=width, height=door.height - 0.05, angle=0.0, glass=glass)
    color = "#3f4a52" if glass else "#8a6a4c"
    obj = p.to_object(f"Door_{door.id}", main_color=color, night=False, collection=collection)
    hinge = frame.xy(door.offset - door.width / 2 + 0.04, WALL_THICKNESS + 0.02)
    obj.location = (float(hinge[0]), float(hinge[1]), 0.0)
    u_angle = math.atan2(frame.axis_u[1], frame.axis_u[0])
    n_angle = math.atan2(frame.normal[1], frame.normal[0])
    # swing from along +u towards the outward normal
    turn = (n_angle - u_angle + math.pi) % (2 * math.pi) - math.pi
    obj.rotation_euler = (0.0, 0.0, u_angle + math.copysign(math.radians(DOOR_OPEN_DEGREES), turn))
    obj["kind"] = "door"


def _build_shell(set_spec: SetSpec, collection: bpy.types.Collection) -> None:
    width, depth, height = set_spec.size
    margin = WALL_THICKNESS if set_spec.interior else 0.0
    floor = Parts()
    floor.box(-width / 2 - margin, -depth / 2 - margin, -FLOOR_THICKNESS, width / 2 + margin,
              depth / 2 + margin, 0.0, "floor")
    floor.to_object("Floor", main_color=set_spec.floor_color, night=False, collection=collection)["kind"] = "floor"
    if not set_spec.interior:
        return
    ceiling = Parts()
    ceiling.box(-width / 2 - margin, -depth / 2 - margin, height, width / 2 + margin, depth / 2 + margin,
                height + CEILING_THICKNESS, "ceiling")
    obj = ceiling.to_object("Ceiling", main_color="#f2f0ea", night=False, collection=collection)
    obj["kind"] = "ceiling"
    # Like a studio set without a lid: the ceiling is seen but casts no shadow, so the sky
    # still lights the room for cameras inside it.
    obj.visible_shadow = False
    _build_walls(set_spec, collection)


# --- lights, world, marks ------------------------------------------------------------------------

def _build_light(index: int, light: Light, collection: bpy.types.Collection) -> bpy.types.Object:
    data = bpy.data.lights.new(f"Light_{index}", type=light.kind.upper())
    data.color = hex_to_linear(light.color)
    data.energy = light.energy
    if light.kind == "sun":
        data.angle = math.radians(light.size)
    elif light.kind == "area":
        data.shape = "SQUARE"
        data.size = light.size
    else:
        data.shadow_soft_size = light.size
    obj = bpy.data.objects.new(f"Light_{index}", data)
    obj.location = light.position
    obj.rotation_euler = tuple(math.radians(a) for a in light.rotation)
    collection.objects.link(obj)
    return obj


def is_night(set_spec: SetSpec) -> bool:
    """An exterior under a dark sky: windows and street lamps glow."""
    return not set_spec.interior and _luminance(set_spec.sky_color) < 0.05


def _build_world(set_spec: SetSpec) -> bpy.types.World:
    world = bpy.data.worlds.new(f"FC_World_{set_spec.id}")
    if world.node_tree is None:  # Blender before 5.0
        world.use_nodes = True
    background = next(n for n in world.node_tree.nodes if n.type == "BACKGROUND")
    background.inputs["Color"].default_value = (*hex_to_linear(set_spec.sky_color), 1.0)
    background.inputs["Strength"].default_value = (EXTERIOR_WORLD_STRENGTH if not set_spec.interior
                                                   else INTERIOR_WORLD_STRENGTH)
    world.color = hex_to_linear(set_spec.sky_color)
    bpy.context.scene.world = world
    return world


def _mark_empty(mark: Mark, collection: bpy.types.Collection) -> bpy.types.Object:
    obj = bpy.data.objects.new(f"{MARK_PREFIX}{mark.id}", None)
    obj.empty_display_type = "PLAIN_AXES"
    obj.empty_display_size = 0.3
    z = mark.seat_height if mark.kind == "sit" and mark.seat_height is not None else 0.0
    obj.location = (mark.position[0], mark.position[1], z)
    obj.rotation_euler = (0.0, 0.0, math.radians(mark.facing))
    obj["kind"] = mark.kind
    if mark.seat_height is not None:
        obj["seat_height"] = mark.seat_height
    if mark.prop:
        obj["prop"] = mark.prop
    if mark.aliases:
        obj["aliases"] = json.dumps(mark.aliases)
    collection.objects.link(obj)
    return obj


def build_prop(prop: Prop, collection: bpy.types.Collection, *, night: bool = False) -> bpy.types.Object:
    """One prop as a mesh object named after its id, placed and turned."""
    builder = PROP_BUILDERS.get(prop.kind)
    if builder is None:
        raise SetError(f"unknown prop kind '{prop.kind}' (known: {', '.join(sorted(PROP_BUILDERS))})",
                       field=f"props.{prop.id}.kind")
    parts = Parts()
    ctx = BuildContext(night=night, seed=zlib.crc32(prop.id.encode()))
    builder(parts, *prop.size, ctx)
    color = prop.color or DEFAULT_COLORS[prop.kind]
    obj = parts.to_object(prop.id, main_color=color, night=night, collection=collection)
    obj.location = prop.position
    obj.rotation_euler = (0.0, 0.0, math.radians(prop.rotation))
    obj["kind"] = prop.kind
    if prop.aliases:
        obj["aliases"] = json.dumps(prop.aliases)
    return obj


def build_set(*, set_spec: SetSpec, collection_name: str = "FC_Set") -> bpy.types.Collection:
    """Build a set in the current scene: floor, walls with door and window openings, ceiling,
    glass, open door leaves, props, lights, the world's sky and ``MARK_<id>`` empties.

    Returns:
        The new collection (linked to the scene) holding every object of the set.
    """
    collection = bpy.data.collections.new(collection_name)
    bpy.context.scene.collection.children.link(collection)
    collection["filmcrew_set"] = set_spec.id
    collection["filmcrew_kind"] = set_spec.kind
    night = is_night(set_spec)
    _build_shell(set_spec, collection)
    for prop in set_spec.props:
        build_prop(prop, collection, night=night)
    for i, light in enumerate(set_spec.lights):
        _build_light(i, light, collection)
    _build_world(set_spec)
    for mark in set_spec.marks:
        _mark_empty(mark, collection)
    return collection


# --- a user's own set ----------------------------------------------------------------------------

_BLEND_MAGIC = (b"BLENDER", b"\x28\xb5\x2f\xfd", b"\x1f\x8b")  # plain, zstd, gzip


def _aliases(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value.split(",")
        if isinstance(parsed, str):
            parsed = [parsed]
        return [str(a).strip() for a in parsed if str(a).strip()]
    return [str(a).strip() for a in value if str(a).strip()]  # an IDProperty array


def _world_bounds(objects: Iterable[bpy.types.Object]) -> tuple[np.ndarray, np.ndarray] | None:
    corners = []
    for obj in objects:
        local = np.array([tuple(c) for c in obj.bound_box])
        matrix = np.array(obj.matrix_world)
        corners.append(local @ matrix[:3, :3].T + matrix[:3, 3])
    if not corners:
        return None
    points = np.vstack(corners)
    return points.min(axis=0), points.max(axis=0)


def _user_mark(obj: bpy.types.Object, name: str, path: Path) -> Mark:
    mark_id = name[len(MARK_PREFIX):]
    kind = str(obj.get("kind", "stand"))
    if kind not in ("stand", "sit", "lean"):
        raise SetError(f"{name}: custom property kind '{kind}' must be stand, sit or lean", path=path)
    matrix = obj.matrix_world
    location = matrix.translation
    facing = math.degrees(matrix.to_euler("XYZ").z) % 360.0
    seat = obj.get("seat_height")
    if seat is None and kind == "sit" and location.z > 0.0:
        seat = location.z
    try:
        return Mark(id=mark_id, position=(float(location.x), float(location.y)), facing=round(facing, 4),
                    kind=kind, seat_height=None if seat is None else float(seat),
                    prop=obj.get("prop"), aliases=_aliases(obj.get("aliases")))
    except ValueError as exc:
        raise SetError(f"{name}: {exc}", path=path) from None


def _user_prop(obj: bpy.types.Object) -> Prop:
    local = np.array([tuple(c) for c in obj.bound_box])
    lo, hi = local.min(axis=0), local.max(axis=0)
    scale = np.abs(np.array(obj.matrix_world.to_scale()))
    base = obj.matrix_world @ mathutils.Vector(((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]))
    return Prop(id=obj.name, kind=str(obj["kind"]), position=(base.x, base.y, base.z),
                rotation=math.degrees(obj.matrix_world.to_euler("XYZ").z) % 360.0,
                size=tuple(float(v) for v in np.maximum((hi - lo) * scale, 1e-3)),
                aliases=_aliases(obj.get("aliases")))


def load_user_set(*, blend_path: Path, set_id: str) -> tuple[bpy.types.Collection, SetSpec]:
    """Append a user's .blend as a set: its objects go into a new collection in the scene.

    Empties named ``MARK_<id>`` become marks: position from their location, facing from their
    rotation about Z, kind from a custom property ``kind`` (default "stand"), ``seat_height``,
    ``prop`` and ``aliases`` (a JSON list or comma-separated) from custom properties. Meshes with
    a custom property ``kind`` from the prop vocabulary become props. Size and walkable area come
    from the bounding box of the meshes (grown to hold every mark); the set counts as an interior
    when a custom property ``interior`` says so, or when a mesh is named like a ceiling or roof.

    Raises:
        SetError: the file is missing, is not a .blend, cannot be read, or has no MARK_* empties.
    """
    path = Path(blend_path)
    if not path.is_file():
        raise SetError("set .blend not found", path=path)
    with path.open("rb") as handle:
        head = handle.read(8)
    if not head.startswith(_BLEND_MAGIC):
        raise SetError("not a .blend file", path=path)
    try:
        with bpy.data.libraries.load(str(path), link=False) as (data_from, data_to):
            names = list(data_from.objects)
            if not any(n.startswith(MARK_PREFIX) for n in names):
                data_to.objects = []
            else:
                data_to.objects = list(names)
    except (OSError, RuntimeError) as exc:
        raise SetError(f"cannot read the .blend: {exc}", path=path) from None
    if not any(n.startswith(MARK_PREFIX) for n in names):
        raise SetError("no MARK_* empties in the .blend (name empties MARK_<id> to make marks)", path=path)
    collection = bpy.data.collections.new(f"FC_UserSet_{set_id}")
    bpy.context.scene.collection.children.link(collection)
    collection["filmcrew_set"] = set_id
    collection["filmcrew_kind"] = "user"
    # appended objects may be renamed (".001") when the scene has the names already: keep the file's
    objects = [(name, obj) for name, obj in zip(names, data_to.objects) if obj is not None]
    for _, obj in objects:
        collection.objects.link(obj)
    bpy.context.view_layer.update()
    try:
        empties = sorted(((n, o) for n, o in objects if o.type == "EMPTY" and n.startswith(MARK_PREFIX)),
                         key=lambda item: item[0])
        if not empties:
            raise SetError("no MARK_* empties in the .blend (only other kinds of object have the name)",
                           path=path)
        marks = [_user_mark(o, n, path) for n, o in empties]
    except SetError:
        for _, obj in objects:  # leave the scene as it was
            bpy.data.objects.remove(obj)
        bpy.data.collections.remove(collection)
        raise
    objects = [o for _, o in objects]
    meshes = [o for o in objects if o.type == "MESH"]
    props = [_user_prop(o) for o in meshes if str(o.get("kind", "")) in PROP_KINDS]
    bounds = _world_bounds(meshes)
    points = np.array([m.position for m in marks])
    if bounds is None:
        lo2, hi2 = points.min(axis=0) - 1.0, points.max(axis=0) + 1.0
        size = (float(hi2[0] - lo2[0]), float(hi2[1] - lo2[1]), 3.0)
    else:
        lo, hi = bounds
        lo2 = np.minimum(lo[:2], points.min(axis=0))
        hi2 = np.maximum(hi[:2], points.max(axis=0))
        size = tuple(float(max(v, 0.1)) for v in (hi2[0] - lo2[0], hi2[1] - lo2[1], hi[2] - lo[2]))
    flag = next((o["interior"] for o in objects if "interior" in o.keys()), None)
    interior = bool(flag) if flag is not None else any(
        "ceiling" in o.name.lower() or "roof" in o.name.lower() for o in meshes)
    try:
        spec = SetSpec(id=set_id, kind="user", interior=interior, source_blend=str(path), size=size,
                       props=props, marks=marks,
                       walkable=((float(lo2[0]), float(lo2[1])), (float(hi2[0]), float(hi2[1]))))
    except ValueError as exc:
        raise SetError(f"cannot make a set from it: {exc}", path=path) from None
    return collection, spec
