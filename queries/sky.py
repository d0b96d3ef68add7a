"""The sky plot: a result's footprints drawn server-side as SVG on an RA/Dec grid.

It is what a member sees when the survey tiles of the interactive view (Aladin Lite) cannot
load (no internet at the telescope, a lab's own HiPS server down), and what the tests check.
Each footprint is ALMA's ``s_region`` (``vo.sphere.parse_stcs``: polygons, circles, unions,
holes) projected with astropy's WCS: gnomonic (TAN) around the result's centre when the result
fits in a cap of ``TAN_LIMIT_DEG``, where great-circle edges are straight lines and a polygon's
vertices are all it takes; Hammer-Aitoff of the whole sky otherwise, with edges sampled. Above
``max_footprints`` rows only the centres are drawn. Every drawn shape carries the row's key
(``data-row``), so the page's script can tie a footprint to its table row.
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

from vo.sphere import Circle, Polygon, Shape, Vec, norm, parse_stcs, vec

TAN_LIMIT_DEG = 40.0
CIRCLE_POINTS = 48
EDGE_SAMPLES = 12  # per polygon edge, in the all-sky projection only
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


def _radec(points: Sequence[Vec]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(points, dtype=float)
    ra = np.degrees(np.arctan2(p[:, 1], p[:, 0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(p[:, 2], -1.0, 1.0)))
    return ra, dec


_ANGLES = np.linspace(0.0, 2 * math.pi, CIRCLE_POINTS, endpoint=False)
_COS, _SIN = np.cos(_ANGLES)[:, None], np.sin(_ANGLES)[:, None]


def _circle_points(circle: Circle) -> np.ndarray:
    """``CIRCLE_POINTS`` unit vectors on the small circle, as an (n, 3) array."""
    c = np.asarray(circle.center)
    helper = np.array([0.0, 0.0, 1.0]) if abs(c[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(helper, c)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(c, e1)
    return math.cos(circle.radius) * c + math.sin(circle.radius) * (_COS * e1 + _SIN * e2)


def _polygon_points(polygon: Polygon, sampled: bool) -> list[Vec]:
    if not sampled:
        return list(polygon.vertices)
    out: list[Vec] = []
    for a, b in polygon.edges():
        for i in range(EDGE_SAMPLES):
            t = i / EDGE_SAMPLES
            out.append(norm(tuple((1 - t) * a[k] + t * b[k] for k in range(3))))
    return out


def _outline(shape: Shape, sampled: bool) -> list[Vec]:
    if isinstance(shape, Circle):
        return _circle_points(shape)
    if isinstance(shape, Polygon):
        return _polygon_points(shape, sampled)
    return []


def _rings(footprint: Footprint, sampled: bool) -> list[list[Vec]]:
    """The closed outlines of a footprint (outer shapes and holes); its centre as a tiny
    circle when the region is missing or unreadable, so no row is left without a mark."""
    try:
        region = parse_stcs(footprint.region)
    except ValueError:
        return [_circle_points(Circle.from_deg(footprint.ra, footprint.dec, 1 / 3600))]
    rings = []
    for shape, holes in region.parts:
        rings.append(_outline(shape, sampled))
        rings.extend(_outline(hole, sampled) for hole in holes)
    return [ring for ring in rings if len(ring)]


def _projection(points: np.ndarray, width: int, height: int) -> Projection:
    centre = norm(tuple(points.mean(axis=0).tolist())) if len(points) else (1.0, 0.0, 0.0)
    cos_extent = float(np.min(points @ np.asarray(centre))) if len(points) else 1.0
    extent = math.degrees(math.acos(max(-1.0, min(1.0, cos_extent))))
    wcs = WCS(naxis=2)
    wcs.wcs.crpix = [0.0, 0.0]
    if extent <= TAN_LIMIT_DEG:
        ra0, dec0 = _radec([centre])
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
    return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y, strict=True) if np.isfinite(a + b))


def _path(projection: Projection, rings: list[list[Vec]]) -> str:
    parts = []
    for ring in rings:
        x, y = projection.xy(*_radec(ring))
        finite = np.isfinite(x) & np.isfinite(y)
        if not finite.any():
            continue
        coords = " L".join(f"{a:.1f},{b:.1f}" for a, b in zip(x[finite], y[finite], strict=True))
        parts.append(f"M{coords} Z")
    return " ".join(parts)


def render(
    footprints: Sequence[Footprint],
    *,
    centres: Sequence[tuple[float, float]] = (),
    width: int = 480,
    height: int = 360,
    max_footprints: int,
) -> SafeString:
    """The SVG element of the plot (safe markup: every text from a row is escaped).

    ``footprints`` are the rows a member can act on (the page's); ``centres`` (ra, dec) the
    rest of the result, drawn as faint dots for context."""
    outlines = len(footprints) <= max_footprints
    sampled_rings = {}
    every_point: list[Vec] = [vec(ra, dec) for ra, dec in centres]
    for footprint in footprints:
        rings = _rings(footprint, sampled=False) if outlines else []
        sampled_rings[footprint.key] = rings
        every_point.extend(p for ring in rings for p in ring)
        every_point.append(vec(footprint.ra, footprint.dec))
    projection = _projection(np.asarray(every_point, dtype=float), width, height)
    if projection.all_sky and outlines:
        sampled_rings = {f.key: _rings(f, sampled=True) for f in footprints}
    lines, labels = _grid(projection)
    grid = format_html_join("", '<polyline class="sky-grid" points="{}"/>', ((p,) for p in lines))
    texts = format_html_join(
        "",
        '<text class="sky-label" x="{}" y="{}">{}</text>',
        ((f"{x:.1f}", f"{y:.1f}", text) for x, y, text in labels),
    )
    if outlines:
        shapes = format_html_join(
            "",
            '<path class="sky-footprint" data-row="{}" d="{}" fill-rule="evenodd" tabindex="-1">'
            "<title>{}</title></path>",
            ((f.key, _path(projection, sampled_rings[f.key]), f.label) for f in footprints),
        )
    else:
        x, y = projection.xy(
            np.array([f.ra for f in footprints]), np.array([f.dec for f in footprints])
        )
        shapes = format_html_join(
            "",
            '<circle class="sky-centre" data-row="{}" cx="{}" cy="{}" r="2">'
            "<title>{}</title></circle>",
            (
                (f.key, f"{a:.1f}", f"{b:.1f}", f.label)
                for f, a, b in zip(footprints, x, y, strict=True)
            ),
        )
    context = SafeString("")
    if centres:
        cx, cy = projection.xy(
            np.array([ra for ra, _ in centres]), np.array([dec for _, dec in centres])
        )
        # Numbers this function computed, nothing from a row's text: no escaping to do.
        context = mark_safe(
            "".join(
                f'<circle class="sky-context" cx="{a:.1f}" cy="{b:.1f}" r="1.2"/>'
                for a, b in zip(cx.tolist(), cy.tolist(), strict=True)
                if math.isfinite(a + b)
            )
        )
    caption = (
        f"{len(footprints)} footprint{'s' if len(footprints) != 1 else ''}"
        if outlines
        else f"{len(footprints)} centres (more than {max_footprints} rows: outlines omitted)"
    )
    return format_html(
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
        context=context,
        shapes=shapes,
        texts=texts if texts else mark_safe(""),
    )
