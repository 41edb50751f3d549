"""Walking paths: the walkable floor of a set, shortest paths around furniture and through
doors, smoothing, and timing along a path (pure numpy, no bpy).

The floor is a grid of ``CELL`` metres. A cell is free when it lies on the set's floor (inside
the room, or in the corridor outside one of its doors) and its centre keeps a body radius from
every obstacle: the footprints of props people cannot walk over, the walls (doorways are gaps in
them) and the people standing in the way. A* (8-connected, octile heuristic) finds the shortest
path, with an extra cost close to obstacles so that nobody brushes past furniture; the path is
then shortened by line of sight (string pulling), its corners rounded, and it is walked with an
ease-in, ease-out speed profile.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from ..errors import StageError
from ..plan.model import Mark, SetSpec
from .sets import WALL_THICKNESS, footprint, prop_footprints

CELL = 0.1
BODY_RADIUS = 0.25
"""Half the shoulder width, metres: how far a walker's centre keeps from obstacles."""
TIGHT_RADIUS = 0.18
"""A walker turns sideways through a gap the body radius cannot pass."""
COMFORT = 0.55
"""Clearance past which an obstacle no longer adds cost."""
DOOR_REACH = 1.6
"""How far beyond a door the floor reaches (where people enter from and exit to)."""
OVERHEAD = 1.2
"""Props whose underside is higher than this (pendant lamps, pictures, shelves) do not block."""
SNAP = 1.0
"""How far a mark may lie from the free floor (a seat inside its chair, a mark by a counter)."""
ACCELERATION_TIME = 0.5


class PathError(StageError):
    """A move cannot be walked: its mark is inside a wall or a prop, or cannot be reached."""


