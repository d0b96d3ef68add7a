"""The sky plot: a result's footprints drawn server-side as SVG on an RA/Dec grid.

It is what a member sees when the survey tiles of the interactive view (Aladin Lite) cannot
load (no internet at the telescope, a lab's own HiPS server down), and what the tests check.
Each footprint is ALMA's ``s_region`` (``vo.sphere.parse_stcs``: polygons, circles, unions,
holes) projected with astropy's WCS: gnomonic (TAN) around the result's centre when the result
fits in a cap of ``TAN_LIMIT_DEG``, where great-circle edges are straight lines and a polygon's
vertices are all it takes; Hammer-Aitoff of the whole sky otherwise, with edges sampled. Above
``max_footprints`` rows only the centres are drawn; a footprint too small to see is ringed at
``MIN_MARK_PX``. Every drawn shape carries the row's key (``data-row``), so the page's script
can tie a footprint to its table row. The rest of the result comes as centres, drawn as one path
of one dot per pixel. Every point is projected by one WCS call over numpy arrays: per-point
calls and numpy scalars formatted one by one were a third of the plot's time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from astropy.coordinates import Angle
from astropy.wcs import WCS
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from vo.sphere import Circle, Polygon, Region, Shape, Vec, cross, norm, parse_stcs

TAN_LIMIT_DEG = 40.0
CIRCLE_POINTS = 48
EDGE_SAMPLES = 12  # per polygon edge, in the all-sky projection only
MIN_MARK_PX = 5.0  # a footprint smaller than this on the plot is ringed at this size
# Grid spacings people expect, in degrees: arcseconds to tens of degrees.
STEPS_DEG = (
    1 / 3600, 2 / 3600, 5 / 3600, 10 / 3600, 20 / 3600, 30 / 3600,
    1 / 60, 2 / 60, 5 / 60, 10 / 60, 20 / 60, 30 / 60,
    1, 2, 5, 10, 15, 30, 45, 60,
)  # fmt: skip


@dataclass(frozen=True)
class Footprint:
    """One result row as the plot needs it: its key, a hover label, ``s_region``, centre."""

    key: str
    label: str
    region: str
    ra: float
    dec: float


@dataclass
class Projection:
    wcs: WCS
    width: int
    height: int
    all_sky: bool

    def xy(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SVG coordinates (y down) of world coordinates in degrees."""
        x, y = self.wcs.wcs_world2pix(ra, dec, 0)
        return self.width / 2 + x, self.height / 2 - y


