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
    name: str  # ALMA's parameter name (astroquery payload keyword)
    label: str
    group: str
    kind: str  # numeric, date, string, name_alma, name_resolver, position, galactic, bands,
    #            choice, yesno, array, polarisation
    columns: tuple[str, ...] = ()  # the Observation column(s) searched
    unit: str = ""  # the unit users type and read
    scale: float = 1.0  # typed value * scale = stored value (units.CANONICAL_UNITS)
    help: str = ""
    placeholder: str = ""  # one example, shown in the empty box
    examples: str = ""  # several examples, from ALMA's tooltips where it had them
    choices: tuple[str, ...] = field(default=())
    match: str = "contains"  # strings: substring unless wildcards ("contains") or "exact"

    @property
    def syntax(self) -> str:
        """What the field accepts, for the tooltip and for every error message on it."""
        general = {
            "numeric": syntax.NUMERIC_SYNTAX,
            "date": syntax.DATE_SYNTAX,
            "string": syntax.STRING_SYNTAX,
            "name_alma": syntax.STRING_SYNTAX,
            "name_resolver": "one source name known to Sesame (SIMBAD, NED, VizieR), no operators",
            "position": syntax.POSITION_SYNTAX,
            "galactic": syntax.GALACTIC_SYNTAX,
            "bands": syntax.BAND_SYNTAX,
            "choice": "one of the listed values (a|b for several), or text with * and ?",
            "yesno": YES_NO_SYNTAX,
            "array": "12m, 7m or TP (a|b for several)",
            "polarisation": "Single, Dual or Full (a|b for several)",
        }[self.kind]
        if self.kind == "numeric":
            unit = f" in {self.unit}" if self.unit else ""
            return f"numbers{unit}, e.g. {self.examples or self.placeholder}; operators {general}"
        if self.examples and self.kind in ("string", "name_alma", "date"):
            return f"e.g. {self.examples}; {general}"
        return general


