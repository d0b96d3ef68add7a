"""Units and time, declared once: the form and the tables read the same units; MJD is one sum."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from astropy.time import Time

from queries import columns as cols
from queries import syntax, units
from queries.fields import FIELDS

# Days with no leap second at their end (astropy's UTC MJD stretches such a day to 86401 s).
INSTANTS = [
    datetime(1995, 3, 1, 0, 0, tzinfo=UTC),
    datetime(2011, 9, 30, 23, 59, 59, 500000, tzinfo=UTC),
    datetime(2019, 2, 1, 16, 48, tzinfo=UTC),
    datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 7, 14, 6, 30, tzinfo=UTC),
]


@pytest.mark.parametrize("instant", INSTANTS, ids=str)
def test_mjd_agrees_with_astropys_time(instant):
    assert units.datetime_to_mjd(instant) == pytest.approx(Time(instant).mjd, abs=1e-9)
    back = units.mjd_to_datetime(Time(instant).mjd)
    assert abs(back - instant) < timedelta(microseconds=10)


def test_mjd_epoch_and_naive_or_day_inputs_mean_utc():
    assert units.datetime_to_mjd(units.MJD_EPOCH) == 0.0
    assert units.datetime_to_mjd(date(2019, 2, 1)) == 58515.0
    assert units.datetime_to_mjd(datetime(2019, 2, 1, 12)) == 58515.5
    assert units.mjd_to_datetime(58515.5) == datetime(2019, 2, 1, 12, tzinfo=UTC)


def test_the_query_syntax_dates_use_the_same_mjd():
    term = syntax.parse_date("start_date", "2019-02-01").terms[0].test
    assert (term.low, term.high) == (58515.0, 58516.0)


def test_the_form_and_the_table_show_a_column_in_the_same_unit():
    shared = [
        (f, cols.BY_NAME[f.columns[0]])
        for f in FIELDS
        if f.columns and f.columns[0] in cols.BY_NAME
    ]
    numeric = [(f, c) for f, c in shared if f.unit]
    assert {f.name for f, _ in numeric} >= {"fov", "bandwidth", "spectral_resolution"}
    for spec, column in numeric:
        assert spec.unit == column.unit == units.display_unit(column.name)


@pytest.mark.parametrize(
    ("column", "stored", "shown"),
    [
        ("s_fov", 20 / 3600, "20.0"),
        ("bandwidth", 1.875e9, "1.875"),
        ("spectral_resolution", 70e3, "70.0"),
        ("frequency", 100.0, "100.000"),
    ],
)
def test_tables_show_stored_values_in_the_display_unit(column, stored, shown):
    assert cols.display(cols.BY_NAME[column], stored) == shown
