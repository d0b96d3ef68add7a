"""File names, which may be proprietary, never reach the logs."""

import logging

from archiveportal.logfilters import HideFileNames


def test_data_portal_paths_are_cut_from_log_records():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Forbidden: %s",
        ("/dataPortal/2099.1.99901.S_uid___A001_X_001_of_001.tar",),
        None,
    )
    HideFileNames().filter(record)
    assert record.getMessage() == "Forbidden: /dataPortal/<file>"


def test_other_records_are_untouched():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "claimed %s", ("abc",), None)
    HideFileNames().filter(record)
    assert record.getMessage() == "claimed abc"
