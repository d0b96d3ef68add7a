"""One class per kind of search field: parse its text, filter the mirror, write the ADQL.

The field catalogue (``queries.fields.FIELDS``) gives each field an instance of one of these
classes, so what a field accepts, which mirror rows it selects and what it asks the archive are
written side by side, once. A new kind (a TAP-only column, a line finder) is a new class here and
a line in the catalogue; nothing dispatches on a kind's name.

Invariants: ``parse`` returns a node or raises ``QueryInputError`` naming the field and its
accepted syntax; ``q`` selects the mirror's rows exactly, OR-ing over every column the field
declares; ``adql`` selects at least those rows at the archive (``queries.adql`` says where it
must be wider), every literal escaped, or is None where the field restricts nothing there.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import reduce
from typing import TYPE_CHECKING, ClassVar

from django.db.models import Q

from archiveportal import clock
from queries import adql, filters, lines, syntax, units, upper_text
from queries.errors import QueryInputError
from queries.models import MemberOUS, Project
from queries.names import name_key
from queries.resolver import resolve

if TYPE_CHECKING:
    from queries.fields import FieldSpec, ParsedQuery
    from queries.selectors import KnownMatches

MAX_NAME_LENGTH = 200
# ObsCore columns that the per-project table holds once per project (``hierarchy.py`` fills
# it; ``pi_name`` there is the row's ``pi_name``, else ``obs_creator_name`` when that names a
# person rather than the observatory). A text field on these columns searches the small,
# trigram-indexed project table instead of every observation's copy.
PROJECT_COPIES = {
    "obs_title": "title",
    "proposal_abstract": "abstract",
    "pi_name": "pi_name",
    "obs_creator_name": "pi_name",
    "proposal_authors": "proposal_authors",
    "science_keyword": "science_keyword",
    "scientific_category": "scientific_category",
}
POLARISATION_STATES = {
    "single": ("/XX/", "/YY/", "/LL/", "/RR/"),
    "dual": ("/XX/YY/", "/LL/RR/"),
    "full": ("/XX/XY/YX/YY/", "/LL/LR/RL/RR/"),
}
ARRAY_ANTENNAS = {"12m": ("DA", "DV"), "7m": ("CM",), "tp": ("PM",)}


def _any_q(parts: Iterable[Q]) -> Q:
    return reduce(operator.or_, parts)


class Kind:
    """What one kind of field accepts and means; each subclass fills in all three methods."""

    name: ClassVar[str]  # what the form's template chooses a widget by
    syntax: ClassVar[str] = ""  # the accepted syntax, for the tooltip and every error message
    choices: tuple[str, ...] = ()

    def accepted(self, spec: FieldSpec) -> str:
        return f"e.g. {spec.examples}; {self.syntax}" if spec.examples else self.syntax

    def unit(self, spec: FieldSpec) -> str:
        return ""

    def parse(self, spec: FieldSpec, text: str) -> object:
        raise NotImplementedError

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        raise NotImplementedError

    def adql(self, spec: FieldSpec, node) -> str | None:
        raise NotImplementedError

    def reject(self, spec: FieldSpec, text: str, message: str) -> QueryInputError:
        return QueryInputError(spec.name, text, message, spec.syntax, label=spec.label)


# --- numbers and dates -----------------------------------------------------------------------


@dataclass(frozen=True)
class Numeric(Kind):
    """Numbers typed in the column's display unit (``units.display_unit``), stored converted."""

    name = "numeric"
    syntax = syntax.NUMERIC_SYNTAX

    def accepted(self, spec: FieldSpec) -> str:
        unit = f" in {spec.unit}" if spec.unit else ""
        return f"numbers{unit}, e.g. {spec.examples or spec.placeholder}; operators {self.syntax}"

    def unit(self, spec: FieldSpec) -> str:
        return units.display_unit(spec.columns[0])

    def parse(self, spec: FieldSpec, text: str) -> syntax.NumericConstraint:
        scale = units.display_scale(spec.columns[0])
        return syntax.parse_numeric(
            spec.name, text, label=spec.label, scale=scale, syntax=spec.syntax
        )

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        return _any_q(filters.numeric_q(column, node) for column in spec.columns)

    def adql(self, spec: FieldSpec, node) -> str:
        return adql.any_of([adql.numeric(column, node) for column in spec.columns])


