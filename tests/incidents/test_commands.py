"""``manage.py seed_semarang``: Kota Semarang's reference data, safe to run again."""

from io import StringIO

import pytest
from django.core.management import call_command

from dispatch.models import Agency, RoutingRule
from incidents.models import Category, District, Region, Village

KECAMATAN = {
    "Banyumanik",
    "Candisari",
    "Gajahmungkur",
    "Gayamsari",
    "Genuk",
    "Gunungpati",
    "Mijen",
    "Ngaliyan",
    "Pedurungan",
    "Semarang Barat",
    "Semarang Selatan",
    "Semarang Tengah",
    "Semarang Timur",
    "Semarang Utara",
    "Tembalang",
    "Tugu",
}

CATEGORY_CODES = {
    "medical",
    "traffic-accident",
    "fire",
    "flood",
    "landslide",
    "tidal-flood",
    "other-disaster",
    "crime",
    "public-disturbance",
    "fallen-tree",
    "animal",
    "missing-person",
    "infrastructure",
    "social",
    "other",
}


def _counts() -> dict[str, int]:
    return {
        "regions": Region.objects.count(),
        "districts": District.objects.count(),
        "villages": Village.objects.count(),
        "categories": Category.objects.count(),
        "agencies": Agency.objects.count(),
        "routing_rules": RoutingRule.objects.count(),
    }


@pytest.mark.django_db
def test_seed_semarang_is_idempotent():
    # given the command has run once
    out = StringIO()
    call_command("seed_semarang", stdout=out)
    first = _counts()

    # when it runs again
    call_command("seed_semarang", stdout=StringIO())

    # then nothing was duplicated
    assert _counts() == first
    assert first["regions"] == 1
    assert "districts=16" in out.getvalue()


@pytest.mark.django_db
def test_seed_semarang_creates_the_16_kecamatan_of_kota_semarang():
    call_command("seed_semarang", stdout=StringIO())

    region = Region.objects.get(code="3374")
    assert region.reference_prefix == "SMG"
    assert set(District.objects.filter(region=region).values_list("name", flat=True)) == KECAMATAN
    # every kecamatan has at least a few kelurahan to choose from
    assert not District.objects.filter(villages__isnull=True).exists()


@pytest.mark.django_db
def test_seed_semarang_categories_and_default_on_scene_target():
    call_command("seed_semarang", stdout=StringIO())

    codes = set(Category.objects.values_list("code", flat=True))
    assert CATEGORY_CODES <= codes
    assert set(Category.objects.values_list("sla_response_minutes", flat=True)) == {10}
    assert Category.objects.get(code="flood").parent.code == "natural-disaster"
    # every category with routing can be dispatched to an active agency
    assert RoutingRule.objects.filter(agency__is_active=False).count() == 0


@pytest.mark.django_db
def test_seed_semarang_updates_in_place_without_touching_local_choices():
    # given seeded data that an administrator has since adjusted
    call_command("seed_semarang", stdout=StringIO())
    Category.objects.filter(code="animal").update(is_active=False)
    Category.objects.filter(code="fire").update(sla_response_minutes=15)

    # when the seed runs again
    call_command("seed_semarang", stdout=StringIO())

    # then seeded targets are restored but fields the seed does not own are kept
    assert Category.objects.get(code="fire").sla_response_minutes == 10
    assert Category.objects.get(code="animal").is_active is False


def test_the_seeded_fixture_holds_exactly_what_the_command_writes(seeded):
    # the fixture may replay a snapshot of the seed; running the real command over it changes nothing
    before = _counts()

    call_command("seed_semarang", stdout=StringIO())

    assert _counts() == before
    assert seeded.counts["districts"] == 16
    assert seeded.category("flood").parent == seeded.category("natural-disaster")
