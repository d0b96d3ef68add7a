"""The bundled sample archive: real ALMA rows and listings, plus labelled synthetic projects.

Real: the 417 ObsCore rows of ``alma_obscore_rows.csv`` (49 projects, 119 member OUSs) and the
DataLink listing in ``datalink/`` (see ``PROVENANCE.md`` beside them). Synthetic, each titled
``SYNTHETIC`` and flagged ``Project.is_synthetic``, for what the real rows lack: proprietary data
whose PI is the demo account, a Cycle 0 project, and a science goal with several group OUSs one
of which is an empty placeholder. Codes use project numbers from 99900 up, which ALMA has never
issued.

Every member OUS gets ALMA-named files (README, product tar, auxiliary tar, one raw ASDM tar per
execution block). Their bytes are small, valid tar files generated deterministically from the
file name alone, so the checksum recorded at load time and the bytes served later always agree.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction

from queries.archive.datalink_loader import store_file
from queries.archive.loader import load_paths, upsert_observations
from queries.delivery import member_directory, uid_to_path
from queries.models import ArchiveFile, GroupOUS, MemberOUS, Project, ScienceGoal
from queries.units import mjd_to_datetime

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_archive"
FIXED_MTIME = 1_577_836_800  # 2020-01-01: tars are byte-for-byte reproducible
DEMO_PI_USERID = "demo_pi"
PROPRIETARY_CODE = "2099.1.99901.S"
CYCLE0_CODE = "2011.0.99902.S"
MULTIGROUP_CODE = "2099.1.99903.S"


def future_release_date(now: datetime | None = None) -> datetime:
    """Two new years ahead: always in the future, yet stable when the sample is reloaded."""
    now = now or datetime.now(UTC)
    return datetime(now.year + 2, 1, 1, tzinfo=UTC)


def _row(
    code: str,
    mous: str,
    group: str,
    asdm: str,
    target: str,
    spw: int,
    *,
    release: str,
    rights: str,
    band: int,
    freq: float,
    ra: float,
    dec: float,
    t_min: float,
    title: str,
    abstract: str,
    pi_name: str = "Demo, Pat",
    pi_userid: str = DEMO_PI_USERID,
    antennas: str = "A001:DA41 A002:DV02",
) -> dict:
    return {
        "obs_publisher_did": f"ADS/JAO.ALMA#{code}",
        "obs_collection": "ALMA",
        "facility_name": "JAO",
        "instrument_name": "ALMA",
        "obs_id": f"{mous}.source.{target}.spw.{spw}",
        "dataproduct_type": "cube",
        "calib_level": 2,
        "target_name": target,
        "s_ra": ra,
        "s_dec": dec,
        "s_fov": 0.0069,
        "s_region": f"Circle ICRS {ra:.6f} {dec:.6f} 0.003450",
        "s_resolution": 0.45,
        "t_min": t_min,
        "t_max": t_min + 0.05,
        "t_exptime": 1512.0,
        "pol_states": "/XX/YY/",
        "proposal_id": code,
        "data_rights": rights,
        "band_list": str(band),
        "bandwidth": 1.875e9,
        "antenna_arrays": antennas,
        "is_mosaic": "F",
        "obs_release_date": release,
        "spatial_resolution": 0.45,
        "frequency": freq,
        "frequency_support": f"[{freq - 0.9:.2f}..{freq + 0.9:.2f}GHz,976.56kHz,1.2mJy/beam@10km/s,"
        "0.1mJy/beam@native, XX YY]",
        "obs_creator_name": pi_name,
        "pi_name": pi_name,
        "pi_userid": pi_userid,
        "proposal_abstract": abstract,
        "obs_title": title,
        "schedblock_name": f"{target}_a_{band:02d}_TM1",
        "proposal_authors": "Demo, Pat; Example, Sam",
        "sensitivity_10kms": 1.2,
        "cont_sensitivity_bandwidth": 0.08,
        "pwv": 1.1,
        "group_ous_uid": group,
        "member_ous_uid": mous,
        "asdm_uid": asdm,
        "type": "S",
        "scan_intent": "TARGET",
        "science_observation": "T",
        "spatial_scale_max": 5.2,
        "qa2_passed": "T",
        "science_keyword": "Galaxy structure & evolution",
        "scientific_category": "Galaxy evolution",
        "lastModified": "2025-01-01T00:00:00.000",
    }


def synthetic_rows(now: datetime | None = None) -> list[dict]:
    release = future_release_date(now).isoformat()
    abstract = (
        "SYNTHETIC demo data made by Archive Portal, not by ALMA. It exists so that the "
        "proprietary period, delegation and downloads can be tried out."
    )
    rows = [
        # (a) proprietary until two new years ahead, PI = demo account; one part already public.
        _row(
            PROPRIETARY_CODE,
            "uid://A001/X99f1/X11",
            "uid://A001/X99f1/X10",
            "uid://A002/X99f1a/X1",
            "NGC_1068",
            25,
            release=release,
            rights="Proprietary",
            band=6,
            freq=230.5,
            ra=40.669629,
            dec=-0.013281,
            t_min=60900.2,
            title="SYNTHETIC: proprietary demo project (dense gas in NGC 1068)",
            abstract=abstract,
        ),
        _row(
            PROPRIETARY_CODE,
            "uid://A001/X99f1/X12",
            "uid://A001/X99f1/X10",
            "uid://A002/X99f1a/X2",
            "NGC_1068",
            27,
            release="2024-01-01T00:00:00.000",
            rights="Public",
            band=3,
            freq=100.2,
            ra=40.669629,
            dec=-0.013281,
            t_min=60000.4,
            title="SYNTHETIC: proprietary demo project (dense gas in NGC 1068)",
            abstract=abstract,
            antennas="A050:CM01 A051:CM02",
        ),
        # (b) Cycle 0: no group OUS level.
        _row(
            CYCLE0_CODE,
            "uid://A002/X99f2/X21",
            "",
            "uid://A002/X99f2a/X3",
            "Orion_KL",
            0,
            release="2013-05-01T00:00:00.000",
            rights="Public",
            band=7,
            freq=345.8,
            ra=83.80917,
            dec=-5.37514,
            t_min=56000.1,
            pi_name="Example, Sam",
            pi_userid="",
            title="SYNTHETIC: Cycle 0 demo project",
            abstract=abstract,
        ),
    ]
    # (c) one science goal, two epochs (two group OUSs) and an empty placeholder group.
    for epoch, (mous, group, asdm, t_min) in enumerate(
        [
            ("uid://A001/X99f3/X32", "uid://A001/X99f3/X31", "uid://A002/X99f3a/X4", 59500.0),
            ("uid://A001/X99f3/X34", "uid://A001/X99f3/X33", "uid://A002/X99f3a/X5", 59800.0),
        ],
        start=1,
    ):
        rows.append(
            _row(
                MULTIGROUP_CODE,
                mous,
                group,
                asdm,
                "SN2018ivc",
                16 + epoch,
                release="2023-06-01T00:00:00.000",
                rights="Public",
                band=3,
                freq=97.9,
                ra=40.660833,
                dec=-0.014444,
                t_min=t_min,
                pi_name="Example, Sam",
                pi_userid="",
                title="SYNTHETIC: multi-epoch demo project (two epochs, one placeholder group)",
                abstract=abstract,
            )
        )
    return rows


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = FIXED_MTIME
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _filler(name: str, size: int) -> bytes:
    """Deterministic pseudo-random bytes standing in for FITS or ASDM content."""
    out = bytearray()
    seed = name.encode()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:size])


def _members(name: str, directory: str) -> dict[str, bytes]:
    if name.endswith(".asdm.sdm.tar"):
        asdm = name.split("_", 1)[1].removesuffix(".asdm.sdm.tar")
        base = f"{directory}/raw/{asdm}.asdm.sdm"
        return {
            f"{base}/ASDM.xml": b"<?xml version='1.0'?><ASDM>sample</ASDM>\n",
            f"{base}/Main.bin": _filler(name, 24_000),
        }
    if name.endswith("_auxiliary.tar"):
        return {
            f"{directory}/calibration/calibration.tgz": _filler(name, 9_000),
            f"{directory}/script/scriptForPI.py": b"# sample calibration script\n",
            f"{directory}/qa/qa2_report.txt": b"QA2: PASS (sample)\n",
            f"{directory}/log/pipeline.log": b"sample pipeline log\n",
        }
    fits = b"SIMPLE  =                    T / sample".ljust(80) + _filler(name, 16_000)
    return {f"{directory}/product/{name.removesuffix('.tar')}.pbcor.fits": fits}


def file_bytes(name: str, directory: str) -> bytes:
    """The sample bytes of a file: a function of its name and delivery directory only."""
    if name.endswith(".README.txt"):
        return (
            f"This is the README of {name.removesuffix('.README.txt')} in Archive Portal's "
            f"sample archive.\nDelivery directory: {directory}\nThe data are a small, "
            "deterministic stand-in for the real ALMA delivery.\n"
        ).encode()
    return _tar(_members(name, directory))


def sample_file_bytes(file: ArchiveFile) -> bytes:
    return file_bytes(file.name, member_directory(file.member_ous))


def file_names(mous: MemberOUS) -> list[str]:
    code = mous.project.code
    mous_part = uid_to_path(mous.uid)
    names = [f"member.{mous_part}.README.txt"]
    if code.split(".")[1:2] == ["0"]:
        # Cycle 0 delivered raw data and products together, in numbered tars per project and
        # delivery date (2011.0.00121.S_2012-07-30_001_of_002.tar).
        siblings = list(mous.project.member_ouses.order_by("uid").values_list("uid", flat=True))
        day = mjd_to_datetime(mous.t_min).date().isoformat() if mous.t_min else "2012-12-01"
        number = siblings.index(mous.uid) + 1
        names.append(f"{code}_{day}_{number:03d}_of_{len(siblings):03d}.tar")
    else:
        names += [f"{code}_{mous_part}_001_of_001.tar", f"{code}_{mous_part}_auxiliary.tar"]
    names += [
        f"{code}_{uid_to_path(eb.asdm_uid)}.asdm.sdm.tar"
        for eb in mous.execution_blocks.order_by("asdm_uid")
    ]
    return names


def catalogue_files(mouses) -> int:
    """Give each member OUS without a real listing its ALMA-named sample files."""
    stored = 0
    archive = settings.ARCHIVE_URL.rstrip("/")
    for mous in mouses.select_related("project", "group_ous__science_goal"):
        if mous.files.filter(is_synthetic=False).exists():
            continue  # a real DataLink listing is kept as it is
        directory = member_directory(mous)
        for name in file_names(mous):
            data = file_bytes(name, directory)
            stored += store_file(
                mous.uid,
                name=name,
                access_url=f"{archive}/dataPortal/{name}",
                size=len(data),
                checksum_sha256=hashlib.sha256(data).hexdigest(),
                is_synthetic=True,
            )
    return stored


def _link_science_goals() -> None:
    goals = {
        PROPRIETARY_CODE: ("uid://A001/X99f1/Xf", ["uid://A001/X99f1/X10"]),
        MULTIGROUP_CODE: (
            "uid://A001/X99f3/X30",
            ["uid://A001/X99f3/X31", "uid://A001/X99f3/X33", "uid://A001/X99f3/X35"],
        ),
    }
    for code, (goal_uid, groups) in goals.items():
        project = Project.objects.get(code=code)
        goal, _ = ScienceGoal.objects.get_or_create(
            project=project, uid=goal_uid, defaults={"name": "Science goal 1"}
        )
        for uid in groups:
            # uid://A001/X99f3/X35 is the empty placeholder group: no member OUS.
            GroupOUS.objects.update_or_create(
                uid=uid, defaults={"project": project, "science_goal": goal}
            )
    Project.objects.filter(code__in=[PROPRIETARY_CODE, CYCLE0_CODE, MULTIGROUP_CODE]).update(
        is_synthetic=True
    )


@transaction.atomic
def load_sample() -> dict[str, int]:
    real = load_paths(
        [SAMPLE_DIR / "alma_obscore_rows.csv", *sorted((SAMPLE_DIR / "datalink").glob("*.xml"))]
    )
    synthetic = upsert_observations(synthetic_rows(), source="sample:synthetic")
    _link_science_goals()
    files = catalogue_files(MemberOUS.objects.all())
    return {"real_rows": real.rows, "synthetic_rows": synthetic.rows, "new_files": files}


def materialise_sample_files(root: Path | None = None) -> int:
    """Write every sample file's bytes under ``root`` (default LAB_DATA_ROOT), flat by name."""
    root = Path(root or settings.LAB_DATA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    written = 0
    for file in (
        ArchiveFile.objects.filter(is_synthetic=True)
        .select_related("member_ous__project", "member_ous__group_ous__science_goal")
        .iterator()
    ):
        target = root / file.name
        if target.exists() and target.stat().st_size == file.size:
            continue
        data = sample_file_bytes(file)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        written += 1
    return written
