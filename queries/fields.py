"""The search form's fields, keyed by ALMA's own parameter names (astroquery's payload keys).

One catalogue serves the form (labels, groups, help, units), the parser, the mirror's filter and
the ADQL, so that a permalink with ALMA's parameter names means the same everywhere. Each field
names its kind (``queries.kinds``: how it parses, filters and becomes ADQL) and the ObsCore
columns it searches; units are the columns' display units (``queries.units``), converted to
storage units as the text is parsed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from queries import kinds
from queries.choices import SCIENCE_KEYWORDS, SCIENTIFIC_CATEGORIES
from queries.errors import QueryInputError, QueryInputErrors


@dataclass(frozen=True)
class FieldSpec:
    name: str  # ALMA's parameter name (astroquery payload keyword)
    label: str
    kind: kinds.Kind
    columns: tuple[str, ...] = ()  # the ObsCore column(s) searched, OR-ed
    help: str = ""
    placeholder: str = ""  # one example, shown in the empty box
    examples: str = ""  # several examples, from ALMA's tooltips where it had them
    group: str = ""  # set from CATALOGUE

    @property
    def syntax(self) -> str:
        """What the field accepts, for the tooltip and for every error message on it."""
        return self.kind.accepted(self)

    @property
    def unit(self) -> str:
        """The unit users type and read (``units.display_unit`` of the column)."""
        return self.kind.unit(self)

    @property
    def choices(self) -> tuple[str, ...]:
        return self.kind.choices

    def parse(self, text: str) -> object:
        """The field's text -> its node; raises QueryInputError (NameNotResolved is one)."""
        return self.kind.parse(self, text)


