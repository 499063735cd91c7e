"""routing_suggest: which agencies a category (and district) goes to, in order."""

from __future__ import annotations

import pytest

from dispatch.services import routing_suggest
from tests.factories import AgencyFactory, CategoryFactory, DistrictFactory, RoutingRuleFactory

pytestmark = pytest.mark.django_db


def codes(agencies) -> list[str]:
    return [agency.code for agency in agencies]


@pytest.fixture
def fire():
    """A category with two all-district rules: ``engine`` first, ``ambulance`` second."""
    category = CategoryFactory(code="fire")
    RoutingRuleFactory(category=category, agency=AgencyFactory(code="ambulance"), order=2)
    RoutingRuleFactory(category=category, agency=AgencyFactory(code="engine"), order=1)
    return category


def test_all_district_rules_in_order(fire):
    assert codes(routing_suggest(category=fire, district=None)) == ["engine", "ambulance"]
    assert codes(routing_suggest(category=fire, district=DistrictFactory())) == ["engine", "ambulance"]


def test_district_specific_rules_win_over_all_district_rules(fire):
    # given the harbour district has its own fire boat and port fire brigade
    harbour, inland = DistrictFactory(name="Semarang Utara"), DistrictFactory(name="Mijen")
    RoutingRuleFactory(category=fire, district=harbour, agency=AgencyFactory(code="port-brigade"), order=2)
    RoutingRuleFactory(category=fire, district=harbour, agency=AgencyFactory(code="fire-boat"), order=1)

    # then the harbour gets only its own agencies, in their order; elsewhere the general rules apply
    assert codes(routing_suggest(category=fire, district=harbour)) == ["fire-boat", "port-brigade"]
    assert codes(routing_suggest(category=fire, district=inland)) == ["engine", "ambulance"]
    assert codes(routing_suggest(category=fire, district=None)) == ["engine", "ambulance"]


def test_a_subcategory_without_rules_inherits_its_parents(fire):
    chemical = CategoryFactory(code="chemical-fire", parent=fire)
    lab = CategoryFactory(code="lab-fire", parent=chemical)

    assert codes(routing_suggest(category=chemical, district=None)) == ["engine", "ambulance"]
    assert codes(routing_suggest(category=lab, district=None)) == ["engine", "ambulance"]


def test_a_subcategory_with_rules_of_its_own_does_not_mix_in_the_parents(fire):
    forest = CategoryFactory(code="forest-fire", parent=fire)
    RoutingRuleFactory(category=forest, agency=AgencyFactory(code="forestry"))

    assert codes(routing_suggest(category=forest, district=None)) == ["forestry"]


def test_a_parents_district_rule_applies_to_an_inheriting_subcategory(fire):
    harbour = DistrictFactory()
    RoutingRuleFactory(category=fire, district=harbour, agency=AgencyFactory(code="fire-boat"))
    ship_fire = CategoryFactory(parent=fire)

    assert codes(routing_suggest(category=ship_fire, district=harbour)) == ["fire-boat"]


def test_inactive_agencies_and_rules_are_left_out(fire):
    RoutingRuleFactory(category=fire, agency=AgencyFactory(code="closed-agency", is_active=False), order=0)
    RoutingRuleFactory(category=fire, agency=AgencyFactory(code="old-rule"), order=0, is_active=False)

    assert codes(routing_suggest(category=fire, district=None)) == ["engine", "ambulance"]


def test_inactive_district_rules_fall_back_to_the_all_district_rules(fire):
    harbour = DistrictFactory()
    RoutingRuleFactory(category=fire, district=harbour, agency=AgencyFactory(code="fire-boat"), is_active=False)
    RoutingRuleFactory(
        category=fire, district=harbour, agency=AgencyFactory(code="closed-boat", is_active=False), order=0
    )

    assert codes(routing_suggest(category=fire, district=harbour)) == ["engine", "ambulance"]


def test_a_subcategory_whose_rules_are_all_inactive_falls_back_to_the_parent(fire):
    forest = CategoryFactory(parent=fire)
    RoutingRuleFactory(category=forest, agency=AgencyFactory(code="forestry"), is_active=False)

    assert codes(routing_suggest(category=forest, district=None)) == ["engine", "ambulance"]


def test_ties_in_order_are_broken_by_agency_code():
    category = CategoryFactory()
    for code in ("zeta", "alpha", "mike"):
        RoutingRuleFactory(category=category, agency=AgencyFactory(code=code), order=1)

    assert codes(routing_suggest(category=category, district=None)) == ["alpha", "mike", "zeta"]


def test_no_rules_anywhere_means_no_suggestion():
    assert routing_suggest(category=CategoryFactory(parent=CategoryFactory()), district=None) == []


# ------------------------------------------------------------------------------------------------
# The seeded routing table of Kota Semarang
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("medical", ["dinkes-psc"]),
        ("traffic-accident", ["dinkes-psc", "polrestabes", "dishub"]),
        ("fire", ["damkar", "dinkes-psc"]),
        ("flood", ["bpbd", "pmi", "tagana"]),
        ("other-disaster", ["bpbd", "basarnas"]),  # inherits natural-disaster
        ("animal-snake", ["damkar", "relawan-rescue"]),  # inherits animal
        ("water-main", ["pdam"]),
        ("other", []),
    ],
)
def test_seeded_routing(seeded, category, expected):
    assert codes(routing_suggest(category=seeded.category(category), district=seeded.district("Tembalang"))) == expected


def test_incident_creation_records_the_suggestion_for_its_district(seeded, make_incident):
    # given Genuk floods often and BPBD has asked Tagana to go first there
    genuk = seeded.district("Genuk")
    RoutingRuleFactory(category=seeded.category("flood"), district=genuk, agency=seeded.agency("tagana"), order=1)
    RoutingRuleFactory(category=seeded.category("flood"), district=genuk, agency=seeded.agency("bpbd"), order=2)

    in_genuk = make_incident(category=seeded.category("flood"), district=genuk)
    elsewhere = make_incident(category=seeded.category("flood"), district=seeded.district("Mijen"))

    assert in_genuk.timeline.get(kind="created").payload["suggested_agencies"] == ["tagana", "bpbd"]
    assert elsewhere.timeline.get(kind="created").payload["suggested_agencies"] == ["bpbd", "pmi", "tagana"]
