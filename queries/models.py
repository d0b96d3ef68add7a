"""The mirror of ALMA's archive metadata, and the rows behind searches.

``Observation`` holds one ``ivoa.obscore`` row with every column ALMA publishes, in the units
stated once in ``queries/units.py`` (the loader converts on the way in, nothing converts on the
way out). The hierarchy tables (``Project`` > ``ScienceGoal`` > ``GroupOUS`` > ``MemberOUS`` >
``ExecutionBlock``) and ``ArchiveFile`` are derived from the ObsCore rows and DataLink listings
and are what the download pages and the project view read; ``MemberOUS`` is the unit of
delivery, download and proprietary clock, so it carries the release date and the one rule
for "released at instant t" (``MemberOUS.is_released``, ``MemberOUS.objects.released``,
``MemberOUS.released_q``) that the access decider, the search filter, the project view and the
delegation pages all call.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, Value, When

from archiveportal import clock
from archiveportal.jobs import Job
from queries.units import PLACEHOLDER_RELEASE_YEAR, is_placeholder_release
from queries.upper_text import UpperCopy

# ALMA's "not delivered yet" date: anything from here on is never released.
PLACEHOLDER_RELEASE = datetime(PLACEHOLDER_RELEASE_YEAR, 1, 1, tzinfo=UTC)


def release_passed(release_date: datetime | None, at: datetime | None = None) -> bool:
    """THE release rule: released once the archive's stored instant has come (``<=``, so a
    member OUS is public exactly at its release instant); a missing date or ALMA's 3000-01-01
    placeholder is never released. ``at`` defaults to the portal clock (``archiveportal.clock``),
    which tests freeze. ``MemberOUS.released_q`` is the same rule in SQL."""
    at = at or clock.now()
    return not is_placeholder_release(release_date) and release_date <= at


class MemberOUSQuerySet(models.QuerySet):
    def released(self, at: datetime | None = None) -> MemberOUSQuerySet:
        """Member OUSs released at ``at`` (default: the portal clock's now)."""
        return self.filter(MemberOUS.released_q(at))

    def unreleased(self, at: datetime | None = None) -> MemberOUSQuerySet:
        """The rest, including a missing date (``exclude`` keeps NULLs)."""
        return self.exclude(MemberOUS.released_q(at))

    def with_release_passed(self, at: datetime | None = None) -> MemberOUSQuerySet:
        """Annotate ``release_passed`` (True/False, never NULL) for ``values()`` readers."""
        return self.annotate(
            release_passed=Case(
                When(MemberOUS.released_q(at), then=Value(True)),
                default=Value(False),
                output_field=models.BooleanField(),
            )
        )


class Project(models.Model):
    """One ALMA project (``proposal_id``), with the text fields searched per project."""

    code = models.CharField(max_length=64, unique=True)
    title = models.TextField(blank=True)
    abstract = models.TextField(blank=True)
    pi_name = models.CharField(max_length=256, blank=True, db_index=True)
    pi_userid = models.CharField(max_length=64, blank=True, db_index=True)
    proposal_authors = models.TextField(blank=True)
    science_keyword = models.TextField(blank=True)
    scientific_category = models.CharField(max_length=200, blank=True)
    # Labels the portal's own test/demo projects so nobody mistakes them for ALMA's.
    is_synthetic = models.BooleanField(default=False)
    # UPPER() of the texts the search finds through trigram indexes, kept by the database:
    # a case-insensitive search compares these as they are (``queries.upper_text``).
    title_upper = UpperCopy("title")
    abstract_upper = UpperCopy("abstract")
    pi_name_upper = UpperCopy("pi_name")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    @property
    def cycle(self) -> str:
        """``2011.0.00150.S`` -> ``0``; DDT/supplemental letters are kept as they are."""
        parts = self.code.split(".")
        return parts[1] if len(parts) > 1 else ""


class ProjectSummary(models.Model):
    """Per-project aggregates of its member OUSs, in a narrow table of its own.

    The band-only project view filters, counts and pages projects here (``band_mask``, the
    union of the member OUSs' bands, sorted by ``code``) without reading the wide project rows
    (abstracts) or joining 84k member OUSs to 31k projects, which took 30 ms on 1M rows.
    ``queries.hierarchy.refresh_summaries`` keeps it: ``rebuild_hierarchy`` (load and harvest)
    and ``synth_archive`` call it; migration 0004 filled it for the rows already there.
    """

    project = models.OneToOneField(
        Project, primary_key=True, on_delete=models.CASCADE, related_name="summary"
    )
    code = models.CharField(max_length=64, unique=True)  # Project.code: pages sort by it
    band_mask = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"summary of {self.code}"


class ObservedPosition(models.Model):
    """The observations reduced to what a cone and a band test read, one row per distinct
    (project, member OUS, position, band mask, source name), with the widest footprint there.

    ObsCore has a row per spectral window, so a member OUS repeats each pointing ~4 times with
    only the footprint differing: 1M rows are 247,524 positions (bench/README.md). A row
    matches a cone when its centre is within radius + s_fov/2, a test that only grows with
    s_fov, so "some row of this position matches" is the same test on the widest footprint:
    a cone-and-band project view reads these rows instead of the observations and finds the
    same (project, member OUS) pairs and source names (``queries.positions``, which keeps it;
    ``code`` is the project's, so projects rank without reading ``Project``).
    """

    # No database constraints: the rows are derived, in the transaction that wrote their
    # observations, from rows whose own keys hold; checking 2 x 247,524 keys at commit took
    # 2.4 s of a full refresh. Deleting a project or member OUS still takes its positions
    # (Django's cascade).
    project = models.ForeignKey(
        Project,
        on_delete=models.CASCADE,
        related_name="observed_positions",
        db_constraint=False,
    )
    member_ous = models.ForeignKey(
        "MemberOUS",
        null=True,
        on_delete=models.CASCADE,
        related_name="observed_positions",
        db_constraint=False,
    )
    code = models.CharField(max_length=64)  # Project.code: project pages sort by it
    target_name = models.CharField(max_length=256, blank=True)
    band_mask = models.PositiveIntegerField(default=0)
    s_ra = models.FloatField(null=True, blank=True)
    s_dec = models.FloatField(null=True, blank=True)
    s_x = models.FloatField(null=True, blank=True)
    s_y = models.FloatField(null=True, blank=True)
    s_z = models.FloatField(null=True, blank=True)
    s_fov = models.FloatField(null=True, blank=True)  # the widest of the position's rows

    def __str__(self) -> str:
        return f"{self.code} at ({self.s_ra}, {self.s_dec})"


class ScienceGoal(models.Model):
    """A science goal. ObsCore does not carry its uid; it comes from deliveries or the sample."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="science_goals")
    uid = models.CharField(max_length=64, blank=True, db_index=True)
    name = models.CharField(max_length=256, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "uid"], name="unique_science_goal_uid")
        ]

    def __str__(self) -> str:
        return self.name or self.uid or f"science goal of {self.project_id}"


class GroupOUS(models.Model):
    uid = models.CharField(max_length=64, unique=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="group_ouses")
    science_goal = models.ForeignKey(
        ScienceGoal, null=True, blank=True, on_delete=models.SET_NULL, related_name="group_ouses"
    )

    def __str__(self) -> str:
        return self.uid


class MemberOUS(models.Model):
    """The unit of delivery, download and proprietary period."""

    uid = models.CharField(max_length=64, unique=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="member_ouses")
    group_ous = models.ForeignKey(
        GroupOUS, null=True, blank=True, on_delete=models.SET_NULL, related_name="member_ouses"
    )
    # The archive's own release instant; None (unknown) and 3000-01-01 mean proprietary.
    release_date = models.DateTimeField(null=True, blank=True, db_index=True)
    data_rights = models.CharField(max_length=16, blank=True)
    # Per-MOUS aggregates kept by the loader so the project view never scans observations.
    band_mask = models.PositiveIntegerField(default=0)
    n_observations = models.PositiveIntegerField(default=0)
    n_sources = models.PositiveIntegerField(default=0)
    target_names = models.TextField(blank=True)
    t_exptime = models.FloatField(null=True, blank=True)  # seconds, summed over ASDMs
    t_min = models.FloatField(null=True, blank=True)  # MJD
    antenna_array = models.CharField(max_length=8, blank=True)  # 12m / 7m / TP

    objects = MemberOUSQuerySet.as_manager()

    class Meta:
        verbose_name = "member OUS"

    def __str__(self) -> str:
        return self.uid

    def is_released(self, at: datetime | None = None) -> bool:
        """Whether this member OUS's files are public at ``at`` (default: the portal clock)."""
        return release_passed(self.release_date, at)

    @staticmethod
    def released_q(at: datetime | None = None, *, prefix: str = "") -> Q:
        """``release_passed`` as a filter; ``prefix`` reaches the member OUS from another model
        (``"member_ous__"`` from ``Observation``). NULL dates never match."""
        at = at or clock.now()
        return Q(
            **{f"{prefix}release_date__lte": at, f"{prefix}release_date__lt": PLACEHOLDER_RELEASE}
        )


class ExecutionBlock(models.Model):
    """An execution block (one ASDM) of a member OUS."""

    asdm_uid = models.CharField(max_length=64, unique=True)
    member_ous = models.ForeignKey(
        MemberOUS, on_delete=models.CASCADE, related_name="execution_blocks"
    )
    schedblock_name = models.CharField(max_length=128, blank=True)

    def __str__(self) -> str:
        return self.asdm_uid


class FileCategory(models.TextChoices):
    PRODUCT = "product", "Product"
    AUXILIARY = "auxiliary", "Auxiliary"
    RAW = "raw", "Raw (ASDM)"
    RAW_SEMIPASS = "raw_semipass", "Raw (semipass)"
    README = "readme", "README"
    EXTERNAL = "external", "External"


class ArchiveFile(models.Model):
    """A deliverable file of a member OUS, as DataLink or the sample catalogue lists it.

    Its name, size and URL are protected while the member OUS is proprietary: only
    ``downloads.access`` may decide whether they are shown.
    """

    member_ous = models.ForeignKey(MemberOUS, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)
    category = models.CharField(max_length=16, choices=FileCategory.choices, db_index=True)
    size = models.BigIntegerField(null=True, blank=True)  # bytes
    checksum_sha256 = models.CharField(max_length=64, blank=True)
    access_url = models.URLField(max_length=500, blank=True)
    content_type = models.CharField(max_length=128, blank=True)
    semantics = models.CharField(max_length=32, blank=True)
    # Raw tars belong to one execution block.
    execution_block = models.ForeignKey(
        ExecutionBlock, null=True, blank=True, on_delete=models.SET_NULL, related_name="files"
    )
    is_synthetic = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member_ous", "name"], name="unique_file_per_mous")
        ]
        ordering = ["member_ous_id", "category", "name"]

    def __str__(self) -> str:
        return self.name