@dataclass(frozen=True)
class Date(Numeric):
    """Days as MJD intervals on the column (a bare date is that whole UTC day)."""

    name = "date"
    syntax = syntax.DATE_SYNTAX
    accepted = Kind.accepted  # what Numeric adds (a unit, operators) is not a date's
    unit = Kind.unit

    def parse(self, spec: FieldSpec, text: str) -> syntax.NumericConstraint:
        return syntax.parse_date(spec.name, text, label=spec.label, syntax=spec.syntax)


# --- text ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text(Kind):
    """Case-insensitive text found anywhere in any of the columns, unless a wildcard or ALMA's
    ``=`` asks for the whole value. Project-level columns go through the project table."""

    name = "string"
    syntax = syntax.STRING_SYNTAX

    def parse(self, spec: FieldSpec, text: str) -> syntax.StringConstraint:
        return syntax.parse_string(spec.name, text, label=spec.label, syntax=spec.syntax)

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        copies = [PROJECT_COPIES.get(column) for column in spec.columns]
        if not all(copies):
            return filters.string_q(spec.columns, node, match="contains")
        columns = tuple(dict.fromkeys(copies))
        matching = filters.string_q(
            columns, node, match="contains", upper_copies=upper_text.copies(Project)
        )
        projects = Project.objects.filter(matching)
        return Q(project_id__in=projects.values("id"))

    def adql(self, spec: FieldSpec, node) -> str:
        return adql.string(spec.columns, node, match="contains")


@dataclass(frozen=True)
class Choice(Text):
    """ALMA's own list of values (the form offers them), matched as text."""

    name = "choice"
    syntax = "one of the listed values (a|b for several), or text with * and ?"
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProjectCode(Text):
    """Codes are upper case (2017.1.00079.S): compared as such and whole, so an index serves it."""

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        return filters.string_q(
            spec.columns, node, match="exact", key=str.upper, case_sensitive=True
        )

    def adql(self, spec: FieldSpec, node) -> str:
        upper = syntax.StringConstraint(
            tuple(replace(t, pattern=t.pattern.upper(), case_sensitive=True) for t in node.terms)
        )
        return adql.string(spec.columns, upper, match="exact")


def alma_name_key(pattern: str) -> str:
    """A source-name pattern in the loader's key form (``names.name_key``), wildcards kept."""
    return "".join(ch if ch in "*?" else name_key(ch) for ch in pattern)


@dataclass(frozen=True)
class SourceName(Text):
    """Target names as observers typed them, compared by ``names.name_key`` (the loader's key,
    lower case: ALMA's case-sensitive ``=`` cannot apply to it)."""

    name = "name_alma"

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        insensitive = syntax.StringConstraint(
            tuple(replace(t, case_sensitive=False) for t in node.terms)
        )
        return filters.string_q(spec.columns, insensitive, match="exact", key=alma_name_key)

    def adql(self, spec: FieldSpec, node) -> str:
        return adql.source_name(node)


# --- positions and bands ---------------------------------------------------------------------


@dataclass(frozen=True)
class Position(Kind):
    """Cones and ranges in ICRS or galactic degrees; cones are searched in ICRS."""

    frame: str = "icrs"
    name = "position"

    def accepted(self, spec: FieldSpec) -> str:
        return syntax.GALACTIC_SYNTAX if self.frame == "galactic" else syntax.POSITION_SYNTAX

    def unit(self, spec: FieldSpec) -> str:
        return units.display_unit(spec.columns[0])

    def parse(self, spec: FieldSpec, text: str) -> syntax.Position:
        return syntax.parse_position(
            spec.name, text, label=spec.label, frame=self.frame, syntax=spec.syntax
        )

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        return filters.position_q(node)

    def adql(self, spec: FieldSpec, node) -> str:
        return adql.position(node)


