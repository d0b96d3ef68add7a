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