class Observation(models.Model):
    """One row of ALMA's ``ivoa.obscore``: every published column, normalised units.

    Units (see ``queries.units.CANONICAL_UNITS``): angles in degrees except
    ``spatial_resolution``, ``s_resolution`` and ``spatial_scale_max`` (arcsec); ``frequency``
    GHz; ``bandwidth``, ``spectral_resolution`` Hz; ``em_*`` metres; ``t_min``/``t_max`` MJD;
    ``t_exptime``/``t_resolution`` seconds; sensitivities mJy/beam; ``pwv`` mm;
    ``access_estsize`` kB.
    """

    # Identity and hierarchy
    obs_id = models.CharField(max_length=128, unique=True)
    obs_publisher_did = models.CharField(max_length=128, blank=True)
    obs_collection = models.CharField(max_length=16, blank=True)
    collections = models.CharField(max_length=128, blank=True)
    facility_name = models.CharField(max_length=16, blank=True)
    instrument_name = models.CharField(max_length=16, blank=True)
    dataproduct_type = models.CharField(max_length=16, blank=True)
    calib_level = models.IntegerField(null=True, blank=True)
    # Indexed in Meta: ``=`` and ``IN`` by obs_project_mous (it leads), a project-code pattern
    # (``2019.1.*``, ``LIKE 'prefix%'``) by obs_proposal_pattern (migration 0014).
    proposal_id = models.CharField(max_length=64)
    group_ous_uid = models.CharField(max_length=64, blank=True)
    member_ous_uid = models.CharField(max_length=64)
    asdm_uid = models.CharField(max_length=64, blank=True)
    schedblock_name = models.CharField(max_length=128, blank=True)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="observations"
    )
    member_ous = models.ForeignKey(
        MemberOUS, null=True, blank=True, on_delete=models.SET_NULL, related_name="observations"
    )

    # Target and position
    target_name = models.CharField(max_length=256, blank=True)
    # Lower-cased, with spaces, underscores and dashes removed: NGC_1068 == ngc 1068. Searched
    # case-insensitively only, so indexed as ``UPPER(target_name_key)`` (obs_target_key_upper,
    # obs_target_key_trgm); a plain btree of it served nothing (migration 0014).
    target_name_key = models.CharField(max_length=256, blank=True)
    s_ra = models.FloatField(null=True, blank=True)
    # No index of its own: obs_sky_cover (s_dec, s_ra, ...) serves every s_dec range (0004).
    s_dec = models.FloatField(null=True, blank=True)
    # Unit vector of (s_ra, s_dec): cone searches become a dot product, exact on any database.
    s_x = models.FloatField(null=True, blank=True)
    s_y = models.FloatField(null=True, blank=True)
    s_z = models.FloatField(null=True, blank=True)
    s_fov = models.FloatField(null=True, blank=True)
    s_region = models.TextField(blank=True)
    s_resolution = models.FloatField(null=True, blank=True)
    s_xel1 = models.IntegerField(null=True, blank=True)
    s_xel2 = models.IntegerField(null=True, blank=True)
    gal_longitude = models.FloatField(null=True, blank=True)
    gal_latitude = models.FloatField(null=True, blank=True)
    spatial_resolution = models.FloatField(null=True, blank=True)
    spatial_scale_max = models.FloatField(null=True, blank=True)
    is_mosaic = models.CharField(max_length=1, blank=True)

    # Spectral
    band_list = models.CharField(max_length=32, blank=True)
    # bit n set = band n. Indexed only as the lead of obs_band_sky_cover (0004): a band is a
    # quarter of the rows, and a plain index on it lured the planner into bitmap ANDs.
    band_mask = models.PositiveIntegerField(default=0)
    frequency = models.FloatField(null=True, blank=True, db_index=True)
    frequency_support = models.TextField(blank=True)
    bandwidth = models.FloatField(null=True, blank=True)
    spectral_resolution = models.FloatField(null=True, blank=True)
    em_min = models.FloatField(null=True, blank=True)
    em_max = models.FloatField(null=True, blank=True)
    em_res_power = models.FloatField(null=True, blank=True)
    em_resolution = models.FloatField(null=True, blank=True)
    em_xel = models.IntegerField(null=True, blank=True)
    velocity_resolution = models.FloatField(null=True, blank=True)
    sensitivity_10kms = models.FloatField(null=True, blank=True)
    cont_sensitivity_bandwidth = models.FloatField(null=True, blank=True)

    # Time
    t_min = models.FloatField(null=True, blank=True, db_index=True)
    t_max = models.FloatField(null=True, blank=True)
    t_exptime = models.FloatField(null=True, blank=True)
    t_resolution = models.FloatField(null=True, blank=True)
    t_xel = models.IntegerField(null=True, blank=True)
    obs_release_date = models.DateTimeField(null=True, blank=True)
    last_modified = models.DateTimeField(null=True, blank=True)  # ObsCore ``lastModified``

    # Polarisation and observing conditions
    pol_states = models.CharField(max_length=64, blank=True)
    pol_xel = models.IntegerField(null=True, blank=True)
    o_ucd = models.CharField(max_length=64, blank=True)
    pwv = models.FloatField(null=True, blank=True)
    antenna_arrays = models.TextField(blank=True)
    scan_intent = models.CharField(max_length=256, blank=True)
    science_observation = models.CharField(max_length=1, blank=True)
    qa2_passed = models.CharField(max_length=1, blank=True)
    type = models.CharField(max_length=16, blank=True)

    # Access
    access_url = models.CharField(max_length=500, blank=True)
    access_format = models.CharField(max_length=64, blank=True)
    access_estsize = models.BigIntegerField(null=True, blank=True)
    data_rights = models.CharField(max_length=16, blank=True)

    # Project and people
    obs_title = models.TextField(blank=True)
    obs_creator_name = models.CharField(max_length=256, blank=True)
    pi_name = models.CharField(max_length=256, blank=True)
    pi_userid = models.CharField(max_length=64, blank=True)
    proposal_abstract = models.TextField(blank=True)
    proposal_authors = models.TextField(blank=True)
    science_keyword = models.TextField(blank=True)
    scientific_category = models.CharField(max_length=200, blank=True)

    # Publications
    bib_reference = models.TextField(blank=True)
    pub_title = models.TextField(blank=True)
    first_author = models.TextField(blank=True)
    authors = models.TextField(blank=True)
    pub_abstract = models.TextField(blank=True)
    publication_year = models.IntegerField(null=True, blank=True)

    # Columns a source had that ObsCore does not define: kept, never dropped.
    extra = models.JSONField(default=dict, blank=True)
    source_file = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["proposal_id", "member_ous_uid"], name="obs_project_mous"),
            models.Index(
                fields=["proposal_id"],
                name="obs_proposal_pattern",
                opclasses=["varchar_pattern_ops"],
            ),
            models.Index(fields=["group_ous_uid"], name="obs_group_ous_uid"),
            models.Index(fields=["member_ous_uid"], name="obs_member_ous_uid"),
            models.Index(fields=["asdm_uid"], name="obs_asdm_uid"),
        ]

    def __str__(self) -> str:
        return self.obs_id