@dataclass(frozen=True)
class Resolver(Position):
    """Source names resolved to cones of the default radius; ``a | b`` searches around each."""

    name = "name_resolver"
    syntax = "one source name known to Sesame (SIMBAD, NED, VizieR), no operators"

    unit = Kind.unit

    def accepted(self, spec: FieldSpec) -> str:
        return self.syntax

    def parse(self, spec: FieldSpec, text: str) -> syntax.Position:
        text = syntax.clean_text(spec.name, text, spec.syntax, spec.label)
        if len(text) > MAX_NAME_LENGTH:
            raise self.reject(spec, text, "is too long for a source name.")
        names = [n.strip().strip('"').strip() for n in text.split("|")]
        if not all(names):
            raise self.reject(spec, text, "has an empty name around '|'.")
        cones = tuple(syntax.Cone(*resolve(name), syntax.DEFAULT_RADIUS_DEG) for name in names)
        return cones[0] if len(cones) == 1 else syntax.AnyPosition(cones)


@dataclass(frozen=True)
class TargetCones(syntax.AnyPosition):
    """The searched targets of one uploaded list: their cones, and each cone's label."""

    list_id: str = ""
    labels: tuple[str, ...] = ()
    matched_stamp: str = ""  # the mirror state the list's stored matches are of


@dataclass(frozen=True)
class Targets(Resolver):
    """An uploaded target list (``targets``) by its id: the OR of its searched rows' cones (the
    ADQL is the Position kind's; the mirror's filter the same cone test as one join). A
    Resolver whose names the list's worker resolved ahead (through ``queries.resolver``), so
    the search itself asks no one; who may use a list, and the labels of the result's
    ``target`` column, are ``targets``' business."""

    name = "target_list"
    syntax = "the id of a target list that is yours or shared with the lab (see /targets/)"

    def parse(self, spec: FieldSpec, text: str) -> TargetCones:
        from targets.selectors import list_for_search  # targets imports queries: lazily

        text = syntax.clean_text(spec.name, text, spec.syntax, spec.label)
        try:
            list_id = str(uuid.UUID(text))
        except ValueError:
            raise self.reject(spec, text, "is not the id of a target list.") from None
        found = list_for_search(list_id)
        if isinstance(found, str):
            raise self.reject(spec, text, found)
        return TargetCones(
            tuple(target.cone for target in found.targets),
            list_id=list_id,
            labels=tuple(target.label for target in found.targets),
            matched_stamp=found.matched_stamp,
        )

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        """The cone test of ``filters.cone_q``: the list's stored matches while they are
        current for the mirror, else one join (``targets.selectors.list_q`` and ``cones_q``
        say why: a list of 1,000 ORed cones took seconds)."""
        from targets.selectors import list_q

        return list_q(node)

    def count(self, spec: FieldSpec, node: TargetCones, others: ParsedQuery) -> int | None:
        """How many observations the search (the list and ``others``, the rest of it)
        matches, from the list's stored matches when they are current and answer ``others``,
        else None (``targets.selectors.match_count``)."""
        from targets.selectors import match_count

        return match_count(node, others)

    def project_matches(
        self, spec: FieldSpec, node: TargetCones, others: ParsedQuery
    ) -> KnownMatches | None:
        """The project view's reads from the list's stored matches, or None
        (``targets.selectors.known_matches``)."""
        from targets.selectors import known_matches

        return known_matches(node, others)

    def row_labels(self, spec: FieldSpec, node: TargetCones, obs_ids: list[str]) -> dict:
        """``obs_id`` -> the labels of the targets each of these rows matches (a result page's
        ``target`` column: one query for the rows' positions)."""
        from targets.selectors import page_labels

        return page_labels(node, obs_ids)

    def labels_at(self, spec: FieldSpec, node: TargetCones, positions) -> dict[str, str]:
        """The same for rows that carry their position: (obs_id, s_ra, s_dec, s_fov) each (an
        export's ``target`` column, no query)."""
        from targets.selectors import target_labels

        return target_labels(node, positions)

    def project_labels(
        self, spec: FieldSpec, node: TargetCones, others: Q, codes: list[str]
    ) -> dict[str, str]:
        """Project code -> the labels of the targets whose result rows are in that project (a
        project view page's ``target`` column); ``others`` is the rest of the search."""
        from targets.selectors import project_labels

        return project_labels(node, others, codes)


