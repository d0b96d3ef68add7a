"""factory_boy factories shared by every test package: users by role, the mirror's rows."""

from __future__ import annotations

from datetime import UTC, datetime

import factory
from django.contrib.auth import get_user_model

from apitokens import services as tokens
from queries import models as qm
from queries import units
from queries.names import name_key
from targets import models as tm

DEFAULT_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"member{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@lab.example.org")
    password = factory.django.Password(DEFAULT_PASSWORD)


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = qm.Project
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"2019.1.{n:05d}.S")
    title = factory.Faker("sentence", nb_words=6)
    abstract = factory.Faker("paragraph")
    pi_name = "Doe, Jane"


class MemberOUSFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = qm.MemberOUS
        django_get_or_create = ("uid",)

    uid = factory.Sequence(lambda n: f"uid://A001/X9999/X{n:x}")
    project = factory.SubFactory(ProjectFactory)
    release_date = datetime(2020, 1, 1, tzinfo=UTC)
    data_rights = "Public"


def _unit_vector(o) -> tuple[float | None, ...]:
    """The loader's own vector (``units.unit_vector``); none for a row without a position."""
    if o.s_ra is None or o.s_dec is None:
        return (None, None, None)
    return units.unit_vector(o.s_ra, o.s_dec)


class ObservationFactory(factory.django.DjangoModelFactory):
    """An ObsCore row; position, band and hierarchy consistent with each other."""

    class Meta:
        model = qm.Observation

    member_ous = factory.SubFactory(MemberOUSFactory)
    project = factory.SelfAttribute("member_ous.project")
    proposal_id = factory.SelfAttribute("member_ous.project.code")
    member_ous_uid = factory.SelfAttribute("member_ous.uid")
    obs_id = factory.Sequence(lambda n: f"uid://A001/X9999/Xobs{n}.source.T.spw.{n}")
    target_name = "NGC_1068"
    # The loader's own key: factories must not drift from what real loads store.
    target_name_key = factory.LazyAttribute(lambda o: name_key(o.target_name))
    s_ra = 40.669
    s_dec = -0.0133
    s_x = factory.LazyAttribute(lambda o: _unit_vector(o)[0])
    s_y = factory.LazyAttribute(lambda o: _unit_vector(o)[1])
    s_z = factory.LazyAttribute(lambda o: _unit_vector(o)[2])
    s_fov = 0.0069
    band_list = "3"
    band_mask = factory.LazyAttribute(lambda o: units.band_mask(o.band_list))
    frequency = 100.0
    spatial_resolution = 0.5
    spatial_scale_max = 5.0
    t_min = 58000.0
    t_max = 58000.1
    t_exptime = 1200.0
    obs_release_date = factory.SelfAttribute("member_ous.release_date")
    data_rights = factory.SelfAttribute("member_ous.data_rights")
    obs_title = factory.SelfAttribute("member_ous.project.title")
    proposal_abstract = factory.SelfAttribute("member_ous.project.abstract")
    pi_name = factory.SelfAttribute("member_ous.project.pi_name")
    science_observation = "T"
    is_mosaic = "F"


def token_for(user, *scopes: str, expires_at=None) -> str:
    """A personal API token's key for ``user`` (default scopes: read and download)."""
    _, key = tokens.issue(
        user=user, scopes=list(scopes or ("read", "download")), expires_at=expires_at
    )
    return key


class SavedSearchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = qm.SavedSearch

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"search {n}")
    params = factory.LazyFunction(lambda: {"band_list": "6"})


class ResolvedNameFactory(factory.django.DjangoModelFactory):
    """The resolver's cache (``queries.resolver``): what Sesame answered for a name, or that
    it did not know it (``found=False``). Tests seed it instead of asking Sesame."""

    class Meta:
        model = qm.ResolvedName
        django_get_or_create = ("name_key",)

    name = "NGC 1068"
    name_key = factory.LazyAttribute(lambda o: name_key(o.name))
    ra = 40.6696
    dec = -0.0133
    found = True


class TargetListFactory(factory.django.DjangoModelFactory):
    """A target list the worker has finished (add rows with ``TargetRowFactory``)."""

    class Meta:
        model = tm.TargetList

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"targets {n}")
    phase = "done"


class TargetRowFactory(factory.django.DjangoModelFactory):
    """A searched row: a cone of ``radius`` degrees around (ra, dec)."""

    class Meta:
        model = tm.TargetRow

    target_list = factory.SubFactory(TargetListFactory)
    number = factory.Sequence(lambda n: n + 1)
    text = factory.LazyAttribute(lambda o: f"{o.ra} {o.dec}, {o.radius}")
    label = factory.LazyAttribute(lambda o: o.text)
    ra = 40.669
    dec = -0.0133
    radius = 0.05
    status = "searched"
    match_count = 0