class SpectralWindow(models.Model):
    """One spectral window of an observation row: what the line finder and the spectral view
    read (``queries.spectral.row_windows`` says which of ``frequency_support``'s windows are the
    row's own). Rebuilt with the hierarchy (``queries.spectral.rebuild_windows``), never edited.

    A line at ``f`` GHz is covered when ``lo_ghz <= f <= hi_ghz``; with the widest window in
    hand the index answers ``lo_ghz BETWEEN f - widest AND f`` and checks ``hi_ghz`` in place.
    """

    observation = models.ForeignKey(
        Observation, on_delete=models.CASCADE, related_name="spectral_windows"
    )
    lo_ghz = models.FloatField()
    hi_ghz = models.FloatField()
    channel_hz = models.FloatField(null=True)  # None: the source did not say

    class Meta:
        indexes = [
            models.Index(fields=["lo_ghz", "hi_ghz", "observation"], name="spw_range"),
        ]

    def __str__(self) -> str:
        return f"{self.lo_ghz:.3f}..{self.hi_ghz:.3f} GHz"


class ResolvedName(models.Model):
    """A resolver's answer for a source name, cached so offline searches still work."""

    name_key = models.CharField(max_length=256, unique=True)
    name = models.CharField(max_length=256)
    ra = models.FloatField(null=True, blank=True)
    dec = models.FloatField(null=True, blank=True)
    found = models.BooleanField(default=True)
    resolved_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class DisplayMode(models.TextChoices):
    RAW = "raw", "Raw data"
    PROJECT = "project", "Project"


