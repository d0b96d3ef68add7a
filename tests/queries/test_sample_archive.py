"""The bundled sample archive: real rows, labelled synthetic projects, servable files."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest
from django.core.management import call_command
from django.utils import timezone

from queries.archive import sample as bundled
from queries.models import ArchiveFile, FileCategory, GroupOUS, MemberOUS, Project

pytestmark = pytest.mark.django_db


def test_real_and_synthetic_projects_are_told_apart(sample):
    assert Project.objects.filter(is_synthetic=False).count() == 50  # 49 + the DataLink one
    synthetic = Project.objects.filter(is_synthetic=True)
    assert set(synthetic.values_list("code", flat=True)) == {
        bundled.PROPRIETARY_CODE,
        bundled.CYCLE0_CODE,
        bundled.MULTIGROUP_CODE,
    }
    assert all("SYNTHETIC" in p.title for p in synthetic)


def test_the_demo_pi_owns_a_mixed_project_with_future_proprietary_data(sample):
    project = Project.objects.get(code=bundled.PROPRIETARY_CODE)
    assert project.pi_userid == "demo_pi"
    releases = sorted(m.release_date for m in project.member_ouses.all())
    assert releases[0] < timezone.now() < releases[1]


def test_cycle0_has_no_group_level_and_one_mixed_tar(sample):
    mous = MemberOUS.objects.get(project__code=bundled.CYCLE0_CODE)
    assert mous.group_ous is None
    names = list(mous.files.values_list("name", flat=True))
    prefix = f"{bundled.CYCLE0_CODE}_2012-"
    assert any(n.startswith(prefix) and n.endswith("_001_of_001.tar") for n in names)


def test_a_science_goal_holds_several_groups_one_of_them_empty(sample):
    groups = GroupOUS.objects.filter(project__code=bundled.MULTIGROUP_CODE)
    assert groups.count() == 3
    assert len({g.science_goal_id for g in groups}) == 1
    assert sorted(g.member_ouses.count() for g in groups) == [0, 1, 1]


def test_every_member_ous_has_alma_named_files(sample):
    for mous in MemberOUS.objects.all():
        categories = set(mous.files.values_list("category", flat=True))
        assert FileCategory.README in categories, mous.uid
        assert FileCategory.PRODUCT in categories, mous.uid


def test_materialised_files_match_their_catalogued_size_and_checksum(sample):
    files = ArchiveFile.objects.filter(is_synthetic=True)
    assert files.count() > 400
    for file in files[:60]:
        data = (sample / file.name).read_bytes()
        assert len(data) == file.size
        assert hashlib.sha256(data).hexdigest() == file.checksum_sha256


def test_tars_unpack_into_almas_delivery_tree(sample):
    file = ArchiveFile.objects.get(
        name=f"{bundled.PROPRIETARY_CODE}_uid___A001_X99f1_X11_001_of_001.tar"
    )
    with tarfile.open(fileobj=io.BytesIO((sample / file.name).read_bytes())) as tar:
        names = tar.getnames()
    assert names[0].startswith(
        f"{bundled.PROPRIETARY_CODE}/science_goal.uid___A001_X99f1_Xf/"
        "group.uid___A001_X99f1_X10/member.uid___A001_X99f1_X11/product/"
    )


def test_loading_the_sample_twice_changes_nothing(sample):
    before = (
        MemberOUS.objects.count(),
        ArchiveFile.objects.count(),
        list(ArchiveFile.objects.order_by("name").values_list("checksum_sha256", flat=True)),
    )
    call_command("load_sample")
    after = (
        MemberOUS.objects.count(),
        ArchiveFile.objects.count(),
        list(ArchiveFile.objects.order_by("name").values_list("checksum_sha256", flat=True)),
    )
    assert before == after


def test_the_real_datalink_listing_keeps_its_real_names_and_sizes(sample):
    product = ArchiveFile.objects.get(name="2017.1.01185.S_uid___A001_X12a3_Xe9_001_of_001.tar")
    assert product.size == 556278784
    assert product.is_synthetic is False
