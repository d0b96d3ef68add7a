"""The search form's fields, keyed by ALMA's own parameter names (astroquery's payload keys).

One catalogue serves the form (labels, groups, help), the parser (kind and unit scale) and the
filters (columns), so that a permalink with ALMA's parameter names means the same everywhere.
Values are typed in the units ALMA's form uses and converted to the mirror's storage units here
(``scale``): field of view in arcsec (stored in degrees), bandwidth in GHz (stored in Hz),
spectral resolution in kHz (stored in Hz).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from queries import syntax
from queries.choices import SCIENCE_KEYWORDS, SCIENTIFIC_CATEGORIES
from queries.errors import QueryInputError, QueryInputErrors

GROUPS = (
    "Position",
    "Energy",
    "Time",
    "Polarisation",
    "Observation",
    "Project",
    "Publication",
    "Options",
)
YES_NO_SYNTAX = "yes or no"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    group: str
    kind: str  # numeric, date, string, name_alma, name_resolver, position, galactic, bands,
    #            choice, yesno, array, polarisation
    columns: tuple[str, ...] = ()
    unit: str = ""
    scale: float = 1.0
    help: str = ""
    placeholder: str = ""
    choices: tuple[str, ...] = field(default=())
    match: str = "contains"  # strings: substring unless wildcards ("contains") or "exact"

    @property
    def syntax(self) -> str:
        return {
            "numeric": syntax.NUMERIC_SYNTAX,
            "date": syntax.DATE_SYNTAX,
            "string": syntax.STRING_SYNTAX,
            "name_alma": syntax.STRING_SYNTAX,
            "name_resolver": "a source name known to Sesame (SIMBAD/NED/VizieR), e.g. NGC 1068",
            "position": syntax.POSITION_SYNTAX,
            "galactic": syntax.POSITION_SYNTAX,
            "bands": syntax.BAND_SYNTAX,
            "choice": "one of the listed values, or a|b",
            "yesno": YES_NO_SYNTAX,
            "array": "12m, 7m or TP (a|b for several)",
            "polarisation": "Single, Dual or Full (a|b for several)",
        }[self.kind]


F = FieldSpec
FIELDS: tuple[FieldSpec, ...] = (
    F(
        "source_name_resolver",
        "Source name (resolver)",
        "Position",
        "name_resolver",
        help="Resolved to coordinates by Sesame, then searched within 10 arcmin.",
        placeholder="NGC 1068",
    ),
    F(
        "source_name_alma",
        "Source name (ALMA)",
        "Position",
        "name_alma",
        ("target_name_key",),
        help="The name as the observer typed it; spacing, case, _ and - are ignored.",
        placeholder="NGC_1068",
    ),
    F(
        "ra_dec",
        "RA Dec (ICRS)",
        "Position",
        "position",
        ("s_ra", "s_dec"),
        placeholder="12:13:14.0 -00:01:02.1, 0.05",
    ),
    F(
        "galactic",
        "Galactic l b",
        "Position",
        "galactic",
        ("gal_longitude", "gal_latitude"),
        placeholder="0.0 0.0, 1deg",
    ),
    F(
        "spatial_resolution",
        "Angular resolution",
        "Position",
        "numeric",
        ("spatial_resolution",),
        unit="arcsec",
        placeholder="<0.5",
    ),
    F(
        "spatial_scale_max",
        "Largest angular scale",
        "Position",
        "numeric",
        ("spatial_scale_max",),
        unit="arcsec",
        placeholder=">10",
    ),
    F(
        "fov",
        "Field of view",
        "Position",
        "numeric",
        ("s_fov",),
        unit="arcsec",
        scale=1 / 3600,
        placeholder=">60",
    ),
    F(
        "frequency",
        "Frequency",
        "Energy",
        "numeric",
        ("frequency",),
        unit="GHz",
        placeholder="84..116",
    ),
    F(
        "bandwidth",
        "Bandwidth",
        "Energy",
        "numeric",
        ("bandwidth",),
        unit="GHz",
        scale=1e9,
        placeholder=">1.8",
    ),
    F(
        "spectral_resolution",
        "Spectral resolution",
        "Energy",
        "numeric",
        ("spectral_resolution",),
        unit="kHz",
        scale=1e3,
        placeholder="<500",
    ),
    F("band_list", "Band", "Energy", "bands", ("band_mask",), placeholder="3 6"),
    F("start_date", "Observation date", "Time", "date", ("t_min",), placeholder=">01-01-2019"),
    F(
        "integration_time",
        "Integration time",
        "Time",
        "numeric",
        ("t_exptime",),
        unit="s",
        placeholder=">3600",
    ),
    F(
        "polarisation_type",
        "Polarisation",
        "Polarisation",
        "polarisation",
        ("pol_states",),
        choices=("Single", "Dual", "Full"),
    ),
    F(
        "line_sensitivity",
        "Line sensitivity (10 km/s)",
        "Observation",
        "numeric",
        ("sensitivity_10kms",),
        unit="mJy/beam",
        placeholder="<1",
    ),
    F(
        "continuum_sensitivity",
        "Continuum sensitivity",
        "Observation",
        "numeric",
        ("cont_sensitivity_bandwidth",),
        unit="mJy/beam",
        placeholder="<0.1",
    ),
    F(
        "water_vapour",
        "Water vapour",
        "Observation",
        "numeric",
        ("pwv",),
        unit="mm",
        placeholder="<1",
    ),
    F("mosaic", "Mosaic", "Observation", "yesno", ("is_mosaic",), choices=("yes", "no")),
    F(
        "array",
        "Array",
        "Observation",
        "array",
        ("member_ous__antenna_array",),
        choices=("12m", "7m", "TP"),
    ),
    F(
        "project_code",
        "Project code",
        "Project",
        "string",
        ("proposal_id",),
        match="exact",
        placeholder="2017.1.00079.S or 2017.1.*",
    ),
    F(
        "project_title",
        "Project title",
        "Project",
        "string",
        ("obs_title",),
        placeholder="*galaxies*",
    ),
    F(
        "pi_name",
        "PI name",
        "Project",
        "string",
        ("pi_name", "obs_creator_name"),
        placeholder="Ueda*",
    ),
    F("proposal_authors", "Proposal authors", "Project", "string", ("proposal_authors",)),
    F(
        "project_abstract",
        "Abstract",
        "Project",
        "string",
        ("proposal_abstract",),
        placeholder="outflow",
    ),
    F(
        "science_keyword",
        "Science keyword",
        "Project",
        "choice",
        ("science_keyword",),
        choices=SCIENCE_KEYWORDS,
    ),
    F(
        "scientific_category",
        "Scientific category",
        "Project",
        "choice",
        ("scientific_category",),
        choices=SCIENTIFIC_CATEGORIES,
    ),
    F("bibcode", "Bibcode", "Publication", "string", ("bib_reference",), placeholder="2019MNRAS*"),
    F("pub_title", "Publication title", "Publication", "string", ("pub_title",)),
    F("first_author", "First author", "Publication", "string", ("first_author",)),
    F(
        "publication_year",
        "Publication year",
        "Publication",
        "numeric",
        ("publication_year",),
        placeholder="2018..2020",
    ),
    F("published", "Published", "Publication", "yesno", ("bib_reference",), choices=("yes", "no")),
    F(
        "public_data",
        "Public data only",
        "Options",
        "yesno",
        ("obs_release_date",),
        choices=("yes", "no"),
    ),
    F(
        "science_observation",
        "Science observations only",
        "Options",
        "yesno",
        ("science_observation",),
        choices=("yes", "no"),
    ),
)
BY_NAME: dict[str, FieldSpec] = {f.name: f for f in FIELDS}
POLARISATION_STATES = {
    "single": ("/XX/", "/YY/", "/LL/", "/RR/"),
    "dual": ("/XX/YY/", "/LL/RR/"),
    "full": ("/XX/XY/YX/YY/", "/LL/LR/RL/RR/"),
}


@dataclass(frozen=True)
class ParsedQuery:
    """The parsed constraints of one search, keyed by ALMA parameter name."""

    constraints: Mapping[str, object]

    def __bool__(self) -> bool:
        return bool(self.constraints)


def parse_yes_no(spec: FieldSpec, text: str) -> bool:
    value = text.strip().lower()
    if value in ("yes", "y", "true", "t", "1", "on"):
        return True
    if value in ("no", "n", "false", "f", "0", "off"):
        return False
    raise QueryInputError(spec.name, text, "is neither yes nor no.", spec.syntax, label=spec.label)


def parse_field(spec: FieldSpec, text: str) -> object:
    kind = spec.kind
    if kind == "numeric":
        return syntax.parse_numeric(spec.name, text, label=spec.label, scale=spec.scale)
    if kind == "date":
        return syntax.parse_date(spec.name, text, label=spec.label)
    if kind in ("string", "name_alma"):
        return syntax.parse_string(spec.name, text, label=spec.label)
    if kind == "choice":
        return syntax.parse_string(spec.name, text, label=spec.label)
    if kind == "position":
        return syntax.parse_position(spec.name, text, label=spec.label)
    if kind == "galactic":
        return syntax.parse_position(spec.name, text, label=spec.label, frame="galactic")
    if kind == "bands":
        return syntax.parse_bands(spec.name, text, label=spec.label)
    if kind == "yesno":
        return parse_yes_no(spec, text)
    if kind in ("array", "polarisation"):
        values = {v.strip().lower() for v in text.replace(",", "|").split("|") if v.strip()}
        allowed = {c.lower() for c in spec.choices}
        if not values or not values <= allowed:
            raise QueryInputError(
                spec.name,
                text,
                "is not one of " + ", ".join(spec.choices) + ".",
                spec.syntax,
                label=spec.label,
            )
        return frozenset(values)
    if kind == "name_resolver":
        from queries.resolver import resolve

        text = text.strip()
        if len(text) > 200:
            raise QueryInputError(
                spec.name, text, "is too long for a source name.", spec.syntax, label=spec.label
            )
        ra, dec = resolve(text)
        return syntax.Cone(ra, dec, syntax.DEFAULT_RADIUS_DEG)
    raise AssertionError(kind)


def parse_form(params: Mapping[str, str]) -> ParsedQuery:
    """Parse every non-empty field; report every wrong field at once."""
    constraints: dict[str, object] = {}
    errors: dict[str, QueryInputError] = {}
    for spec in FIELDS:
        raw = params.get(spec.name)
        if raw is None:
            continue
        text = str(raw).strip()
        if not text:
            continue
        try:
            constraints[spec.name] = parse_field(spec, text)
        except QueryInputError as exc:
            errors[spec.name] = exc
    if errors:
        raise QueryInputErrors(errors)
    return ParsedQuery(constraints)


def query_params(params: Mapping[str, str]) -> dict[str, str]:
    """Just the search fields with a value, in the catalogue's order (for permalinks)."""
    return {
        f.name: str(params[f.name]).strip() for f in FIELDS if str(params.get(f.name) or "").strip()
    }