F = FieldSpec
# The form's groups, in ALMA's order, and their fields.
CATALOGUE: dict[str, tuple[FieldSpec, ...]] = {
    "Position": (
        F(
            "source_name_resolver",
            "Source name (resolver)",
            kinds.Resolver(),
            ("s_ra", "s_dec"),
            help="Resolved to coordinates by Sesame (SIMBAD, NED, VizieR), then searched within "
            "10 arcmin. No operators or wildcards.",
            placeholder="NGC 1068",
            examples="Cen A, NGC3375, ARP220",
        ),
        F(
            "source_name_alma",
            "Source name (ALMA)",
            kinds.SourceName(),
            ("target_name_key",),
            help="The target name as the observer typed it; case, spaces, _ and - are ignored "
            "(NGC_1068 = ngc 1068). Wildcards * and ? and | for alternatives.",
            placeholder="NGC_1068",
            examples='GRB021004 | "R Scl", NGC*',
        ),
        F(
            "ra_dec",
            "RA Dec (ICRS)",
            kinds.Position(),
            ("s_ra", "s_dec"),
            help="A cone 'RA Dec, radius' (radius in degrees, or with arcmin/arcsec; 10 arcmin if "
            "omitted) matching every observation whose field comes within the radius; or ranges "
            "'RA Dec' such as '181..185 >-0.1928'.",
            placeholder="12:13:14.0 -00:01:02.1, 0.05",
        ),
        F(
            "target_list",
            "Target list",
            kinds.Targets(),
            ("s_ra", "s_dec"),
            help="An uploaded list of source names or positions (Target lists, beside the "
            "form): observations near any of its targets, each row labelled with them.",
            placeholder="id from the Target lists page",
        ),
        F(
            "galactic",
            "Galactic l b",
            kinds.Position("galactic"),
            ("gal_longitude", "gal_latitude"),
            help="A cone 'l b, radius' in galactic degrees, or ranges such as '359..360 -1..1'.",
            placeholder="0.0 0.0, 1deg",
        ),
        F(
            "spatial_resolution",
            "Angular resolution",
            kinds.Numeric(),
            ("spatial_resolution",),
            help="Average of the largest and smallest angular resolution of the spectral windows.",
            placeholder="<0.5",
            examples="<0.5, 0.1..0.3, >1",
        ),
        F(
            "spatial_scale_max",
            "Largest angular scale",
            kinds.Numeric(),
            ("spatial_scale_max",),
            help="The largest structure the observation recovers.",
            placeholder=">10",
            examples=">10, 5..20",
        ),
        F(
            "fov",
            "Field of view",
            kinds.Numeric(),
            ("s_fov",),
            help="Diameter of the observed field (typed in arcsec; stored in degrees).",
            placeholder=">60",
            examples=">60, 20..30",
        ),
    ),
    "Energy": (
        F(
            "frequency",
            "Frequency",
            kinds.Numeric(),
            ("frequency",),
            help="Observed (tuned) reference frequency on the sky.",
            placeholder="84..116",
            examples=">100, <300, 100..300, !(100..300), 84..116|211..275",
        ),
        F(
            "bandwidth",
            "Bandwidth",
            kinds.Numeric(),
            ("bandwidth",),
            help="Total bandwidth (typed in GHz as on ALMA's form; stored in Hz).",
            placeholder=">1.8",
            examples="1.2..2.5, >2.5, <1.2",
        ),
        F(
            "spectral_resolution",
            "Spectral resolution",
            kinds.Numeric(),
            ("spectral_resolution",),
            help="Median channel width of the spectral windows (typed in kHz as on ALMA's form; "
            "stored in Hz).",
            placeholder="<500",
            examples="<70, >1e6, 2e6..3e6",
        ),
        F(
            "band_list",
            "Band",
            kinds.Bands(),
            ("band_mask",),
            help="ALMA receiver bands, matched as whole numbers (band 1 never matches band 10).",
            placeholder="3 6",
        ),
        F(
            "line",
            "Line",
            kinds.Line(),
            ("em_min", "em_max"),
            help="Observations with a spectral window covering the line at the redshift below "
            "(each window of frequency_support, not the reference frequency). Rest frequencies "
            "from CDMS and JPL.",
            placeholder="CO(3-2)",
            examples="CO(3-2), HCN(4-3) | HCO+(4-3), [CII], 345.796",
        ),
        F(
            "redshift",
            "Redshift or velocity",
            kinds.Redshift(),
            (),
            help="Where the line is seen: f_obs = f_rest / (1 + z); a velocity is taken as cz.",
            placeholder="0.00379",
            examples="0.00379, 1136 km/s, 4.5",
        ),
    ),
    "Time": (
        F(
            "start_date",
            "Observation date",
            kinds.Date(),
            ("t_min",),
            help="Start of the first integration (UTC). A bare date means that whole day.",
            placeholder=">01-01-2019",
            examples=">01-01-2011, <31-12-2011, 01-01-2011..01-02-2011, 2019-06-30",
        ),
        F(
            "integration_time",
            "Integration time",
            kinds.Numeric(),
            ("t_exptime",),
            help="Total integration time on the field.",
            placeholder=">3600",
            examples=">12.5, <30, 30..60, !(1..300)",
        ),
    ),
    "Polarisation": (
        F(
            "polarisation_type",
            "Polarisation",
            kinds.Polarisation(),
            ("pol_states",),
            help="Single (XX or YY), Dual (XX YY) or Full (XX XY YX YY) polarisation products.",
        ),
    ),
    "Observation": (
        F(
            "line_sensitivity",
            "Line sensitivity (10 km/s)",
            kinds.Numeric(),
            ("sensitivity_10kms",),
            help="Estimated noise in a 10 km/s channel.",
            placeholder="<1",
            examples="<1, 0.5..2",
        ),
        F(
            "continuum_sensitivity",
            "Continuum sensitivity",
            kinds.Numeric(),
            ("cont_sensitivity_bandwidth",),
            help="Estimated noise in the aggregated continuum bandwidth.",
            placeholder="<0.1",
            examples="<0.1, 0.05..0.2",
        ),
        F(
            "water_vapour",
            "Water vapour",
            kinds.Numeric(),
            ("pwv",),
            help="Estimated precipitable water vapour.",
            placeholder="<1",
            examples="!null, <0.5|null, <0.49, >5.5",
        ),
        F(
            "mosaic",
            "Mosaic",
            kinds.Flag(),
            ("is_mosaic",),
            help="Only mosaics (yes) or only single fields (no).",
        ),
        F(
            "array",
            "Array",
            kinds.Array(),
            ("member_ous__antenna_array",),
            help="The 12-m array, the 7-m array (ACA) or the Total Power antennas.",
        ),
    ),
    "Project": (
        F(
            "project_code",
            "Project code",
            kinds.ProjectCode(),
            ("proposal_id",),
            help="YYYY.C.NNNNN.T; * and ? wildcards.",
            placeholder="2017.1.00079.S or 2017.1.*",
            examples="2011.0.00131.S, 2017.*, 2013.?.*.S, !(*.CSV|*.SIM)",
        ),
        F(
            "project_title",
            "Project title",
            kinds.Text(),
            ("obs_title",),
            help="Case-insensitive; plain text matches anywhere in the title.",
            placeholder="*galaxies*",
            examples="*GALAXY*, *?ebula*, dense gas",
        ),
        F(
            "pi_name",
            "PI name",
            kinds.Text(),
            ("pi_name", "obs_creator_name"),
            help="Case-insensitive; plain text matches anywhere in the PI's full name.",
            placeholder="Ueda*",
            examples="Smith, Fred | SMI*",
        ),
        F(
            "proposal_authors",
            "Proposal authors",
            kinds.Text(),
            ("proposal_authors",),
            help="Case-insensitive; plain text matches anywhere in the list of co-investigators.",
            examples="Ginsburg",
        ),
        F(
            "project_abstract",
            "Abstract",
            kinds.Text(),
            ("proposal_abstract",),
            help="Case-insensitive; plain text matches anywhere in the proposal abstract.",
            placeholder="outflow",
            examples="outflow, *disk*wind*",
        ),
        F(
            "science_keyword",
            "Science keyword",
            kinds.Choice(SCIENCE_KEYWORDS),
            ("science_keyword",),
            help="ALMA's science keywords (a project may have several).",
        ),
        F(
            "scientific_category",
            "Scientific category",
            kinds.Choice(SCIENTIFIC_CATEGORIES),
            ("scientific_category",),
            help="ALMA's scientific categories.",
        ),
    ),
    "Publication": (
        F(
            "bibcode",
            "Bibcode",
            kinds.Text(),
            ("bib_reference",),
            help="ADS bibcodes of the papers that used the data.",
            placeholder="2019MNRAS*",
            examples="2019ApJ*, 2016A&A...585A..56L",
        ),
        F(
            "pub_title",
            "Publication title",
            kinds.Text(),
            ("pub_title",),
            help="Case-insensitive; plain text matches anywhere in the title.",
        ),
        F(
            "first_author",
            "First author",
            kinds.Text(),
            ("first_author",),
            help="Case-insensitive; plain text matches anywhere in the name.",
        ),
        F(
            "publication_year",
            "Publication year",
            kinds.Numeric(),
            ("publication_year",),
            help="Year the paper appeared.",
            placeholder="2018..2020",
            examples="2018..2020, >=2021",
        ),
        F(
            "published",
            "Published",
            kinds.NonEmpty(),
            ("bib_reference",),
            help="Only data used in a publication (yes) or never published (no).",
        ),
    ),
    "Options": (
        F(
            "public_data",
            "Public data only",
            kinds.Released(),
            ("obs_release_date",),
            help="Only data whose release date has passed (the rule downloads/access.py applies).",
        ),
        F(
            "science_observation",
            "Science observations only",
            kinds.Flag(no_excludes=False),
            ("science_observation",),
            help="Only science targets, no calibrators.",
        ),
    ),
}
FIELDS = tuple(replace(f, group=group) for group, fields in CATALOGUE.items() for f in fields)
BY_NAME: dict[str, FieldSpec] = {f.name: f for f in FIELDS}


