"""Regions on the celestial sphere, exactly: ALMA's STC-S footprints and ADQL's shapes.

ALMA's ``s_region`` is STC-S: ``Circle ICRS ra dec r``, ``Polygon ICRS ra1 dec1 ...``, and
``Union ICRS ( <region> <region> ... )`` where a ``Not (<region>)`` after a polygon cuts a hole
in it (``refdata/astroquery/alma-shapes.xml``). ADQL adds ``POINT``, ``CIRCLE``, ``BOX`` and
``POLYGON``. Every test here works on unit vectors with great-circle edges, so answers hold
anywhere on the sky, across RA 0/360 and at the poles, with no planar approximation; the only
tolerance is ``EPS`` (about 2e-5 arcsec), so that a point on an edge counts as inside.

A hole is honoured for points and for shapes that lie wholly inside it; a shape that crosses
the edge of a hole is taken to meet the region (ALMA's holes lie inside their polygon, so the
shape then also meets the polygon outside the hole).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

Vec = tuple[float, float, float]
EPS = 1e-10


def vec(ra: float, dec: float) -> Vec:
    a, d = math.radians(ra), math.radians(dec)
    return (math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d))


def dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(a: Vec, b: Vec) -> Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def norm(a: Vec) -> Vec:
    length = math.sqrt(dot(a, a))
    return (a[0] / length, a[1] / length, a[2] / length)


def angle(a: Vec, b: Vec) -> float:
    """Angular distance in radians, accurate at every scale (atan2 of |a x b| and a . b)."""
    c = cross(a, b)
    return math.atan2(math.sqrt(dot(c, c)), dot(a, b))


def distance_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    return math.degrees(angle(vec(ra1, dec1), vec(ra2, dec2)))


def _arc_distance(p: Vec, a: Vec, b: Vec) -> float:
    """Angular distance from p to the great-circle arc a-b (radians)."""
    n = cross(a, b)
    if dot(n, n) < EPS * EPS:
        return angle(p, a)
    n = norm(n)
    # The foot of p on the great circle lies on the arc when it is between a and b.
    foot = (p[0] - dot(p, n) * n[0], p[1] - dot(p, n) * n[1], p[2] - dot(p, n) * n[2])
    if dot(foot, foot) > EPS * EPS:
        foot = norm(foot)
        if dot(cross(a, foot), n) >= -EPS and dot(cross(foot, b), n) >= -EPS:
            return abs(math.asin(max(-1.0, min(1.0, dot(p, n)))))
    return min(angle(p, a), angle(p, b))


def _arcs_cross(a: Vec, b: Vec, c: Vec, d: Vec) -> bool:
    """Whether great-circle arcs a-b and c-d (each shorter than 180 degrees) meet."""
    n1, n2 = cross(a, b), cross(c, d)
    t = cross(n1, n2)
    if dot(t, t) < EPS * EPS:  # the same great circle: overlap when an end lies on the other
        return any(
            _arc_distance(p, *arc) < EPS for p, arc in ((c, (a, b)), (d, (a, b)), (a, (c, d)))
        )
    t = norm(t)
    for x in (t, (-t[0], -t[1], -t[2])):
        on_first = dot(cross(a, x), n1) >= -EPS and dot(cross(x, b), n1) >= -EPS
        on_second = dot(cross(c, x), n2) >= -EPS and dot(cross(x, d), n2) >= -EPS
        if on_first and on_second:
            return True
    return False


class Shape:
    def contains_point(self, p: Vec) -> bool:
        raise NotImplementedError

    def boundary_points(self) -> list[Vec]:
        raise NotImplementedError


@dataclass(frozen=True)
class Circle(Shape):
    center: Vec
    radius: float  # radians

    @classmethod
    def from_deg(cls, ra: float, dec: float, radius: float) -> Circle:
        return cls(vec(ra, dec), math.radians(radius))

    def contains_point(self, p: Vec) -> bool:
        return angle(self.center, p) <= self.radius + EPS


@dataclass(frozen=True)
class Polygon(Shape):
    """A simple spherical polygon, edges along great circles, the smaller side as inside."""

    vertices: tuple[Vec, ...]

    @classmethod
    def from_deg(cls, coords: list[float]) -> Polygon:
        if len(coords) < 6 or len(coords) % 2:
            raise ValueError("a polygon needs at least three (ra, dec) pairs")
        points = tuple(vec(coords[i], coords[i + 1]) for i in range(0, len(coords), 2))
        if angle(points[0], points[-1]) < EPS:
            points = points[:-1]
        if len(points) < 3:
            raise ValueError("a polygon needs at least three distinct vertices")
        return cls(points)

    def edges(self) -> list[tuple[Vec, Vec]]:
        v = self.vertices
        return [(v[i], v[(i + 1) % len(v)]) for i in range(len(v))]

    def centroid(self) -> Vec:
        return norm(
            (
                sum(v[0] for v in self.vertices),
                sum(v[1] for v in self.vertices),
                sum(v[2] for v in self.vertices),
            )
        )

    def contains_point(self, p: Vec) -> bool:
        """Winding number of the edges seen from p, on the polygon's own hemisphere.

        The azimuths of the vertices seen from p turn once around p when p is inside (and when
        its antipode is, which the hemisphere test rules out): polygons must fit within a
        hemisphere, as footprints and ADQL regions do.
        """
        if any(_arc_distance(p, a, b) < EPS for a, b in self.edges()):
            return True
        if dot(p, self.centroid()) <= 0:
            return False
        total = 0.0
        for a, b in self.edges():
            ta, tb = cross(p, a), cross(p, b)
            total += math.atan2(dot(cross(ta, tb), p), dot(ta, tb))
        return abs(total) > math.pi


@dataclass
class Region:
    """A union of parts, each a shape less its holes (ALMA's ``Polygon ... Not (Polygon ...)``)."""

    parts: list[tuple[Shape, list[Shape]]] = field(default_factory=list)

    def contains_point(self, p: Vec) -> bool:
        return any(
            shape.contains_point(p) and not any(h.contains_point(p) for h in holes)
            for shape, holes in self.parts
        )


# --- Shape against shape -------------------------------------------------------------------


def _circle_inside(c: Circle, shape: Shape) -> bool:
    if isinstance(shape, Circle):
        return angle(c.center, shape.center) + c.radius <= shape.radius + EPS
    assert isinstance(shape, Polygon)
    return shape.contains_point(c.center) and all(
        _arc_distance(c.center, a, b) >= c.radius - EPS for a, b in shape.edges()
    )


def _polygon_inside(poly: Polygon, shape: Shape) -> bool:
    if isinstance(shape, Circle):
        return all(shape.contains_point(v) for v in poly.vertices)
    assert isinstance(shape, Polygon)
    if not all(shape.contains_point(v) for v in poly.vertices):
        return False
    return not any(
        _arcs_cross(a, b, c, d) and not (shape.contains_point(a) and shape.contains_point(b))
        for a, b in poly.edges()
        for c, d in shape.edges()
    )


def inside(inner: Shape, outer: Shape) -> bool:
    return (
        _circle_inside(inner, outer) if isinstance(inner, Circle) else _polygon_inside(inner, outer)
    )  # type: ignore[arg-type]


def shapes_meet(s: Shape, t: Shape) -> bool:
    if isinstance(s, Circle) and isinstance(t, Circle):
        return angle(s.center, t.center) <= s.radius + t.radius + EPS
    if isinstance(s, Polygon) and isinstance(t, Circle):
        s, t = t, s
    if isinstance(s, Circle):
        assert isinstance(t, Polygon)
        return t.contains_point(s.center) or any(
            _arc_distance(s.center, a, b) <= s.radius + EPS for a, b in t.edges()
        )
    assert isinstance(s, Polygon) and isinstance(t, Polygon)
    if any(t.contains_point(v) for v in s.vertices) or any(s.contains_point(v) for v in t.vertices):
        return True
    return any(_arcs_cross(a, b, c, d) for a, b in s.edges() for c, d in t.edges())


def region_meets(region: Region, shape: Shape) -> bool:
    """INTERSECTS: some point of ``shape`` lies in the region (holes honoured, see module)."""
    for part, holes in region.parts:
        if shapes_meet(part, shape) and not any(inside(shape, h) for h in holes):
            return True
    return False


def region_inside(region: Region, shape: Shape) -> bool:
    """CONTAINS(region, shape): every part of the region lies inside ``shape``."""
    return all(inside(part, shape) for part, _ in region.parts)


# --- STC-S ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"\(|\)|[A-Za-z_]+|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_FRAMES = {"ICRS", "FK5", "J2000", "UNKNOWNFRAME", "GEOCENTER", "BARYCENTER", "TOPOCENTER"}


def parse_stcs(text: str) -> Region:
    """An STC-S string as a Region; ValueError with the reason for anything else."""
    tokens = _TOKEN.findall(text or "")
    if not tokens:
        raise ValueError("empty region")
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise ValueError("region ends too early")
        position += 1
        return tokens[position - 1]

    def numbers() -> list[float]:
        out = []
        while (token := peek()) is not None and token not in "()" and not token[0].isalpha():
            out.append(float(take()))
        return out

    def skip_frames() -> None:
        while (token := peek()) is not None and token.upper() in _FRAMES:
            take()

    def shape() -> Shape:
        kind = take().upper()
        skip_frames()
        values = numbers()
        if kind == "CIRCLE":
            if len(values) != 3:
                raise ValueError("Circle takes ra dec radius")
            return Circle.from_deg(*values)
        if kind == "POLYGON":
            return Polygon.from_deg(values)
        if kind == "BOX":
            if len(values) != 4:
                raise ValueError("Box takes ra dec width height")
            return box(*values)
        raise ValueError(f"unknown shape {kind!r}")

    def union_body(region: Region) -> None:
        while (token := peek()) is not None and token != ")":
            if token.upper() == "NOT":
                take()
                if take() != "(":
                    raise ValueError("Not needs a parenthesised region")
                hole = shape()
                if take() != ")":
                    raise ValueError("unclosed Not")
                if not region.parts:
                    raise ValueError("Not with nothing to cut")
                region.parts[-1][1].append(hole)
            elif token.upper() == "UNION":
                take()
                skip_frames()
                if take() != "(":
                    raise ValueError("Union needs parentheses")
                union_body(region)
                if take() != ")":
                    raise ValueError("unclosed Union")
            else:
                region.parts.append((shape(), []))

    region = Region()
    union_body(region)
    if position != len(tokens):
        raise ValueError(f"unexpected {tokens[position]!r}")
    return region


def box(ra: float, dec: float, width: float, height: float) -> Polygon:
    """ADQL's BOX: sides along the local east and north great circles through the centre."""
    c = vec(ra, dec)
    east = norm(cross((0.0, 0.0, 1.0), c)) if abs(dec) < 90 else (0.0, 1.0, 0.0)
    north = cross(c, east)
    hw, hh = math.radians(width) / 2, math.radians(height) / 2
    corners = []
    for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1)):
        x, y = math.tan(hw) * sx, math.tan(hh) * sy
        corners.append(norm(tuple(c[i] + x * east[i] + y * north[i] for i in range(3))))  # type: ignore[arg-type]
    return Polygon(tuple(corners))
