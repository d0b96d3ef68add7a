"""Column names the archive has used over the years, mapped onto ObsCore's.

ALMA's results come in three generations: the 2014-2015 "aq" web form (``Project code``,
``Member ous id``...), the 2022 web-UI exports (``ALMA source name``, ``Int. Time``...) and TAP
``ivoa.obscore``. Older names come with their own units, stated here next to the name, so that
``queries.units`` can convert them.
"""

from __future__ import annotations

# old name (lower-cased) -> (ObsCore column, unit of the old column or "" when already canonical)
LEGACY_COLUMNS: dict[str, tuple[str, str]] = {
    "project code": ("proposal_id", ""),
    "asa_project_code": ("proposal_id", ""),
    "source name": ("target_name", ""),
    "alma source name": ("target_name", ""),
    "ra": ("s_ra", "deg"),
    "dec": ("s_dec", "deg"),
    "galactic longitude": ("gal_longitude", "deg"),
    "gal. lon.": ("gal_longitude", "deg"),
    "galactic latitude": ("gal_latitude", "deg"),
    "gal. lat.": ("gal_latitude", "deg"),
    "band": ("band_list", ""),
    "spatial resolution": ("spatial_resolution", "arcsec"),
    "ang. res.": ("spatial_resolution", "arcsec"),
    "frequency resolution": ("spectral_resolution", "kHz"),
    "min. freq. res.": ("spectral_resolution", "kHz"),
    "integration": ("t_exptime", "s"),
    "int. time": ("t_exptime", "s"),
    "release date": ("obs_release_date", ""),
    "frequency support": ("frequency_support", ""),
    "velocity resolution": ("velocity_resolution", "m/s"),
    "min. vel. res.": ("velocity_resolution", "m/s"),
    "pol products": ("pol_states", ""),
    "observation date": ("t_min", "date"),
    "obs. date": ("t_min", "date"),
    "pi name": ("pi_name", ""),
    "pwv": ("pwv", "mm"),
    "member ous id": ("member_ous_uid", ""),
    "group ous id": ("group_ous_uid", ""),
    "asdm uid": ("asdm_uid", ""),
    "project title": ("obs_title", ""),
    "project type": ("type", ""),
    "type": ("type", ""),
    "scan intent": ("scan_intent", ""),
    "sb name": ("schedblock_name", ""),
    "proposal authors": ("proposal_authors", ""),
    "line sensitivity (10 km/s)": ("sensitivity_10kms", "mJy/beam"),
    "line sens. (10 km/s)": ("sensitivity_10kms", "mJy/beam"),
    "continuum sensitivity": ("cont_sensitivity_bandwidth", "mJy/beam"),
    "cont. sens.": ("cont_sensitivity_bandwidth", "mJy/beam"),
    "field of view": ("s_fov", "arcsec"),
    "fov": ("s_fov", "arcsec"),
    "largest angular scale": ("spatial_scale_max", "arcsec"),
    "max. reco. scale": ("spatial_scale_max", "arcsec"),
    "qa2 status": ("qa2_passed", ""),
    "science keyword": ("science_keyword", ""),
    "scientific category": ("scientific_category", ""),
    "mosaic": ("is_mosaic", ""),
    "footprint": ("s_region", ""),
    "collections": ("collections", ""),
    "lastmodified": ("last_modified", ""),
}

# ObsCore names that differ from the model's attribute names.
OBSCORE_RENAMES: dict[str, str] = {"lastModified": "last_modified"}

# Columns written by tools around the archive, not by the archive: dropped knowingly.
IGNORED_COLUMNS = frozenset({"", "unnamed: 0", "source_file", "col0", "index"})


def ignored(name: str) -> bool:
    """Whether a file's column is one of ``IGNORED_COLUMNS`` (else, not being an ObsCore
    column, it is kept in ``Observation.extra``): the one test every reader applies."""
    return name.strip().lower() in IGNORED_COLUMNS
