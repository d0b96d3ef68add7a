"""Name resolution: cached answers first, Sesame only when online, plain words when it fails."""

import pytest

from queries import resolver
from queries.errors import NameNotResolved
from queries.fields import parse_form
from queries.models import ResolvedName
from queries.syntax import Cone

pytestmark = pytest.mark.django_db


def test_a_cached_name_resolves_offline_whatever_its_spelling(settings):
    settings.QUERIES_RESOLVER_ONLINE = False
    ResolvedName.objects.create(name_key="ngc1068", name="NGC 1068", ra=40.6696, dec=-0.0133)
    assert resolver.resolve("ngc_1068") == (40.6696, -0.0133)
    cone = parse_form({"source_name_resolver": "NGC-1068"}).constraints["source_name_resolver"]
    assert cone == Cone(40.6696, -0.0133, 10 / 60)


def test_online_answers_are_cached_including_unknown_names(settings, monkeypatch):
    settings.QUERIES_RESOLVER_ONLINE = True
    asked = []

    def sesame(name):  # the resolver's single network call, replaced: no network in tests
        asked.append(name)
        return (204.2538, -29.8658) if name == "M83" else None

    monkeypatch.setattr(resolver, "_ask_sesame", sesame)
    assert resolver.resolve("M83") == (204.2538, -29.8658)
    assert resolver.resolve("m 83") == (204.2538, -29.8658)
    with pytest.raises(NameNotResolved, match="not known to the name resolver"):
        resolver.resolve("No Such Galaxy")
    with pytest.raises(NameNotResolved):
        resolver.resolve("no_such galaxy")
    assert asked == ["M83", "No Such Galaxy"]


def test_an_unreachable_resolver_says_so_and_caches_nothing(settings, monkeypatch):
    settings.QUERIES_RESOLVER_ONLINE = True

    def broken(name):
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(resolver, "_ask_sesame", broken)
    with pytest.raises(NameNotResolved, match=r"did not answer.*Source name \(ALMA\)"):
        resolver.resolve("M83")
    assert not ResolvedName.objects.exists()


def _sesame_raising(monkeypatch, message):
    """Replace astropy's network call itself, so _ask_sesame's own reading of it is tested."""
    from astropy.coordinates import SkyCoord
    from astropy.coordinates.name_resolve import NameResolveError

    def from_name(name, *args, **kwargs):
        raise NameResolveError(message)

    monkeypatch.setattr(SkyCoord, "from_name", from_name)


def test_an_unknown_name_from_sesame_is_cached_as_not_found(settings, monkeypatch):
    settings.QUERIES_RESOLVER_ONLINE = True
    _sesame_raising(monkeypatch, "Unable to find coordinates for name 'Zorglub' using http://x")
    with pytest.raises(NameNotResolved, match="is not known to the name resolver"):
        resolver.resolve("Zorglub")
    assert ResolvedName.objects.get(name_key="zorglub").found is False


def test_sesame_unreachable_inside_astropy_is_not_cached_as_not_found(settings, monkeypatch):
    settings.QUERIES_RESOLVER_ONLINE = True
    _sesame_raising(monkeypatch, "All Sesame queries failed. Unable to retrieve coordinates.")
    with pytest.raises(NameNotResolved, match="did not answer"):
        resolver.resolve("M83")
    assert not ResolvedName.objects.exists()


def test_the_offline_message_says_plainly_what_happened(settings):
    settings.QUERIES_RESOLVER_ONLINE = False
    with pytest.raises(NameNotResolved) as caught:
        resolver.resolve("NGC 1068")
    assert str(caught.value) == (
        "Source name (resolver): 'NGC 1068' could not be resolved: the name resolver is not "
        "reachable from this portal. Try the 'Source name (ALMA)' field, which matches the "
        "names observers gave their targets, or give coordinates."
    )
    assert caught.value.field == "source_name_resolver"


def test_a_cached_not_found_answer_is_reported_without_asking_again(settings, monkeypatch):
    settings.QUERIES_RESOLVER_ONLINE = True
    ResolvedName.objects.create(name_key="zorglub", name="Zorglub", found=False)

    def never(name):
        raise AssertionError("the network must not be asked")

    monkeypatch.setattr(resolver, "_ask_sesame", never)
    with pytest.raises(NameNotResolved, match="not known"):
        resolver.resolve("ZORGLUB")


def test_several_names_search_around_each(settings):
    settings.QUERIES_RESOLVER_ONLINE = False
    ResolvedName.objects.create(name_key="m83", name="M83", ra=204.2538, dec=-29.8658)
    ResolvedName.objects.create(name_key="ngc1068", name="NGC 1068", ra=40.6696, dec=-0.0133)
    position = parse_form({"source_name_resolver": "M83 | NGC 1068"}).constraints[
        "source_name_resolver"
    ]
    assert position.alternatives == (
        Cone(204.2538, -29.8658, 10 / 60),
        Cone(40.6696, -0.0133, 10 / 60),
    )


@pytest.mark.parametrize("name", ["---", "x\x00y", "a" * 201])
def test_names_that_cannot_be_names_are_input_errors(settings, name):
    from queries.errors import QueryInputErrors

    settings.QUERIES_RESOLVER_ONLINE = False
    with pytest.raises(QueryInputErrors) as caught:
        parse_form({"source_name_resolver": name})
    assert "source_name_resolver" in caught.value.errors