@dataclass(frozen=True)
class ParsedQuery:
    """The parsed constraints of one search, keyed by ALMA parameter name."""

    constraints: Mapping[str, object]

    def __bool__(self) -> bool:
        return bool(self.constraints)

    def items(self) -> Iterator[tuple[FieldSpec, object]]:
        """(field, node) pairs, for the filter and the ADQL writer."""
        return ((BY_NAME[name], node) for name, node in self.constraints.items())


# Other spellings of ALMA's parameter names seen in permalinks and astroquery payloads.
ALIASES = {"science_observations": "science_observation"}


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
            constraints[name] = BY_NAME[name].parse(text)
        except QueryInputError as exc:
            errors[name] = exc
    _redshift_the_lines(constraints, errors)
    if errors:
        raise QueryInputErrors(errors)
    return ParsedQuery(constraints)


def _redshift_the_lines(constraints: dict[str, object], errors: dict[str, QueryInputError]) -> None:
    """The ``redshift`` field belongs to the ``line`` field: hand it over, or refuse it alone."""
    if "redshift" not in constraints:
        return
    if "line" in constraints:
        constraints["line"] = replace(constraints["line"], redshift=constraints["redshift"])
    elif "line" not in errors:
        spec = BY_NAME["redshift"]
        errors["redshift"] = QueryInputError(
            spec.name,
            str(constraints["redshift"]),
            "applies to a line: give the line too (the Line field).",
            spec.syntax,
            label=spec.label,
        )


def query_params(params: Mapping[str, str]) -> dict[str, str]:
    """Just the search fields with a value, in the catalogue's order (for permalinks)."""
    return _canonical(params)