F = FieldSpec
FIELDS: tuple[FieldSpec, ...] = (
    # --- Position
    F(
        "source_name_resolver",
        "Source name (resolver)",
        "Position",
        "name_resolver",
        ("s_ra", "s_dec"),
        help="Resolved to coordinates by Sesame (SIMBAD, NED, VizieR), then searched within "
        "10 arcmin. No operators or wildcards.",
        placeholder="NGC 1068",
        examples="Cen A, NGC3375, ARP220",
    ),
    F(
        "source_name_alma",
        "Source name (ALMA)",
        "Position",
        "name_alma",
        ("target_name_key",),
        help="The target name as the observer typed it; case, spaces, _ and - are ignored "
        "(NGC_1068 = ngc 1068). Wildcards * and ? and | for alternatives.",
        placeholder="NGC_1068",
        examples='GRB021004 | "R Scl", NGC*',
        match="exact",
    ),
    F(
        "ra_dec",
        "RA Dec (ICRS)",
        "Position",
        "position",
        ("s_ra", "s_dec"),
        unit="deg",
        help="A cone 'RA Dec, radius' (radius in degrees, or with arcmin/arcsec; 10 arcmin if "
        "omitted) matching every observation whose field comes within the radius; or ranges "
        "'RA Dec' such as '181..185 >-0.1928'.",
        placeholder="12:13:14.0 -00:01:02.1, 0.05",
    ),
    F(
        "galactic",
        "Galactic l b",
        "Position",
        "galactic",
        ("gal_longitude", "gal_latitude"),
        unit="deg",
        help="A cone 'l b, radius' in galactic degrees, or ranges such as '359..360 -1..1'.",
        placeholder="0.0 0.0, 1deg",
    ),
    F(
        "spatial_resolution",
        "Angular resolution",
        "Position",
        "numeric",
        ("spatial_resolution",),
        unit="arcsec",
        help="Average of the largest and smallest angular resolution of the spectral windows.",
        placeholder="<0.5",
        examples="<0.5, 0.1..0.3, >1",
    ),
    F(
        "spatial_scale_max",
        "Largest angular scale",
        "Position",
        "numeric",
        ("spatial_scale_max",),
        unit="arcsec",
        help="The largest structure the observation recovers.",
        placeholder=">10",
        examples=">10, 5..20",
    ),
    F(
        "fov",
        "Field of view",
        "Position",
        "numeric",
        ("s_fov",),
        unit="arcsec",
        scale=1 / 3600,
        help="Diameter of the observed field (typed in arcsec; stored in degrees).",
        placeholder=">60",
        examples=">60, 20..30",
    ),
    # --- Energy
    F(
        "frequency",
        "Frequency",
        "Energy",
        "numeric",
        ("frequency",),
        unit="GHz",
        help="Observed (tuned) reference frequency on the sky.",
        placeholder="84..116",
        examples=">100, <300, 100..300, !(100..300), 84..116|211..275",
    ),
    F(
        "bandwidth",
        "Bandwidth",
        "Energy",
        "numeric",
        ("bandwidth",),
        unit="GHz",
        scale=1e9,
        help="Total bandwidth (typed in GHz as on ALMA's form; stored in Hz).",
        placeholder=">1.8",
        examples="1.2..2.5, >2.5, <1.2",
    ),
    F(
        "spectral_resolution",
        "Spectral resolution",
        "Energy",
        "numeric",
        ("spectral_resolution",),
        unit="kHz",
        scale=1e3,
        help="Median channel width of the spectral windows (typed in kHz as on ALMA's form; "
        "stored in Hz).",
        placeholder="<500",
        examples="<70, >1e6, 2e6..3e6",
    ),
    F(
        "band_list",
        "Band",
        "Energy",
        "bands",
        ("band_mask",),
        help="ALMA receiver bands, matched as whole numbers (band 1 never matches band 10).",
        placeholder="3 6",
    ),
    # --- Time
    F(
        "start_date",
        "Observation date",
        "Time",
        "date",
        ("t_min",),
        help="Start of the first integration (UTC). A bare date means that whole day.",
        placeholder=">01-01-2019",
        examples=">01-01-2011, <31-12-2011, 01-01-2011..01-02-2011, 2019-06-30",
    ),
    F(
        "integration_time",
        "Integration time",
        "Time",
        "numeric",
        ("t_exptime",),
        unit="s",
        help="Total integration time on the field.",
        placeholder=">3600",
        examples=">12.5, <30, 30..60, !(1..300)",
    ),
    # --- Polarisation
    F(
        "polarisation_type",
        "Polarisation",
        "Polarisation",
        "polarisation",
        ("pol_states",),
        help="Single (XX or YY), Dual (XX YY) or Full (XX XY YX YY) polarisation products.",
        choices=("Single", "Dual", "Full"),
    ),
    # --- Observation
    F(
        "line_sensitivity",
        "Line sensitivity (10 km/s)",
        "Observation",
        "numeric",
        ("sensitivity_10kms",),
        unit="mJy/beam",
        help="Estimated noise in a 10 km/s channel.",
        placeholder="<1",
        examples="<1, 0.5..2",
    ),
    F(
        "continuum_sensitivity",
        "Continuum sensitivity",
        "Observation",
        "numeric",
        ("cont_sensitivity_bandwidth",),
        unit="mJy/beam",
        help="Estimated noise in the aggregated continuum bandwidth.",
        placeholder="<0.1",
        examples="<0.1, 0.05..0.2",
    ),
    F(
        "water_vapour",
        "Water vapour",
        "Observation",
        "numeric",
        ("pwv",),
        unit="mm",
        help="Estimated precipitable water vapour.",
        placeholder="<1",
        examples="!null, <0.5|null, <0.49, >5.5",
    ),
    F(
        "mosaic",
        "Mosaic",
        "Observation",
        "yesno",
        ("is_mosaic",),
        help="Only mosaics (yes) or only single fields (no).",
        choices=("yes", "no"),
    ),
    F(
        "array",
        "Array",
        "Observation",
        "array",
        ("member_ous__antenna_array",),
        help="The 12-m array, the 7-m array (ACA) or the Total Power antennas.",
        choices=("12m", "7m", "TP"),
    ),
    # --- Project
    F(
        "project_code",
        "Project code",
        "Project",
        "string",
        ("proposal_id",),
        help="YYYY.C.NNNNN.T; * and ? wildcards.",
        match="exact",
        placeholder="2017.1.00079.S or 2017.1.*",
        examples="2011.0.00131.S, 2017.*, 2013.?.*.S, !(*.CSV|*.SIM)",
    ),
    F(
        "project_title",
        "Project title",
        "Project",
        "string",
        ("obs_title",),
        help="Case-insensitive; plain text matches anywhere in the title.",
        placeholder="*galaxies*",
        examples="*GALAXY*, *?ebula*, dense gas",
    ),
    F(
        "pi_name",
        "PI name",
        "Project",
        "string",
        ("pi_name", "obs_creator_name"),
        help="Case-insensitive; plain text matches anywhere in the PI's full name.",
        placeholder="Ueda*",
        examples="Smith, Fred | SMI*",
    ),
    F(
        "proposal_authors",
        "Proposal authors",
        "Project",
        "string",
        ("proposal_authors",),
        help="Case-insensitive; plain text matches anywhere in the list of co-investigators.",
        examples="Ginsburg",
    ),
    F(
        "project_abstract",
        "Abstract",
        "Project",
        "string",
        ("proposal_abstract",),
        help="Case-insensitive; plain text matches anywhere in the proposal abstract.",
        placeholder="outflow",
        examples="outflow, *disk*wind*",
    ),
    F(
        "science_keyword",
        "Science keyword",
        "Project",
        "choice",
        ("science_keyword",),
        help="ALMA's science keywords (a project may have several).",
        choices=SCIENCE_KEYWORDS,
    ),
    F(
        "scientific_category",
        "Scientific category",
        "Project",
        "choice",
        ("scientific_category",),
        help="ALMA's scientific categories.",
        choices=SCIENTIFIC_CATEGORIES,
    ),
    # --- Publication
    F(
        "bibcode",
        "Bibcode",
        "Publication",
        "string",
        ("bib_reference",),
        help="ADS bibcodes of the papers that used the data.",
        placeholder="2019MNRAS*",
        examples="2019ApJ*, 2016A&A...585A..56L",
    ),
    F(
        "pub_title",
        "Publication title",
        "Publication",
        "string",
        ("pub_title",),
        help="Case-insensitive; plain text matches anywhere in the title.",
    ),
    F(
        "first_author",
        "First author",
        "Publication",
        "string",
        ("first_author",),
        help="Case-insensitive; plain text matches anywhere in the name.",
    ),
    F(
        "publication_year",
        "Publication year",
        "Publication",
        "numeric",
        ("publication_year",),
        help="Year the paper appeared.",
        placeholder="2018..2020",
        examples="2018..2020, >=2021",
    ),
    F(
        "published",
        "Published",
        "Publication",
        "yesno",
        ("bib_reference",),
        help="Only data used in a publication (yes) or never published (no).",
        choices=("yes", "no"),
    ),
    # --- Options
    F(
        "public_data",
        "Public data only",
        "Options",
        "yesno",
        ("obs_release_date",),
        help="Only data whose release date has passed (the rule downloads/access.py applies).",
        choices=("yes", "no"),
    ),
    F(
        "science_observation",
        "Science observations only",
        "Options",
        "yesno",
        ("science_observation",),
        help="Only science targets, no calibrators.",
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


# Other spellings of ALMA's parameter names seen in permalinks and astroquery payloads.
ALIASES = {"science_observations": "science_observation"}
MAX_NAME_LENGTH = 200


def parse_yes_no(spec: FieldSpec, text: str) -> bool:
    value = text.strip().lower()
    if value in ("yes", "y", "true", "t", "1", "on"):
        return True
    if value in ("no", "n", "false", "f", "0", "off"):
        return False
    raise QueryInputError(spec.name, text, "is neither yes nor no.", spec.syntax, label=spec.label)


def _parse_choices(spec: FieldSpec, text: str) -> frozenset[str]:
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


def _parse_names(spec: FieldSpec, text: str) -> syntax.Position:
    """Source names through the resolver; ``a | b`` searches around each."""
    from queries.resolver import resolve

    text = syntax.clean_text(spec.name, text, spec.syntax, spec.label)
    if len(text) > MAX_NAME_LENGTH:
        raise QueryInputError(
            spec.name, text, "is too long for a source name.", spec.syntax, label=spec.label
        )
    names = [n.strip().strip('"').strip() for n in text.split("|")]
    if not all(names):
        raise QueryInputError(
            spec.name, text, "has an empty name around '|'.", spec.syntax, label=spec.label
        )
    cones = tuple(syntax.Cone(*resolve(name), syntax.DEFAULT_RADIUS_DEG) for name in names)
    return cones[0] if len(cones) == 1 else syntax.AnyPosition(cones)


def parse_field(spec: FieldSpec, text: str) -> object:
    """One field's text -> its node; raises QueryInputError (NameNotResolved is one)."""
    kind, name, label, accepted = spec.kind, spec.name, spec.label, spec.syntax
    if kind == "numeric":
        return syntax.parse_numeric(name, text, label=label, scale=spec.scale, syntax=accepted)
    if kind == "date":
        return syntax.parse_date(name, text, label=label, syntax=accepted)
    if kind in ("string", "name_alma", "choice"):
        return syntax.parse_string(name, text, label=label, syntax=accepted)
    if kind in ("position", "galactic"):
        frame = "galactic" if kind == "galactic" else "icrs"
        return syntax.parse_position(name, text, label=label, frame=frame, syntax=accepted)
    if kind == "bands":
        return syntax.parse_bands(name, text, label=label, syntax=accepted)
    if kind == "yesno":
        return parse_yes_no(spec, text)
    if kind in ("array", "polarisation"):
        return _parse_choices(spec, text)
    if kind == "name_resolver":
        return _parse_names(spec, text)
    raise AssertionError(kind)


def _canonical(params: Mapping[str, str]) -> dict[str, str]:
    """Search fields with a non-empty value, aliases folded into ALMA's names, catalogue order."""
    given: dict[str, str] = {}
    for key in params:
        name = ALIASES.get(key, key)
        if name not in BY_NAME:
            continue
        value = str(params.get(key) or "").strip()
        if value and not given.get(name):
            given[name] = value
    return {f.name: given[f.name] for f in FIELDS if f.name in given}


def parse_form(params: Mapping[str, str]) -> ParsedQuery:
    """Parse every non-empty field; report every wrong field at once (``QueryInputErrors``)."""
    constraints: dict[str, object] = {}
    errors: dict[str, QueryInputError] = {}
    for name, text in _canonical(params).items():
        try:
            constraints[name] = parse_field(BY_NAME[name], text)
        except QueryInputError as exc:
            errors[name] = exc
    if errors:
        raise QueryInputErrors(errors)
    return ParsedQuery(constraints)


def query_params(params: Mapping[str, str]) -> dict[str, str]:
    """Just the search fields with a value, in the catalogue's order (for permalinks)."""
    return _canonical(params)