@dataclass(frozen=True)
class Bands(Kind):
    """ALMA receiver bands as whole numbers (band 1 never matches band 10)."""

    name = "bands"
    syntax = syntax.BAND_SYNTAX

    def parse(self, spec: FieldSpec, text: str) -> syntax.BandConstraint:
        return syntax.parse_bands(spec.name, text, label=spec.label, syntax=spec.syntax)

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        return filters.bands_q(node)

    def adql(self, spec: FieldSpec, node) -> str:
        return adql.bands(node)


# --- fixed lists -----------------------------------------------------------------------------


class OneOf(Kind):
    """A few fixed values, ``a|b`` (or ``a, b``) for several; the node is their lower case."""

    def parse(self, spec: FieldSpec, text: str) -> frozenset[str]:
        values = {v.strip().lower() for v in text.replace(",", "|").split("|") if v.strip()}
        if not values or not values <= {c.lower() for c in self.choices}:
            raise self.reject(spec, text, "is not one of " + ", ".join(self.choices) + ".")
        return frozenset(values)


@dataclass(frozen=True)
class Array(OneOf):
    """The member OUS's array; the archive's ``antenna_arrays`` says it by antenna names."""

    name = "array"
    syntax = "12m, 7m or TP (a|b for several)"
    choices = ("12m", "7m", "TP")

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        arrays = [c for c in self.choices if c.lower() in node]
        return Q(**{f"{spec.columns[0]}__in": arrays})

    def adql(self, spec: FieldSpec, node) -> str:
        likes = [
            f"antenna_arrays LIKE {adql.literal('%:' + prefix + '%')}"
            for value in sorted(node)
            for prefix in ARRAY_ANTENNAS[value]
        ]
        return "(" + " OR ".join(likes) + ")"


@dataclass(frozen=True)
class Polarisation(OneOf):
    name = "polarisation"
    syntax = "Single, Dual or Full (a|b for several)"
    choices = ("Single", "Dual", "Full")

    def _states(self, node: frozenset[str]) -> list[str]:
        return [s for v in sorted(node) for s in POLARISATION_STATES[v]]

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        return Q(**{f"{spec.columns[0]}__in": self._states(node)})

    def adql(self, spec: FieldSpec, node) -> str:
        states = ", ".join(adql.literal(s) for s in self._states(node))
        return f"{spec.columns[0]} IN ({states})"


class YesNo(Kind):
    """yes or no; the node is a bool."""

    name = "yesno"
    syntax = "yes or no"
    choices = ("yes", "no")

    def parse(self, spec: FieldSpec, text: str) -> bool:
        value = text.strip().lower()
        if value in ("yes", "y", "true", "t", "1", "on"):
            return True
        if value in ("no", "n", "false", "f", "0", "off"):
            return False
        raise self.reject(spec, text, "is neither yes nor no.")


@dataclass(frozen=True)
class Flag(YesNo):
    """ObsCore's 'T' flags. ``no_excludes=False``: "no" leaves the search unrestricted."""

    no_excludes: bool = True

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        flagged = Q(**{spec.columns[0]: "T"})
        if node:
            return flagged
        return ~flagged if self.no_excludes else Q()

    def adql(self, spec: FieldSpec, node) -> str | None:
        column = spec.columns[0]
        if node:
            return f"{column} = 'T'"
        return f"({column} IS NULL OR {column} <> 'T')" if self.no_excludes else None


@dataclass(frozen=True)
class NonEmpty(YesNo):
    """The column holds something (a bibcode: the data were published) or nothing."""

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        filled = Q(**{f"{spec.columns[0]}__gt": ""})
        return filled if node else ~filled

    def adql(self, spec: FieldSpec, node) -> str:
        column = spec.columns[0]
        if node:
            return f"({column} IS NOT NULL AND {column} <> '')"
        return f"({column} IS NULL OR {column} = '')"