@dataclass(frozen=True)
class Obstacles:
    """Everything a walker keeps clear of: convex footprints, wall pieces and people (discs)."""

    polygons: tuple[tuple[str, np.ndarray], ...] = ()
    segments: tuple[tuple[str, np.ndarray], ...] = ()
    discs: tuple[tuple[str, np.ndarray, float], ...] = ()

    def with_people(self, people: list[tuple[str, tuple[float, float]]], radius: float) -> "Obstacles":
        discs = tuple((label, np.asarray(point, dtype=float), radius) for label, point in people)
        return Obstacles(self.polygons, self.segments, self.discs + discs)

    def clearance(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance from each point to the nearest obstacle (negative inside a footprint), and
        the index of that obstacle in ``labels``."""
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        columns = [_polygon_distance(points, corners) for _, corners in self.polygons]
        columns += [_segment_distance(points, seg[0], seg[1]) for _, seg in self.segments]
        columns += [np.linalg.norm(points - centre, axis=1) - radius for _, centre, radius in self.discs]
        if not columns:
            return np.full(len(points), np.inf), np.full(len(points), -1)
        table = np.stack(columns, axis=1)
        nearest = table.argmin(axis=1)
        return table[np.arange(len(points)), nearest], nearest

    @property
    def labels(self) -> list[str]:
        return [p[0] for p in self.polygons] + [s[0] for s in self.segments] + [d[0] for d in self.discs]


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def _polygon_distance(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Signed distance to a convex counter-clockwise polygon (negative inside)."""
    edges = np.roll(corners, -1, axis=0) - corners
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    signed = ((points[:, None, :] - corners[None]) * normals[None]).sum(axis=2).max(axis=1)
    outside = np.min([_segment_distance(points, corners[i], corners[(i + 1) % len(corners)])
                      for i in range(len(corners))], axis=0)
    return np.where(signed <= 0.0, signed, outside)


# --------------------------------------------------------------------------- the floor

def blocking_props(set_spec: SetSpec) -> list[tuple[str, np.ndarray]]:
    """(prop id, footprint) of the props a walker goes around."""
    low = {p.id for p in set_spec.props if p.position[2] < OVERHEAD}
    return [(pid, corners) for pid, corners in prop_footprints(set_spec) if pid in low]


def _wall_pieces(set_spec: SetSpec) -> list[tuple[str, np.ndarray]]:
    """The inner faces of the walls, split at the doors, plus the jambs reaching outside."""
    half_w, half_d = set_spec.size[0] / 2.0, set_spec.size[1] / 2.0
    # Each wall: start, end, outward normal; a door's offset runs from the wall's midpoint along +X/+Y.
    walls = {"south": ((-half_w, -half_d), (half_w, -half_d), (0.0, -1.0)),
             "north": ((-half_w, half_d), (half_w, half_d), (0.0, 1.0)),
             "west": ((-half_w, -half_d), (-half_w, half_d), (-1.0, 0.0)),
             "east": ((half_w, -half_d), (half_w, half_d), (1.0, 0.0))}
    pieces: list[tuple[str, np.ndarray]] = []
    for name, (a, b, normal) in walls.items():
        a, b, normal = np.array(a), np.array(b), np.array(normal)
        along = (b - a) / np.linalg.norm(b - a)
        mid = (a + b) / 2.0
        gaps = sorted((d.offset - d.width / 2.0, d.offset + d.width / 2.0) for d in set_spec.doors if d.wall == name)
        cursor = -np.linalg.norm(b - a) / 2.0
        for lo, hi in gaps:
            pieces.append((f"{name} wall", np.array([mid + along * cursor, mid + along * lo])))
            for edge in (lo, hi):  # the jambs, out through the wall and along the outside corridor
                start = mid + along * edge
                pieces.append((f"{name} door jamb", np.array([start, start + normal * DOOR_REACH])))
            cursor = hi
        pieces.append((f"{name} wall", np.array([mid + along * cursor, b])))
    return pieces


def _door_corridors(set_spec: SetSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """(min, max) corners of the floor outside each door."""
    half_w, half_d = set_spec.size[0] / 2.0, set_spec.size[1] / 2.0
    reach = DOOR_REACH + WALL_THICKNESS
    boxes = []
    for door in set_spec.doors:
        lo, hi = door.offset - door.width / 2.0, door.offset + door.width / 2.0
        if door.wall == "south":
            boxes.append((np.array([lo, -half_d - reach]), np.array([hi, -half_d])))
        elif door.wall == "north":
            boxes.append((np.array([lo, half_d]), np.array([hi, half_d + reach])))
        elif door.wall == "west":
            boxes.append((np.array([-half_w - reach, lo]), np.array([-half_w, hi])))
        else:
            boxes.append((np.array([half_w, lo]), np.array([half_w + reach, hi])))
    return boxes


def set_obstacles(set_spec: SetSpec, *, leave_out: set[str] = frozenset()) -> Obstacles:
    """The furniture and walls of a set that walkers keep clear of (props in ``leave_out``
    excepted); the walls only for interiors (an exterior's edge is the walkable area's)."""
    props = tuple(p for p in blocking_props(set_spec) if p[0] not in leave_out)
    return Obstacles(props, tuple(_wall_pieces(set_spec)) if set_spec.interior else ())


class Floor:
    """The walkable grid of one set, in the set's own coordinates."""

    def __init__(self, set_spec: SetSpec) -> None:
        self.set_spec = set_spec
        half_w, half_d = set_spec.size[0] / 2.0, set_spec.size[1] / 2.0
        if set_spec.interior:
            self.room = (np.array([-half_w, -half_d]), np.array([half_w, half_d]))
            self.corridors = _door_corridors(set_spec)
        else:
            area = set_spec.walkable or ((-half_w, -half_d), (half_w, half_d))
            self.room = (np.array(area[0], dtype=float), np.array(area[1], dtype=float))
            self.corridors = []
        self.obstacles = set_obstacles(set_spec)
        margin = DOOR_REACH + WALL_THICKNESS if self.corridors else 0.0
        self.origin = self.room[0] - margin
        extent = self.room[1] + margin - self.origin
        self.shape = (int(math.ceil(extent[0] / CELL)) + 1, int(math.ceil(extent[1] / CELL)) + 1)
        ii, jj = np.meshgrid(np.arange(self.shape[0]), np.arange(self.shape[1]), indexing="ij")
        self.centres = np.stack([ii, jj], axis=-1) * CELL + self.origin
        flat = self.centres.reshape(-1, 2)
        self.on_floor = self.contains(flat).reshape(self.shape)
        self.static_clearance = self.obstacles.clearance(flat)[0].reshape(self.shape)

    def contains(self, points: np.ndarray, doors: list[int] | None = None) -> np.ndarray:
        """Whether each point lies on the floor: in the room or outside one of its doors (only
        the doors listed in ``doors``, when given)."""
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        inside = np.all((points >= self.room[0] - 1e-6) & (points <= self.room[1] + 1e-6), axis=1)
        for index, (lo, hi) in enumerate(self.corridors):
            if doors is None or index in doors:
                inside |= np.all((points >= lo - 1e-6) & (points <= hi + 1e-6), axis=1)
        return inside

    def doors_used(self, *points: np.ndarray) -> list[int]:
        """The doors whose outside one of ``points`` lies in: a walk may use only those, so
        nobody goes out through one door and back in through another."""
        return [i for i, (lo, hi) in enumerate(self.corridors)
                if any(np.all((np.asarray(p) >= lo - 0.3) & (np.asarray(p) <= hi + 0.3)) for p in points)]

    def cell(self, point: np.ndarray) -> tuple[int, int]:
        i, j = np.round((np.asarray(point) - self.origin) / CELL).astype(int)
        return int(np.clip(i, 0, self.shape[0] - 1)), int(np.clip(j, 0, self.shape[1] - 1))

    def clearance(self, obstacles: Obstacles) -> np.ndarray:
        """Clearance of every cell against the walls and props and ``obstacles``' people."""
        if not obstacles.discs:
            return self.static_clearance
        people = Obstacles(discs=obstacles.discs).clearance(self.centres.reshape(-1, 2))[0]
        return np.minimum(self.static_clearance, people.reshape(self.shape))


# --------------------------------------------------------------------------- search

_STEPS = [(di, dj, math.hypot(di, dj)) for di in (-1, 0, 1) for dj in (-1, 0, 1) if di or dj]


def _astar(free: np.ndarray, cost: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> list | None:
    """Cells from ``start`` to ``goal`` over ``free`` cells, or None when they are not connected."""
    def heuristic(cell: tuple[int, int]) -> float:
        dx, dy = abs(cell[0] - goal[0]), abs(cell[1] - goal[1])
        return max(dx, dy) + (math.sqrt(2.0) - 1.0) * min(dx, dy)

    best = {start: 0.0}
    came: dict[tuple[int, int], tuple[int, int]] = {}
    queue = [(heuristic(start), 0.0, start)]
    while queue:
        _, g, cell = heapq.heappop(queue)
        if cell == goal:
            path = [cell]
            while cell in came:
                cell = came[cell]
                path.append(cell)
            return path[::-1]
        if g > best.get(cell, math.inf):
            continue
        for di, dj, length in _STEPS:
            nxt = (cell[0] + di, cell[1] + dj)
            if not (0 <= nxt[0] < free.shape[0] and 0 <= nxt[1] < free.shape[1]) or not free[nxt]:
                continue
            if di and dj and not (free[cell[0] + di, cell[1]] and free[cell[0], cell[1] + dj]):
                continue  # no cutting a corner diagonally
            score = g + length * cost[nxt]
            if score < best.get(nxt, math.inf):
                best[nxt], came[nxt] = score, cell
                heapq.heappush(queue, (score + heuristic(nxt), score, nxt))
    return None


@dataclass(frozen=True)
class Route:
    points: np.ndarray      # (K, 2) corners of the walked polyline, start to goal
    clearance: float        # smallest clearance along it (metres), endpoints' snaps excepted

    @property
    def length(self) -> float:
        return float(np.linalg.norm(np.diff(self.points, axis=0), axis=1).sum())


class Walker:
    """Plans routes on one set's floor, with the people in the way as extra obstacles."""

    def __init__(self, floor: Floor) -> None:
        self.floor = floor

    def standing_spot(self, mark: Mark) -> tuple[float, float] | None:
        """Where one stands to sit down at a seat mark: in front of it, else beside it, else behind
        it (a chair tucked under a table, a parapet facing the drop), on free floor."""
        for turn in (0.0, 90.0, -90.0, 180.0):
            spot = seat_approach(self.floor.set_spec, mark, turn)
            if spot is None:
                return None
            point = np.array(spot)
            if self.floor.contains(point)[0] and self.floor.obstacles.clearance(point)[0][0] >= TIGHT_RADIUS:
                return spot
        return None

    def route(self, *, start: tuple[float, float], goal: tuple[float, float], where: str,
              goal_name: str, people: list[tuple[str, tuple[float, float]]] = (),
              ) -> Route:
        """The route from ``start`` to ``goal`` around furniture, walls and ``people``.

        Args:
            start, goal: positions in the set's coordinates (metres).
            where: the beat, for errors (``scenes[0].beats[3]``).
            goal_name: the mark's id, for errors.
            people: (name, position) of the others standing on the set during the move.

        Raises:
            PathError: the goal is off the floor (inside a wall, outside the set), buried in a
                prop, or cannot be reached.
        """
        floor = self.floor
        start_a, goal_a = np.asarray(start, dtype=float), np.asarray(goal, dtype=float)
        if not floor.contains(goal_a)[0]:
            raise PathError(f"mark '{goal_name}' at ({goal[0]:.2f}, {goal[1]:.2f}) is inside a wall or "
                            f"outside the set '{floor.set_spec.id}'", field=where)
        obstacles = floor.obstacles.with_people(list(people), BODY_RADIUS)
        clearance = floor.clearance(obstacles)
        doors = floor.doors_used(start_a, goal_a)
        on_floor = floor.contains(floor.centres.reshape(-1, 2), doors).reshape(floor.shape)
        for radius in (BODY_RADIUS, TIGHT_RADIUS):
            free = on_floor & (clearance >= radius)
            route = self._search(free, clearance, obstacles, radius, start_a, goal_a, doors)
            if route is not None:
                return route
        raise PathError(self._why_not(obstacles, clearance, start_a, goal_a, goal_name), field=where)

    def _search(self, free: np.ndarray, clearance: np.ndarray, obstacles: Obstacles, radius: float,
                start: np.ndarray, goal: np.ndarray, doors: list[int]) -> Route | None:
        floor = self.floor
        entry = self._snap(free, start)
        exit_cell = self._snap(free, goal)
        if entry is None or exit_cell is None:
            return None
        if np.linalg.norm(floor.centres[exit_cell] - goal) > SNAP:
            return None
        cost = 1.0 + 2.0 * np.clip((COMFORT - clearance) / COMFORT, 0.0, 1.0)
        cells = _astar(free, cost, entry, exit_cell)
        if cells is None:
            return None
        clear = lambda a, b: self._clear(obstacles, radius, doors, a, b)  # noqa: E731
        inner = np.array([floor.centres[c] for c in cells])
        if free[floor.cell(start)]:
            inner[0] = start
        if free[floor.cell(goal)]:
            inner[-1] = goal
        inner = _round_corners(_string_pull(inner, clear), clear)
        points = _dedupe(np.vstack([start[None], inner, goal[None]]))
        return Route(points=points, clearance=_route_clearance(inner, obstacles))

    def _snap(self, free: np.ndarray, point: np.ndarray) -> tuple[int, int] | None:
        """The free cell nearest ``point`` (itself when free), within ``SNAP`` metres."""
        cell = self.floor.cell(point)
        if free[cell]:
            return cell
        reach = int(math.ceil(SNAP / CELL)) + 1
        i0, j0 = max(cell[0] - reach, 0), max(cell[1] - reach, 0)
        window = free[i0:cell[0] + reach + 1, j0:cell[1] + reach + 1]
        if not window.any():
            return None
        centres = self.floor.centres[i0:cell[0] + reach + 1, j0:cell[1] + reach + 1]
        distance = np.where(window, np.linalg.norm(centres - point, axis=-1), np.inf)
        k = np.unravel_index(np.argmin(distance), distance.shape)
        return (int(k[0] + i0), int(k[1] + j0)) if np.isfinite(distance[k]) else None

    def _clear(self, obstacles: Obstacles, radius: float, doors: list[int], a: np.ndarray, b: np.ndarray) -> bool:
        """Whether the straight walk from ``a`` to ``b`` stays on the floor, ``radius`` clear."""
        samples = resample(np.array([a, b]), CELL / 4.0)
        return bool(self.floor.contains(samples, doors).all()
                    and obstacles.clearance(samples)[0].min() >= radius - 1e-9)

    def _why_not(self, obstacles: Obstacles, clearance: np.ndarray, start: np.ndarray, goal: np.ndarray,
                 goal_name: str) -> str:
        distance, nearest = obstacles.clearance(goal[None])
        if distance[0] < TIGHT_RADIUS:
            label = obstacles.labels[int(nearest[0])]
            return (f"mark '{goal_name}' at ({goal[0]:.2f}, {goal[1]:.2f}) is buried in {label}: "
                    f"no free floor within {SNAP:.1f} m")
        return (f"no walkable path from ({start[0]:.2f}, {start[1]:.2f}) to mark '{goal_name}' at "
                f"({goal[0]:.2f}, {goal[1]:.2f}) on set '{self.floor.set_spec.id}': furniture, walls "
                f"or people close every way")


def _string_pull(points: np.ndarray, clear) -> np.ndarray:
    """Drop every corner a straight line of free floor can skip."""
    kept, i = [points[0]], 0
    while i < len(points) - 1:
        j = len(points) - 1
        while j > i + 1 and not clear(points[i], points[j]):
            j -= 1
        kept.append(points[j])
        i = j
    return np.array(kept)


def _round_corners(points: np.ndarray, clear, passes: int = 2) -> np.ndarray:
    """Chaikin corner cutting with the ends kept, applied only where it stays on free floor."""
    for _ in range(passes):
        if len(points) < 3:
            break
        cuts = [points[0]]
        for a, b in zip(points[:-1], points[1:]):
            cuts.extend([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b])
        candidate = np.array([points[0], *cuts[2:-1], points[-1]])
        if not all(clear(a, b) for a, b in zip(candidate[:-1], candidate[1:])):
            break
        points = candidate
    return points


def _route_clearance(points: np.ndarray, obstacles: Obstacles) -> float:
    """The smallest exact clearance along a polyline."""
    if len(points) < 2:
        return float(obstacles.clearance(points)[0].min()) if len(points) else float("inf")
    return float(obstacles.clearance(resample(points, CELL / 4.0))[0].min())


def _dedupe(points: np.ndarray) -> np.ndarray:
    keep = np.concatenate([[True], np.linalg.norm(np.diff(points, axis=0), axis=1) > 1e-6])
    return points[keep]


def resample(points: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` metres along a polyline, both ends included."""
    lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    total = float(lengths.sum())
    if total < 1e-9:
        return points[:1].copy()
    s = np.concatenate([[0.0], np.cumsum(lengths)])
    at = np.linspace(0.0, total, max(2, int(math.ceil(total / step)) + 1))
    return np.stack([np.interp(at, s, points[:, 0]), np.interp(at, s, points[:, 1])], axis=1)


# --------------------------------------------------------------------------- timing

def walk_profile(*, length: float, duration: float, times: np.ndarray) -> np.ndarray:
    """Distance walked at each of ``times`` (seconds from the start) over ``duration``:
    a trapezoidal speed profile, accelerating and slowing over ``ACCELERATION_TIME``."""
    if duration <= 0.0 or length <= 0.0:
        return np.full(len(times), length)
    ramp = min(ACCELERATION_TIME, duration / 3.0)
    top = length / (duration - ramp)
    t = np.clip(times, 0.0, duration)
    s = np.where(t < ramp, 0.5 * top * t * t / ramp,
                 np.where(t > duration - ramp,
                          length - 0.5 * top * (duration - t) ** 2 / ramp,
                          0.5 * top * ramp + top * (t - ramp)))
    return np.clip(s, 0.0, length)


def point_at(points: np.ndarray, distance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (N, 2) and headings (N,) in degrees at arc lengths ``distance`` along a polyline."""
    lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(lengths)])
    x = np.interp(distance, s, points[:, 0])
    y = np.interp(distance, s, points[:, 1])
    legs = np.clip(np.searchsorted(s, distance, side="right") - 1, 0, len(lengths) - 1)
    d = points[legs + 1] - points[legs]
    heading = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
    return np.stack([x, y], axis=1), heading


def seat_approach(set_spec: SetSpec, mark: Mark, turn: float = 0.0) -> tuple[float, float] | None:
    """Where someone stands before sitting at ``mark``: just clear of its seat, in front of it
    (``turn`` degrees from the front: 90 and -90 beside it, 180 behind it)."""
    if mark.kind != "sit" or mark.prop is None:
        return None
    prop = next((p for p in set_spec.props if p.id == mark.prop), None)
    if prop is None:
        return None
    angle = math.radians(mark.facing + turn)
    ahead = np.array([math.cos(angle), math.sin(angle)])
    reach = float(np.max((footprint(prop) - np.array(mark.position)) @ ahead)) + BODY_RADIUS
    spot = np.array(mark.position) + reach * ahead
    return float(spot[0]), float(spot[1])
