"""``{% path %}`` writes what ``{% url %}`` writes for a route without arguments, under whatever
script prefix the portal is mounted, and the search page's fixed links use it."""

from __future__ import annotations

import pytest
from django.template import engines
from django.urls import reverse, set_script_prefix

NAMES = ["queries:search", "queries:run", "downloads:basket", "logout", "watches:calendar"]


def _render(source: str) -> str:
    return engines["django"].from_string("{% load portal_urls %}" + source).render({})


@pytest.mark.parametrize("name", NAMES)
def test_path_writes_what_url_writes(name):
    assert _render(f"{{% path '{name}' %}}") == reverse(name)
    assert _render(f"{{% path '{name}' %}}") == _render(f"{{% url '{name}' %}}")


def test_path_follows_the_script_prefix_the_portal_is_mounted_under():
    one = engines["django"].from_string("{% load portal_urls %}{% path 'queries:search' %}")
    assert one.render({}) == "/aq/"
    try:
        set_script_prefix("/portal/")
        assert one.render({}) == "/portal/aq/"  # the same tag, now under a prefix
    finally:
        set_script_prefix("/")
    assert one.render({}) == "/aq/"


def test_path_stores_a_variable_as_url_does():
    assert _render("{% path 'queries:search' as s %}[{{ s }}]") == f"[{reverse('queries:search')}]"


@pytest.mark.django_db
def test_the_search_page_links_where_reverse_says(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="linker"))
    page = client.get("/aq/", {"band_list": "6"}).text
    for name in ("queries:search", "queries:run", "downloads:basket", "watches:calendar"):
        assert f'"{reverse(name)}' in page


def test_path_rejects_what_it_cannot_resolve_once():
    from django.template import TemplateSyntaxError

    for source in ("{% path search_url %}", "{% path 'a' 'b' %}", "{% path 'a' to b %}"):
        with pytest.raises(TemplateSyntaxError):
            _render(source)