def _unit(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Unit vectors, an (n, 3) array, of positions in degrees."""
    a, d = np.radians(ra), np.radians(dec)
    cos_d = np.cos(d)
    return np.column_stack((cos_d * np.cos(a), cos_d * np.sin(a), np.sin(d)))


def _radec(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(points, dtype=float).reshape(-1, 3)
    ra = np.degrees(np.arctan2(p[:, 1], p[:, 0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(p[:, 2], -1.0, 1.0)))
    return ra, dec


_CIRCLE_TABLES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _circle_points(circle: Circle, count: int = CIRCLE_POINTS) -> np.ndarray:
    """``count`` unit vectors on the small circle, as an (n, 3) array."""
    if count not in _CIRCLE_TABLES:
        angles = np.linspace(0.0, 2 * math.pi, count, endpoint=False)
        _CIRCLE_TABLES[count] = (np.cos(angles)[:, None], np.sin(angles)[:, None])
    cos_t, sin_t = _CIRCLE_TABLES[count]
    c = circle.center
    helper: Vec = (0.0, 0.0, 1.0) if abs(c[2]) < 0.9 else (1.0, 0.0, 0.0)
    e1 = norm(cross(helper, c))
    e2 = cross(c, e1)
    return math.cos(circle.radius) * np.asarray(c) + math.sin(circle.radius) * (
        cos_t * np.asarray(e1) + sin_t * np.asarray(e2)
    )


def _polygon_points(polygon: Polygon, sampled: bool) -> np.ndarray:
    a = np.asarray(polygon.vertices, dtype=float)
    if not sampled:
        return a
    b = np.roll(a, -1, axis=0)
    t = (np.arange(EDGE_SAMPLES) / EDGE_SAMPLES)[None, :, None]
    points = ((1 - t) * a[:, None, :] + t * b[:, None, :]).reshape(-1, 3)
    return points / np.linalg.norm(points, axis=1)[:, None]


def _circle_count(radius_rad: float, scale_deg: float) -> int:
    """Points enough for a circle to look round at its size on the plot: 12 for a dot, up to
    ``CIRCLE_POINTS`` for a large one (one per ~3 px of circumference)."""
    circumference_px = 2 * math.pi * math.degrees(radius_rad) / scale_deg
    return int(min(CIRCLE_POINTS, max(12, 4 * math.ceil(circumference_px / 12))))


def _outline(shape: Shape, sampled: bool, scale_deg: float) -> np.ndarray:
    if isinstance(shape, Circle):
        return _circle_points(shape, _circle_count(shape.radius, scale_deg))
    if isinstance(shape, Polygon):
        return _polygon_points(shape, sampled)
    return np.empty((0, 3))


def _region(footprint: Footprint) -> Region:
    """The footprint's region; its centre as a tiny circle when the region is missing or
    unreadable, so no row is left without a mark."""
    try:
        return parse_stcs(footprint.region)
    except ValueError:
        return Region([(Circle.from_deg(footprint.ra, footprint.dec, 1 / 3600), [])])


def _rings(region: Region, sampled: bool, scale_deg: float) -> list[np.ndarray]:
    """The closed outlines of a region (outer shapes and holes)."""
    rings = []
    for shape, holes in region.parts:
        rings.append(_outline(shape, sampled, scale_deg))
        rings.extend(_outline(hole, sampled, scale_deg) for hole in holes)
    return [ring for ring in rings if len(ring)]


def _bounds(region: Region) -> tuple[list[Vec], list[tuple[Vec, float]]]:
    """What fixes a region's extent: polygon vertices, and circles as (centre, radius)."""
    points: list[Vec] = []
    circles: list[tuple[Vec, float]] = []
    for shape, _ in region.parts:
        if isinstance(shape, Circle):
            circles.append((shape.center, shape.radius))
        elif isinstance(shape, Polygon):
            points.extend(shape.vertices)
    return points, circles


def _projection(
    points: np.ndarray, circles: list[tuple[Vec, float]], width: int, height: int
) -> Projection:
    """Gnomonic around the centre of ``points`` (polygon vertices, centres) and ``circles``
    when they fit in ``TAN_LIMIT_DEG``, else the whole sky."""
    if len(points):
        centre = norm(tuple(points.mean(axis=0).tolist()))
        c = np.asarray(centre)
        extent = math.degrees(math.acos(max(-1.0, min(1.0, float(np.min(points @ c))))))
        for middle, radius in circles:
            cos_to = max(-1.0, min(1.0, float(np.dot(middle, c))))
            extent = max(extent, math.degrees(math.acos(cos_to) + radius))
    else:
        centre, extent = (1.0, 0.0, 0.0), 0.0
    wcs = WCS(naxis=2)
    wcs.wcs.crpix = [0.0, 0.0]
    if extent <= TAN_LIMIT_DEG:
        ra0, dec0 = _radec(np.asarray([centre]))
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = [float(ra0[0]), float(dec0[0])]
        half = max(extent * 1.15, 5 / 3600)  # a margin, and never zoom past 5 arcsec
        scale = half / (min(width, height) / 2)
        wcs.wcs.cdelt = [-scale, scale]
        return Projection(wcs, width, height, all_sky=False)
    wcs.wcs.ctype = ["RA---AIT", "DEC--AIT"]
    wcs.wcs.crval = [180.0, 0.0]
    scale = 360.0 / (width * 0.95)
    wcs.wcs.cdelt = [-scale, scale]
    return Projection(wcs, width, height, all_sky=True)


def _step(span_deg: float) -> float:
    for step in STEPS_DEG:
        if span_deg / step <= 6:
            return step
    return STEPS_DEG[-1]


def _grid(projection: Projection) -> tuple[list[str], list[tuple[float, float, str]]]:
    """Polylines of constant RA and Dec, and (x, y, text) labels at the plot's edges."""
    w, h = projection.width, projection.height
    corners_x = np.array([0, w, 0, w, w / 2, 0, w / 2, w])
    corners_y = np.array([0, 0, h, h, 0, h / 2, h, h / 2])
    if projection.all_sky:
        dec_lo, dec_hi, ra_lo, ra_hi = -90.0, 90.0, 0.0, 360.0
    else:
        ra_c, dec_c = projection.wcs.wcs_pix2world(corners_x - w / 2, h / 2 - corners_y, 0)
        dec_lo, dec_hi = float(np.min(dec_c)), float(np.max(dec_c))
        ra0 = projection.wcs.wcs.crval[0]
        offsets = (ra_c - ra0 + 180.0) % 360.0 - 180.0
        ra_lo, ra_hi = ra0 + float(np.min(offsets)), ra0 + float(np.max(offsets))
    lines: list[str] = []
    labels: list[tuple[float, float, str]] = []
    dec_step = _step(dec_hi - dec_lo)
    ra_step = _step(ra_hi - ra_lo)
    ra_samples = np.linspace(ra_lo, ra_hi, 64)
    dec_samples = np.linspace(max(dec_lo, -90.0), min(dec_hi, 90.0), 64)
    for dec in np.arange(math.ceil(dec_lo / dec_step) * dec_step, dec_hi, dec_step):
        x, y = projection.xy(ra_samples, np.full_like(ra_samples, dec))
        lines.append(_points(x, y))
        if not projection.all_sky:
            labels.append((3.0, float(np.interp(0.0, x, y)) - 2, _dec_text(dec, dec_step)))
    for ra in np.arange(math.ceil(ra_lo / ra_step) * ra_step, ra_hi, ra_step):
        x, y = projection.xy(np.full_like(dec_samples, ra), dec_samples)
        lines.append(_points(x, y))
        if not projection.all_sky:
            labels.append((float(x[0]) + 2, h - 3.0, _ra_text(ra % 360.0, ra_step)))
    return lines, labels


def _ra_text(ra: float, step: float) -> str:
    precision = 0 if step * 240 >= 1 else 1  # step in seconds of time
    return Angle(ra, "deg").to_string(unit="hourangle", sep=":", precision=precision, pad=True)


def _dec_text(dec: float, step: float) -> str:
    precision = 0
    return Angle(dec, "deg").to_string(unit="deg", sep=":", precision=precision, alwayssign=True)


def _points(x: np.ndarray, y: np.ndarray) -> str:
    return " ".join(
        f"{a:.1f},{b:.1f}"
        for a, b in zip(x.tolist(), y.tolist(), strict=True)
        if math.isfinite(a + b)
    )


def _paths(
    projection: Projection, rings_per_row: list[list[np.ndarray]], centres: np.ndarray
) -> list[str]:
    """The SVG path of each row's rings: every point of every row projected in one WCS call.

    A footprint smaller than ``MIN_MARK_PX`` on the plot (an ALMA field on the whole sky) gets
    a ring of that size around its centre (``centres``: unit vectors) in the same path, so every
    row can still be seen, hovered and clicked."""
    rings = [ring for rings in rings_per_row for ring in rings]
    points = np.concatenate([*rings, centres]) if rings else centres
    x, y = projection.xy(*_radec(points))
    xs, ys = x.tolist(), y.tolist()
    mid_x, mid_y = xs[len(xs) - len(centres) :], ys[len(ys) - len(centres) :]
    out, start = [], 0
    for row, rings_of_row in enumerate(rings_per_row):
        parts = []
        low_x = low_y = math.inf
        high_x = high_y = -math.inf
        for ring in rings_of_row:
            end = start + len(ring)
            finite = [
                (a, b)
                for a, b in zip(xs[start:end], ys[start:end], strict=True)
                if math.isfinite(a + b)
            ]
            if finite:
                parts.append("M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in finite) + " Z")
                low_x = min(low_x, *(a for a, _ in finite))
                high_x = max(high_x, *(a for a, _ in finite))
                low_y = min(low_y, *(b for _, b in finite))
                high_y = max(high_y, *(b for _, b in finite))
            start = end
        cx, cy = mid_x[row], mid_y[row]
        if max(high_x - low_x, high_y - low_y) < MIN_MARK_PX and math.isfinite(cx + cy):
            r = MIN_MARK_PX / 2
            parts.append(
                f"M{cx - r:.1f},{cy:.1f} a{r:g},{r:g} 0 1,0 {2 * r:g},0 "
                f"a{r:g},{r:g} 0 1,0 {-2 * r:g},0 Z"
            )
        out.append(" ".join(parts))
    return out


def render(
    footprints: Sequence[Footprint],
    *,
    centres: Sequence[tuple[float, float]] = (),
    width: int = 480,
    height: int = 360,
    max_footprints: int,
) -> SafeString:
    """The SVG element of the plot (safe markup: every text from a row is escaped)."""
    return plot(
        footprints, centres=centres, width=width, height=height, max_footprints=max_footprints
    )[0]


def plot(
    footprints: Sequence[Footprint],
    *,
    centres: Sequence[tuple[float, float]] = (),
    width: int = 480,
    height: int = 360,
    max_footprints: int,
) -> tuple[SafeString, float]:
    """The SVG element of the plot and the field it shows, in degrees (what the interactive
    view zooms to).

    ``footprints`` are the rows a member can act on (the page's); ``centres`` (ra, dec) the
    rest of the result, drawn as faint dots for context (one path: thousands of them cost the
    browser one element)."""
    outlines = len(footprints) <= max_footprints
    context = np.asarray(centres, dtype=float).reshape(-1, 2)
    context_points = _unit(context[:, 0], context[:, 1])
    row_points = _unit(
        np.array([f.ra for f in footprints], dtype=float),
        np.array([f.dec for f in footprints], dtype=float),
    )
    regions = [_region(f) for f in footprints] if outlines else []
    vertices: list[Vec] = []
    circles: list[tuple[Vec, float]] = []
    for region in regions:
        more_vertices, more_circles = _bounds(region)
        vertices.extend(more_vertices)
        circles.extend(more_circles)
    every_point = np.concatenate(
        [
            context_points,
            row_points,
            np.asarray(vertices, dtype=float).reshape(-1, 3),
            np.asarray([c for c, _ in circles], dtype=float).reshape(-1, 3),
        ]
    )
    projection = _projection(every_point, circles, width, height)
    scale = abs(float(projection.wcs.wcs.cdelt[1]))
    lines, labels = _grid(projection)
    grid = format_html_join("", '<polyline class="sky-grid" points="{}"/>', ((p,) for p in lines))
    texts = format_html_join(
        "",
        '<text class="sky-label" x="{}" y="{}">{}</text>',
        ((f"{x:.1f}", f"{y:.1f}", text) for x, y, text in labels),
    )
    if outlines:
        rings = [_rings(region, projection.all_sky, scale) for region in regions]
        shapes = format_html_join(
            "",
            '<path class="sky-footprint" data-row="{}" d="{}" fill-rule="evenodd" tabindex="-1">'
            "<title>{}</title></path>",
            (
                (f.key, path, f.label)
                for f, path in zip(footprints, _paths(projection, rings, row_points), strict=True)
            ),
        )
    else:
        x, y = projection.xy(*_radec(row_points))
        shapes = format_html_join(
            "",
            '<circle class="sky-centre" data-row="{}" cx="{}" cy="{}" r="2">'
            "<title>{}</title></circle>",
            (
                (f.key, f"{a:.1f}", f"{b:.1f}", f.label)
                for f, a, b in zip(footprints, x.tolist(), y.tolist(), strict=True)
            ),
        )
    dots = SafeString("")
    if len(context):
        cx, cy = projection.xy(context[:, 0], context[:, 1])
        finite = np.isfinite(cx) & np.isfinite(cy)
        # One dot per pixel: in a crowded field thousands of centres share a few hundred.
        pixels = np.unique(np.column_stack((cx[finite], cy[finite])).round().astype(int), axis=0)
        # Numbers this function computed, nothing from a row's text: no escaping to do.
        dots = mark_safe(
            f'<path class="sky-context" data-rows="{int(finite.sum())}" '
            f'data-points="{len(pixels)}" '
            f'd="{"".join(f"M{a},{b}h0" for a, b in pixels.tolist())}"/>'
        )
    caption = (
        f"{len(footprints)} footprint{'s' if len(footprints) != 1 else ''}"
        if outlines
        else f"{len(footprints)} centres (more than {max_footprints} rows: outlines omitted)"
    )
    svg = format_html(
        '<svg class="sky-plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
        'width="{w}" height="{h}" role="img" aria-label="{aria}" data-projection="{proj}">'
        '<defs><clipPath id="sky-clip"><rect width="{w}" height="{h}"/></clipPath></defs>'
        '<rect class="sky-background" width="{w}" height="{h}"/>'
        '<g clip-path="url(#sky-clip)">{grid}{context}{shapes}</g>{texts}</svg>',
        w=width,
        h=height,
        aria=f"Sky plot, {caption}, on a right ascension and declination grid",
        proj="AIT" if projection.all_sky else "TAN",
        grid=grid,
        context=dots,
        shapes=shapes,
        texts=texts if texts else mark_safe(""),
    )
    return svg, scale * min(width, height)