@dataclass(frozen=True)
class Released(YesNo):
    """Public means released by the member OUS's rule (``MemberOUS.released_q``), the one
    downloads/access.py applies, on the portal clock; not a row's own date (rows of one member
    OUS may disagree) nor the archive's 'Public' mark. "no" leaves the search unrestricted, as
    on ALMA's form. The archive gets no clause at all (``queries.adql`` says why)."""

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        return MemberOUS.released_q(now or clock.now(), prefix="member_ous__") if node else Q()

    def adql(self, spec: FieldSpec, node) -> None:
        return None


# --- spectral lines ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineNode:
    """Lines sought (``(name, rest GHz)`` alternatives) and the redshift they are seen at."""

    lines: tuple[tuple[str, float], ...]
    redshift: float = 0.0

    def observed(self) -> list[tuple[str, float]]:
        return [
            (name, lines.observed_ghz(rest, redshift=self.redshift)) for name, rest in self.lines
        ]


@dataclass(frozen=True)
class Line(Kind):
    """The line finder: rows whose spectral windows (not just their reference frequency) cover
    a line at the redshift of the ``redshift`` field; ADQL asks ALMA for rows whose own window
    (``em_min..em_max``, one spectral window per row) covers it."""

    name = "line"
    syntax = (
        "a line of the catalogue, e.g. CO(3-2), HCO+(4-3), [CII], or a rest frequency in GHz "
        "(345.796, or with a unit: 345796 MHz); a|b for either"
    )

    def parse(self, spec: FieldSpec, text: str) -> LineNode:
        text = syntax.clean_text(spec.name, text, spec.syntax, spec.label)
        found = []
        for part in (p.strip() for p in text.split("|")):
            line = lines.find(part)
            if line is not None:
                found.append((line.name, line.rest_ghz))
                continue
            rest = _rest_frequency(part)
            if rest is None:
                raise self.reject(
                    spec,
                    text,
                    f"'{part}' is neither a line of the catalogue nor a rest frequency.",
                )
            found.append((f"{rest:g} GHz", rest))
        return LineNode(tuple(found))

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        return filters.line_q([f for _, f in node.observed()])

    def adql(self, spec: FieldSpec, node) -> str:
        clauses = []
        for _, f in node.observed():
            metres = adql.number(units.SPEED_OF_LIGHT_KM_S * 1e3 / (f * 1e9))
            clauses.append(f"(em_min <= {metres} AND em_max >= {metres})")
        return adql.any_of(clauses)


def _rest_frequency(text: str) -> float | None:
    """``345.796``, ``345.796 GHz`` or ``345796 MHz`` -> GHz; None for anything else."""
    value = text.strip().lower().replace(" ", "")
    scale = 1.0
    for suffix, factor in (("ghz", 1.0), ("mhz", 1e-3)):
        if value.endswith(suffix):
            value, scale = value[: -len(suffix)], factor
            break
    try:
        rest = float(value) * scale
    except ValueError:
        return None
    return rest if 0 < rest < 10_000 else None


@dataclass(frozen=True)
class Redshift(Kind):
    """The redshift of the ``line`` field's lines: ``z``, or a velocity ``cz`` in km/s. It
    selects nothing alone; ``fields.parse_form`` hands it to the line."""

    name = "redshift"
    syntax = "a redshift, e.g. 0.00379, or a velocity cz in km/s, e.g. 1136 km/s; with a line"

    def parse(self, spec: FieldSpec, text: str) -> float:
        text = syntax.clean_text(spec.name, text, spec.syntax, spec.label)
        value = text.lower().replace(" ", "")
        velocity = value.endswith(("km/s", "kms"))
        value = value.removesuffix("km/s").removesuffix("kms").removeprefix("z=").removeprefix("v=")
        try:
            number = float(value)
        except ValueError:
            raise self.reject(spec, text, "is not a number.") from None
        z = lines.redshift_of_velocity(number) if velocity else number
        if not -0.01 < z < lines.MAX_REDSHIFT:
            raise self.reject(
                spec, text, f"is out of range (z from -0.01 to {lines.MAX_REDSHIFT:g})."
            )
        return z

    def q(self, spec: FieldSpec, node, *, now: datetime | None = None) -> Q:
        return Q()

    def adql(self, spec: FieldSpec, node) -> None:
        return None
