"""The archive client against a local replay of real ALMA responses; nothing leaves loopback."""

import pytest

from queries.archive.client import get_client
from queries.errors import ArchiveRejected, ArchiveUnavailable


def test_tap_returns_the_real_rows_of_a_project(archive_server):
    rows = get_client().query_obscore(
        "SELECT * FROM ivoa.obscore WHERE LOWER(proposal_id) LIKE '2017.1.00079.s'", max_rows=100
    )
    assert rows
    assert {r["proposal_id"] for r in rows} == {"2017.1.00079.S"}
    assert archive_server.queries[-1].startswith("SELECT * FROM ivoa.obscore")
    assert all(r.path.startswith("/tap") for r in archive_server.requests)


def test_tap_replays_a_real_votable_verbatim(archive_server):
    rows = get_client().query_obscore("SELECT TOP 5 * FROM ivoa.obscore", max_rows=5)
    assert len(rows) == 5
    assert any(str(r["s_region"]).startswith("Union") or "Not" in str(r["s_region"]) for r in rows)


def test_an_unavailable_archive_raises_the_transient_error(archive_server):
    archive_server.set_mode("unavailable")
    with pytest.raises(ArchiveUnavailable):
        get_client().query_obscore("SELECT * FROM ivoa.obscore", max_rows=1)


def test_a_rejected_query_carries_the_archives_reason(archive_server):
    archive_server.set_mode("reject")
    with pytest.raises(ArchiveRejected, match="Column 'bogus' does not exist"):
        get_client().query_obscore("SELECT bogus FROM ivoa.obscore", max_rows=1)


def test_a_slow_archive_times_out_as_unavailable(archive_server, settings):
    settings.ARCHIVE_TIMEOUT = 0.5
    archive_server.set_mode("slow", slow_seconds=20)
    with pytest.raises(ArchiveUnavailable):
        get_client().query_obscore("SELECT * FROM ivoa.obscore", max_rows=1)


def test_a_slow_datalink_times_out_as_unavailable(archive_server, settings):
    # pyvo's DataLink service carries no timeout of its own: the client must give it the timed
    # session too, or this call waits out the slow archive and succeeds.
    settings.ARCHIVE_TIMEOUT = 0.5
    archive_server.set_mode("slow", slow_seconds=20)
    with pytest.raises(ArchiveUnavailable, match="DataLink"):
        get_client().datalink("uid://A001/X12a3/Xe9")
    assert [r.path for r in archive_server.requests] == ["/datalink/sync"]


def test_tap_and_datalink_both_go_through_the_clients_one_timed_session(archive_server, settings):
    settings.ARCHIVE_TIMEOUT = 7.0
    client = get_client()
    sent = []

    def record(response, *args, **kwargs):
        # ``connection`` is the adapter that sent the request: the one that sets the timeout.
        sent.append((response.request.path_url.split("?")[0], response.connection.timeout))

    client.session.hooks["response"].append(record)
    client.query_obscore("SELECT TOP 5 * FROM ivoa.obscore", max_rows=5)
    client.datalink("uid://A001/X12a3/Xe9")
    assert sent == [("/tap/sync", 7.0), ("/datalink/sync", 7.0)]


def test_a_datalink_error_document_is_a_rejection_with_the_archives_reason(archive_server):
    with pytest.raises(ArchiveRejected, match="NotFoundFault"):
        get_client().datalink("uid://A001/X0/X0")


def test_nothing_listening_is_unavailable(settings):
    settings.ARCHIVE_URL = "http://127.0.0.1:9"
    with pytest.raises(ArchiveUnavailable):
        get_client().query_obscore("SELECT * FROM ivoa.obscore", max_rows=1)


def test_datalink_lists_the_real_deliverables(archive_server):
    entries = get_client().datalink("uid://A001/X12a3/Xe9")
    files = {e.access_url.rsplit("/", 1)[-1]: e for e in entries if e.access_url}
    product = files["2017.1.01185.S_uid___A001_X12a3_Xe9_001_of_001.tar"]
    assert product.content_length == 556278784
    assert product.semantics == "#this"
    assert sum(1 for e in entries if e.semantics == "#progenitor") == 4