class Search(Job):
    """One execution of a query: its parameters, phase and result counts. A ``SavedSearch`` is
    a model of its own: parameters under a name, opened as a permalink to the search page."""

    task_name = "queries.run_search"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="searches"
    )
    # The form's values keyed by ALMA's parameter names (the permalink's query string).
    params = models.JSONField(default=dict)
    result_view = models.CharField(
        max_length=8, choices=DisplayMode.choices, default=DisplayMode.RAW
    )
    live = models.BooleanField(default=False)  # also ask the configured archive
    result_count = models.PositiveIntegerField(null=True, blank=True)
    archive_rows = models.PositiveIntegerField(null=True, blank=True)
    # A notice for the user (e.g. "archive unavailable; showing mirror results").
    notice = models.TextField(blank=True)
    adql = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]


class SavedSearch(models.Model):
    class Visibility(models.TextChoices):
        PRIVATE = "private", "Only me"
        LAB = "lab", "Lab-wide"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    params = models.JSONField(default=dict)
    result_view = models.CharField(
        max_length=8, choices=DisplayMode.choices, default=DisplayMode.RAW
    )
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_saved_search_name")
        ]

    def __str__(self) -> str:
        return self.name


class ColumnPreference(models.Model):
    """The raw-view columns a member chose and how they read, kept between sessions."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="column_preference"
    )
    columns = models.JSONField(default=list)
    # How positions and the spectral axis read (``queries.columns.displayed``).
    coordinates = models.CharField(
        max_length=12,
        default="degrees",
        choices=[("degrees", "degrees"), ("sexagesimal", "sexagesimal")],
    )
    spectral = models.CharField(
        max_length=12,
        default="frequency",
        choices=[("frequency", "frequency"), ("wavelength", "wavelength")],
    )

    def __str__(self) -> str:
        return f"columns of {self.user}"


class PendingIndexes(models.Model):
    """Indexes and keys a bulk load dropped and committed its rows without
    (``queries.pending_indexes``): built beside the load's derived work, and kept here until
    they are, so that a load killed in between leaves them for the next bulk load to build."""

    label = models.CharField(max_length=64)  # the load that dropped them
    definitions = models.JSONField()  # ``queries.bulk_indexes.drop``'s statements
    # ``pending_indexes.FIRST_LOAD`` until the load's own derived work commits: a load that
    # did not get that far is undone (``pending_indexes.undo_first_load``).
    undo = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"indexes pending since {self.label} at {self.created_at:%Y-%m-%d %H:%M}"
