"""Set recipes (data), their pure-Python helpers, and building them in Blender."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from filmcrew.errors import SetError
from filmcrew.plan.model import Prop, SetSpec
from filmcrew.staging import sets as staging_sets
from filmcrew.staging.sets import (
    PROP_KINDS,
    across_from,
    choose_recipe,
    distance_to_footprint,
    entrance_mark,
    find_mark,
    footprint,
    load_recipe,
    prop_footprints,
    prop_front_facing,
    recipe_kinds,
    set_problems,
)

REQUIRED_KINDS = ["cafe", "kitchen", "living_room", "bedroom", "office", "meeting_room", "hallway",
                  "rooftop", "park", "street", "room"]
SEAT_KINDS = {"chair", "folding_chair", "office_chair", "sofa", "armchair", "bench", "stool"}


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.fixture(scope="module")
def recipes() -> dict[str, SetSpec]:
    return {kind: load_recipe(kind, set_id=f"{kind}_1") for kind in recipe_kinds()}


# --- recipes as data -----------------------------------------------------------------------------

def test_every_required_kind_has_a_recipe():
    assert set(REQUIRED_KINDS) <= set(recipe_kinds())


@pytest.mark.parametrize("kind", REQUIRED_KINDS)
def test_recipe_loads_and_follows_the_set_rules(kind):
    spec = load_recipe(kind, set_id="s1")
    assert spec.id == "s1" and spec.kind == kind
    assert set_problems(spec) == []
    assert spec.marks and spec.props and spec.lights and spec.walkable
    assert all(p.kind in PROP_KINDS for p in spec.props)
    ids = [m.id for m in spec.marks]
    assert "centre" in ids
    assert entrance_mark(spec).id in ("door", "entrance")
    light_kinds = {light.kind for light in spec.lights}
    if spec.interior:
        assert spec.doors and spec.windows
        assert "door" in ids
        assert "area" in light_kinds
        for light in spec.lights:
            if light.kind == "area":
                assert spec.size[2] - 0.5 < light.position[2] < spec.size[2], "area lights hang near the ceiling"
    else:
        assert not spec.doors and not spec.windows
        assert "sun" in light_kinds


@pytest.mark.parametrize("kind", REQUIRED_KINDS)
def test_marks_are_inside_the_walkable_area_and_off_the_furniture(kind, recipes):
    spec = recipes[kind]
    (x0, y0), (x1, y1) = spec.walkable
    width, depth, _ = spec.size
    assert -width / 2 <= x0 < x1 <= width / 2 and -depth / 2 <= y0 < y1 <= depth / 2
    props = {p.id: p for p in spec.props}
    footprints = prop_footprints(spec)
    for mark in spec.marks:
        assert x0 <= mark.position[0] <= x1 and y0 <= mark.position[1] <= y1, mark.id
        if mark.kind == "sit":
            seat = props[mark.prop]
            assert distance_to_footprint(footprint(seat), mark.position) <= 0.0, f"{mark.id} is on its seat"
            assert 0.3 <= mark.seat_height <= 1.0
            if seat.kind in SEAT_KINDS - {"stool"}:
                assert _angle_diff(mark.facing, prop_front_facing(seat)) < 1.0, \
                    f"{mark.id} faces the way {seat.id} faces"
        else:
            for prop_id, corners in footprints:
                assert distance_to_footprint(corners, mark.position) > 0.05, f"{mark.id} in {prop_id}"


def _overlap(a: np.ndarray, b: np.ndarray, tolerance: float = 0.005) -> bool:
    """Whether two convex footprints overlap by more than ``tolerance`` (separating axes)."""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        for nx, ny in np.stack([edges[:, 1], -edges[:, 0]], axis=1):
            axis = np.array([nx, ny]) / math.hypot(nx, ny)
            pa, pb = a @ axis, b @ axis
            if pa.max() <= pb.min() + tolerance or pb.max() <= pa.min() + tolerance:
                return False
    return True


@pytest.mark.parametrize("kind", REQUIRED_KINDS)
def test_furniture_does_not_intersect(kind, recipes):
    spec = recipes[kind]
    solid = [p for p in spec.props if p.position[2] + p.size[2] > 0.05]
    for i, a in enumerate(solid):
        for b in solid[i + 1:]:
            a0, a1 = a.position[2], a.position[2] + a.size[2]
            b0, b1 = b.position[2], b.position[2] + b.size[2]
            if a0 < b1 - 0.01 and b0 < a1 - 0.01:
                assert not _overlap(footprint(a), footprint(b)), f"{a.id} intersects {b.id}"
    for prop in spec.props:  # nothing floats: it stands on the floor or on another prop
        z = prop.position[2]
        if z > 0.01 and prop.kind not in ("picture", "pendant_lamp", "whiteboard", "tv", "cabinet"):
            below = [p for p in solid if p is not prop and abs(p.position[2] + p.size[2] - z) < 0.01
                     and _overlap(footprint(p), footprint(prop))]
            assert below, f"{prop.id} floats at z={z}"


@pytest.mark.parametrize("kind", REQUIRED_KINDS)
def test_seats_at_one_table_face_each_other(kind, recipes):
    spec = recipes[kind]
    pairs = 0
    for mark in spec.marks:
        other = across_from(spec, mark.id)
        if other is None:
            continue
        pairs += 1
        assert _angle_diff(mark.facing, other.facing) == pytest.approx(180.0, abs=1.0)
        towards = math.degrees(math.atan2(other.position[1] - mark.position[1],
                                          other.position[0] - mark.position[0]))
        assert _angle_diff(mark.facing, towards) < 5.0, f"{mark.id} looks at {other.id}"
    if kind in ("cafe", "kitchen", "office", "meeting_room", "room", "living_room"):
        assert pairs >= 2


def test_recipes_fit_the_sample_screenplays(recipes):
    cafe, hallway, rooftop = recipes["cafe"], recipes["hallway"], recipes["rooftop"]
    # a narrow cafe: two small tables by the window, a counter at the back
    assert cafe.size[0] < cafe.size[1]
    tables = [p for p in cafe.props if p.kind == "table"]
    assert len(tables) == 2 and all(max(t.size[:2]) <= 0.9 for t in tables)
    counter = next(p for p in cafe.props if p.id == "counter")
    assert counter.position[1] > cafe.size[1] / 4
    assert {"table_1_seat_a", "table_1_seat_b", "counter", "door"} <= {m.id for m in cafe.marks}
    # a long hallway with glass doors on one side
    assert hallway.size[0] == pytest.approx(2.5) and hallway.size[1] >= 14.0
    glass = [d for d in hallway.doors if "glass" in d.id]
    assert len(glass) >= 2 and {d.wall for d in glass} == {"east"}
    assert {f"hall_{i}" for i in range(1, 5)} <= {m.id for m in hallway.marks}
    # a flat rooftop at night with a low parapet, a water tank, a folding chair, a stairwell door
    kinds = {p.kind for p in rooftop.props}
    assert {"parapet", "water_tank", "folding_chair", "stairwell"} <= kinds
    assert all(p.size[2] <= 1.0 for p in rooftop.props if p.kind == "parapet")
    assert not rooftop.interior and max(int(rooftop.sky_color[i:i + 2], 16) for i in (1, 3, 5)) < 80, "night"
    sun = next(light for light in rooftop.lights if light.kind == "sun")
    assert sun.energy < 2.0 and int(sun.color[5:7], 16) > int(sun.color[1:3], 16), "a blue moon"
    assert any(light.kind == "point" and int(light.color[1:3], 16) > int(light.color[5:7], 16)
               for light in rooftop.lights), "a warm practical"
    assert {"door", "parapet", "parapet_seat", "folding_chair", "beside_folding_chair"} <= \
        {m.id for m in rooftop.marks}


# --- choosing a recipe ---------------------------------------------------------------------------

@pytest.mark.parametrize("location, kind", [
    ("CORNER CAFE", "cafe"),
    ("OFFICE HALLWAY", "hallway"),
    ("APARTMENT ROOFTOP", "rooftop"),
    ("KITCHEN", "kitchen"),
    ("MAYA'S APARTMENT - KITCHEN", "kitchen"),
    ("LIVING ROOM", "living_room"),
    ("BEDROOM", "bedroom"),
    ("CONFERENCE ROOM", "meeting_room"),
    ("MEETING ROOM", "meeting_room"),
    ("CITY PARK", "park"),
    ("MAIN STREET", "street"),
    ("Joe's Diner", "cafe"),
    ("HOSPITAL CORRIDORS", "hallway"),
    ("BACK ROOM", "room"),
    ("SPACESHIP BRIDGE", "room"),
    ("", "room"),
])
def test_choose_recipe(location, kind):
    assert choose_recipe(location) == kind


# --- finding marks -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, phrase, mark_id", [
    ("cafe", "the window table", "table_1_seat_a"),
    ("cafe", "table by the window", "table_1_seat_a"),
    ("cafe", "the counter", "counter"),
    ("cafe", "the bar", "counter"),
    ("cafe", "DOOR", "door"),
    ("cafe", "the coffee machine", "behind_counter"),  # a prop with no mark of its own
    ("rooftop", "the parapet", "parapet"),
    ("rooftop", "the edge", "parapet"),
    ("rooftop", "the skyline", "parapet"),
    ("rooftop", "the folding chair", "folding_chair"),
    ("rooftop", "the stairwell door", "door"),
    ("rooftop", "beside the chair", "beside_folding_chair"),
    ("rooftop", "water_tank", "water_tank"),
    ("hallway", "down the hallway", "hall_6"),
    ("hallway", "hall_2", "hall_2"),
    ("office", "the whiteboard", "whiteboard"),
    ("kitchen", "stove", "stove"),
    ("kitchen", "her table", "table_seat_a"),
])
def test_find_mark(kind, phrase, mark_id, recipes):
    mark = find_mark(recipes[kind], phrase)
    assert mark is not None and mark.id == mark_id


def test_find_mark_by_kind_and_nothing(recipes):
    rooftop = recipes["rooftop"]
    assert find_mark(rooftop, "the parapet", kind="sit").id == "parapet_seat"
    assert find_mark(rooftop, "chair", kind="sit").id == "folding_chair"
    assert find_mark(rooftop, "the submarine") is None
    assert find_mark(rooftop, "") is None
    assert across_from(recipes["cafe"], "table_1_seat_a").id == "table_1_seat_b"
    assert across_from(recipes["cafe"], "table_1_seat_b").id == "table_1_seat_a"
    assert across_from(recipes["cafe"], "counter") is None


def test_prop_footprints_turn_with_the_prop_and_skip_flat_props():
    spec = SetSpec(id="s", kind="room", props=[
        Prop(id="sofa", kind="sofa", position=(1.0, 2.0, 0.0), size=(2.0, 1.0, 0.8), rotation=90.0),
        Prop(id="rug", kind="rug", position=(0.0, 0.0, 0.0), size=(2.0, 2.0, 0.01)),
    ])
    found = dict(prop_footprints(spec))
    assert list(found) == ["sofa"]
    corners = found["sofa"]
    assert corners.shape == (4, 2)
    np.testing.assert_allclose(corners.min(axis=0), [0.5, 1.0], atol=1e-9)
    np.testing.assert_allclose(corners.max(axis=0), [1.5, 3.0], atol=1e-9)
    assert distance_to_footprint(corners, (1.0, 2.0)) < 0 < distance_to_footprint(corners, (2.0, 2.0))


# --- errors --------------------------------------------------------------------------------------

def test_unknown_kind_names_the_known_ones():
    with pytest.raises(SetError) as err:
        load_recipe("spaceship", set_id="s")
    message = str(err.value)
    assert "unknown set kind 'spaceship'" in message and "cafe" in message and "rooftop" in message


@pytest.mark.parametrize("content, expected", [
    ("{not json", "invalid JSON"),
    ('["a list"]', "JSON object"),
    ('{"keywords": [], "set": {}}', "keywords"),
    ('{"keywords": ["x"], "set": {"doors": [{"id": "d", "wall": "up"}]}}', "set.doors[0].wall"),
    ('{"keywords": ["x"], "set": {"walkable": [[-1, -1], [1, 1]], "doors": [{"id": "d", "wall": "south"}],'
     ' "marks": [{"id": "far", "position": [9, 9]}]}}', "outside the walkable area"),
    ('{"keywords": ["x"], "set": {"walkable": [[-1, -1], [1, 1]], "doors": [{"id": "d", "wall": "south"}],'
     ' "props": [{"id": "p", "kind": "spaceship", "position": [0, 0, 0], "size": [1, 1, 1]}]}}',
     "unknown prop kind 'spaceship'"),
])
def test_bad_recipes_name_the_file_and_field(tmp_path, monkeypatch, content, expected):
    monkeypatch.setattr(staging_sets, "RECIPE_DIR", tmp_path)
    (tmp_path / "broken.json").write_text(content)
    with pytest.raises(SetError) as err:
        load_recipe("broken", set_id="s")
    assert expected in str(err.value)
    assert "broken.json" in str(err.value)


# --- Blender -------------------------------------------------------------------------------------

bpy = pytest.importorskip("bpy")
import mathutils  # noqa: E402  (ships with bpy)
from filmcrew.scene.sets import PROP_BUILDERS, build_set, load_user_set  # noqa: E402


def test_every_prop_kind_has_a_builder():
    assert set(PROP_BUILDERS) == set(PROP_KINDS)


def _ray(origin, direction, distance=3.0):
    depsgraph = bpy.context.evaluated_depsgraph_get()
    hit, location, _, _, obj, _ = bpy.context.scene.ray_cast(depsgraph, origin, direction, distance=distance)
    return obj.name if hit else None


def _signed_volume(mesh) -> float:
    """Positive when the faces of closed parts point outwards (normals feed the normal pass)."""
    verts = np.array([v.co[:] for v in mesh.vertices])
    total = 0.0
    for poly in mesh.polygons:
        idx = list(poly.vertices)
        a = verts[idx[0]]
        for k in range(1, len(idx) - 1):
            total += float(np.dot(a, np.cross(verts[idx[k]], verts[idx[k + 1]]))) / 6.0
    return total


_NORMALS = {"north": (0.0, 1.0), "south": (0.0, -1.0), "east": (1.0, 0.0), "west": (-1.0, 0.0)}


def _on_wall(spec, wall, offset, into_room):
    """A point in front of a wall at ``offset`` along it, ``into_room`` metres inside."""
    nx, ny = _NORMALS[wall]
    inner = spec.size[1] / 2 if wall in ("north", "south") else spec.size[0] / 2
    along = (1.0, 0.0) if wall in ("north", "south") else (0.0, 1.0)
    return (along[0] * offset + nx * (inner - into_room), along[1] * offset + ny * (inner - into_room))


@pytest.mark.parametrize("kind", REQUIRED_KINDS)
def test_build_set_builds_every_recipe(kind):
    spec = load_recipe(kind, set_id=f"{kind}_1")
    start = time.perf_counter()
    collection = build_set(set_spec=spec, collection_name=f"Set_{kind}")
    elapsed = time.perf_counter() - start
    assert elapsed < 0.3, f"{kind} took {elapsed:.2f} s"
    names = {o.name for o in collection.objects}
    assert collection.name in bpy.context.scene.collection.children
    assert {p.id for p in spec.props} <= names
    marks = [o for o in collection.objects if o.name.startswith("MARK_")]
    assert len(marks) == len(spec.marks)
    for mark in spec.marks:
        empty = bpy.data.objects[f"MARK_{mark.id}"]
        assert empty.type == "EMPTY" and empty.empty_display_type == "PLAIN_AXES"
        assert tuple(empty.location[:2]) == pytest.approx(mark.position, abs=1e-5)
        assert math.degrees(empty.rotation_euler.z) == pytest.approx(mark.facing, abs=1e-4)
        assert empty["kind"] == mark.kind
    for prop in spec.props:
        obj = bpy.data.objects[prop.id]
        assert obj.type == "MESH" and len(obj.data.polygons) > 0
        assert _signed_volume(obj.data) > 0, f"{prop.id} has faces pointing inwards"
        assert obj["kind"] == prop.kind
        assert all(slot.material is not None for slot in obj.material_slots)
    assert len([o for o in collection.objects if o.type == "LIGHT"]) == len(spec.lights)
    world = bpy.context.scene.world
    background = next(n for n in world.node_tree.nodes if n.type == "BACKGROUND")
    assert background.inputs["Strength"].default_value > 0
    assert "Floor" in names
    if spec.interior:
        assert {"Ceiling", "Wall_north", "Wall_south", "Wall_east", "Wall_west"} <= names
        assert len([n for n in names if n.startswith("Window_")]) == len(spec.windows)
        assert len([n for n in names if n.startswith("Door_")]) == len(spec.doors)
    else:
        assert "Ceiling" not in names and not any(n.startswith("Wall_") for n in names)


@pytest.mark.parametrize("kind", ["cafe", "hallway", "kitchen", "office"])
def test_walls_have_real_openings(kind):
    spec = load_recipe(kind, set_id="s")
    build_set(set_spec=spec)
    for door in spec.doors:
        nx, ny = _NORMALS[door.wall]
        x, y = _on_wall(spec, door.wall, door.offset, 0.5)
        through = _ray((x, y, 1.0), (nx, ny, 0.0))
        assert through is None or not through.startswith("Wall_"), f"door {door.id} is walled up"
        x, y = _on_wall(spec, door.wall, door.offset + door.width / 2 + 0.1, 0.5)
        beside = _ray((x, y, 1.0), (nx, ny, 0.0))
        assert beside == f"Wall_{door.wall}", f"no wall beside door {door.id}"
        leaf = bpy.data.objects[f"Door_{door.id}"]
        corners = np.array([leaf.matrix_world @ mathutils.Vector(c) for c in leaf.bound_box])
        inner = spec.size[1] / 2 if door.wall in ("north", "south") else spec.size[0] / 2
        outward = corners[:, :2] @ np.array([nx, ny])
        assert outward.min() > inner - 0.01, f"the leaf of {door.id} swings out of the room"
    for window in spec.windows:
        nx, ny = _NORMALS[window.wall]
        x, y = _on_wall(spec, window.wall, window.offset + window.width / 4, 0.05)  # off the mullion
        hit = _ray((x, y, window.sill + window.height / 2), (nx, ny, 0.0))
        assert hit is not None and hit.startswith(f"Window_{window.wall}"), f"window glass, got {hit}"


@pytest.mark.parametrize("kind", REQUIRED_KINDS)
def test_marks_stand_on_the_floor_and_seats_hold_their_sitters(kind):
    spec = load_recipe(kind, set_id="s")
    build_set(set_spec=spec)
    walked_on = {"Floor"} | {p.id for p in spec.props if p.position[2] + p.size[2] <= 0.05}
    for mark in spec.marks:
        x, y = mark.position
        down = _ray((x, y, 2.0 if mark.kind == "stand" else mark.seat_height + 0.2), (0, 0, -1))
        if mark.kind == "stand":
            assert down in walked_on, f"{mark.id} stands on {down}"
        else:
            assert down == mark.prop, f"{mark.id} sits on {down}"


def _save_blend(path: Path) -> None:
    bpy.ops.wm.save_as_mainfile(filepath=str(path), check_existing=False)


def test_load_user_set_round_trip(tmp_path):
    mesh = bpy.data.meshes.new("floor")
    mesh.from_pydata([(-3, -2, 0), (3, -2, 0), (3, 2, 0), (-3, 2, 0), (-3, -2, 2.5)], [], [(0, 1, 2, 3)])
    floor = bpy.data.objects.new("Floor", mesh)
    bpy.context.scene.collection.objects.link(floor)
    sofa = bpy.data.objects.new("my_sofa", bpy.data.meshes.new("sofa"))
    sofa.data.from_pydata([(-1, -0.4, 0), (1, -0.4, 0), (1, 0.4, 0), (-1, 0.4, 0.8)], [], [(0, 1, 2, 3)])
    sofa.location = (0.5, 1.0, 0.0)
    sofa["kind"] = "sofa"
    bpy.context.scene.collection.objects.link(sofa)
    seat = bpy.data.objects.new("MARK_sofa_seat", None)
    seat.location = (0.5, 0.9, 0.45)
    seat.rotation_euler = (0.0, 0.0, math.radians(270.0))
    seat["kind"] = "sit"
    seat["seat_height"] = 0.45
    seat["prop"] = "my_sofa"
    seat["aliases"] = "sofa, couch"
    door = bpy.data.objects.new("MARK_door", None)
    door.location = (-2.0, -1.5, 0.0)
    door.rotation_euler = (0.0, 0.0, math.radians(90.0))
    for obj in (seat, door):
        bpy.context.scene.collection.objects.link(obj)
    blend = tmp_path / "my_set.blend"
    _save_blend(blend)
    bpy.ops.wm.read_factory_settings(use_empty=True)

    collection, spec = load_user_set(blend_path=blend, set_id="flat")
    assert spec.id == "flat" and spec.source_blend == str(blend) and spec.kind == "user"
    assert {o.name for o in collection.objects} >= {"Floor", "my_sofa", "MARK_sofa_seat", "MARK_door"}
    marks = {m.id: m for m in spec.marks}
    assert set(marks) == {"sofa_seat", "door"}
    assert marks["sofa_seat"].kind == "sit" and marks["sofa_seat"].seat_height == pytest.approx(0.45)
    assert marks["sofa_seat"].facing == pytest.approx(270.0)
    assert marks["sofa_seat"].prop == "my_sofa" and marks["sofa_seat"].aliases == ["sofa", "couch"]
    assert marks["door"].kind == "stand" and marks["door"].position == pytest.approx((-2.0, -1.5))
    assert marks["door"].facing == pytest.approx(90.0)
    assert spec.size == pytest.approx((6.0, 4.0, 2.5))
    assert spec.walkable == (pytest.approx((-3.0, -2.0)), pytest.approx((3.0, 2.0)))
    (sofa_prop,) = spec.props
    assert sofa_prop.id == "my_sofa" and sofa_prop.kind == "sofa"
    assert sofa_prop.position == pytest.approx((0.5, 1.0, 0.0)) and sofa_prop.size == pytest.approx((2.0, 0.8, 0.8))


def test_a_built_recipe_reloads_as_a_user_set(tmp_path):
    recipe = load_recipe("rooftop", set_id="roof")
    build_set(set_spec=recipe)
    blend = tmp_path / "roof.blend"
    _save_blend(blend)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _, spec = load_user_set(blend_path=blend, set_id="roof")
    assert {m.id for m in spec.marks} == {m.id for m in recipe.marks}
    for mark in recipe.marks:
        loaded = spec.mark(mark.id)
        assert loaded.position == pytest.approx(mark.position, abs=1e-5)
        assert _angle_diff(loaded.facing, mark.facing) < 1e-3
        assert loaded.kind == mark.kind and loaded.seat_height == mark.seat_height
        assert loaded.prop == mark.prop and loaded.aliases == mark.aliases
    assert {p.id for p in spec.props} == {p.id for p in recipe.props}
    assert not spec.interior


def test_load_user_set_errors(tmp_path):
    with pytest.raises(SetError, match="not found") as err:
        load_user_set(blend_path=tmp_path / "missing.blend", set_id="s")
    assert "missing.blend" in str(err.value)
    text = tmp_path / "notes.blend"
    text.write_text("not a blend file")
    with pytest.raises(SetError, match="not a .blend") as err:
        load_user_set(blend_path=text, set_id="s")
    assert "notes.blend" in str(err.value)
    cube = bpy.data.objects.new("Cube", bpy.data.meshes.new("cube"))
    bpy.context.scene.collection.objects.link(cube)
    plain = tmp_path / "plain.blend"
    _save_blend(plain)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    with pytest.raises(SetError, match="no MARK_") as err:
        load_user_set(blend_path=plain, set_id="s")
    assert "plain.blend" in str(err.value)
    assert "Cube" not in bpy.data.objects, "a failed load leaves the scene alone"
