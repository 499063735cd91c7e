"""Reference data for Command Center 112 Kota Semarang: region, districts, categories, agencies, routing.

Applied by ``manage.py seed_semarang``; every row is keyed by its code, so re-running updates in
place and never duplicates. Edit targets here or, later, in the admin.
"""

from __future__ import annotations

from django.db import transaction

from dispatch.models import Agency, RoutingRule

from .models import Category, District, Priority, Region, Village

REGION = {"code": "3374", "name": "Kota Semarang", "reference_prefix": "SMG"}

# Kecamatan with their BPS codes, and a selection of their kelurahan (the full 177 can be added
# in the admin or by extending this table).
DISTRICTS: list[tuple[str, str, list[str]]] = [
    ("3374010", "Mijen", ["Mijen", "Jatibarang", "Wonoplumbon", "Tambangan", "Ngadirgo"]),
    ("3374020", "Gunungpati", ["Gunungpati", "Sekaran", "Sukorejo", "Patemon", "Nongkosawit"]),
    ("3374030", "Banyumanik", ["Banyumanik", "Srondol Kulon", "Srondol Wetan", "Pudakpayung", "Tinjomoyo"]),
    ("3374040", "Gajahmungkur", ["Gajahmungkur", "Lempongsari", "Petompon", "Sampangan", "Bendan Ngisor"]),
    ("3374050", "Semarang Selatan", ["Peterongan", "Lamper Kidul", "Pleburan", "Wonodri", "Mugassari"]),
    ("3374060", "Candisari", ["Candi", "Jatingaleh", "Jomblang", "Kaliwiru", "Tegalsari"]),
    ("3374070", "Tembalang", ["Tembalang", "Bulusan", "Meteseh", "Rowosari", "Sendangmulyo", "Kedungmundu"]),
    ("3374080", "Pedurungan", ["Pedurungan Kidul", "Pedurungan Lor", "Tlogosari Kulon", "Palebon", "Muktiharjo Kidul"]),
    ("3374090", "Genuk", ["Genuksari", "Bangetayu Kulon", "Terboyo Kulon", "Trimulyo", "Banjardowo"]),
    ("3374100", "Gayamsari", ["Gayamsari", "Sambirejo", "Tambakrejo", "Kaligawe", "Siwalan"]),
    ("3374110", "Semarang Timur", ["Rejosari", "Bugangan", "Kemijen", "Rejomulyo", "Mlatibaru"]),
    ("3374120", "Semarang Utara", ["Bandarharjo", "Tanjung Mas", "Kuningan", "Panggung Lor", "Dadapsari"]),
    ("3374130", "Semarang Tengah", ["Pekunden", "Kembangsari", "Sekayu", "Pandansari", "Kauman"]),
    ("3374140", "Semarang Barat", ["Tawangmas", "Kembangarum", "Bojongsalaman", "Krobokan", "Manyaran"]),
    ("3374150", "Tugu", ["Mangkang Wetan", "Mangkang Kulon", "Tugurejo", "Randugarut", "Karanganyar"]),
    ("3374160", "Ngaliyan", ["Ngaliyan", "Tambakaji", "Purwoyoso", "Beringin", "Wonosari"]),
]

# code, Indonesian, English, parent, default priority, (dispatch, acknowledge, on-scene) minutes.
# Dispatch 1 min follows NFPA 1225 (answer to first dispatch within 60 s); on scene 10 min is
# the mayor's target.
CATEGORIES: list[tuple[str, str, str, str | None, int, tuple[int, int, int]]] = [
    ("medical", "Kegawatdaruratan medis / ambulans", "Medical emergency / ambulance", None, Priority.P1, (1, 2, 10)),
    ("traffic-accident", "Kecelakaan lalu lintas", "Traffic accident", None, Priority.P1, (1, 2, 10)),
    ("fire", "Kebakaran", "Fire", None, Priority.P1, (1, 2, 10)),
    ("natural-disaster", "Bencana alam", "Natural disaster", None, Priority.P1, (1, 3, 10)),
    ("flood", "Banjir", "Flood", "natural-disaster", Priority.P1, (1, 3, 10)),
    ("landslide", "Tanah longsor", "Landslide", "natural-disaster", Priority.P1, (1, 3, 10)),
    ("tidal-flood", "Banjir rob", "Tidal flood (rob)", "natural-disaster", Priority.P2, (2, 5, 10)),
    ("other-disaster", "Bencana alam lainnya", "Other natural disaster", "natural-disaster", Priority.P2, (2, 5, 10)),
    ("crime", "Kriminalitas", "Crime", None, Priority.P1, (1, 2, 10)),
    ("public-disturbance", "Gangguan ketertiban umum", "Public disturbance", None, Priority.P3, (2, 5, 10)),
    ("fallen-tree", "Pohon tumbang", "Fallen tree", None, Priority.P2, (2, 5, 10)),
    ("animal", "Hewan buas / berbahaya", "Wild or dangerous animal", None, Priority.P2, (2, 5, 10)),
    ("animal-snake", "Ular", "Snake", "animal", Priority.P2, (2, 5, 10)),
    ("animal-bees", "Sarang tawon / lebah", "Bees or wasps nest", "animal", Priority.P3, (2, 5, 10)),
    ("missing-person", "Orang hilang", "Missing person", None, Priority.P2, (2, 5, 10)),
    ("infrastructure", "Bahaya infrastruktur", "Infrastructure hazard", None, Priority.P3, (2, 5, 10)),
    ("fallen-pole", "Tiang / kabel roboh", "Fallen pole or cable", "infrastructure", Priority.P2, (2, 5, 10)),
    ("water-main", "Pipa air PDAM bocor", "Broken water main", "infrastructure", Priority.P3, (3, 10, 10)),
    ("social", "Masalah sosial / orang terlantar", "Social: abandoned or vulnerable person", None, Priority.P3, (3, 10, 10)),
    ("other", "Lainnya", "Other", None, Priority.P4, (5, 10, 10)),
]

# code, name, kind, phone, email
AGENCIES: list[tuple[str, str, str, str, str]] = [
    ("cc112", "Command Center 112 Kota Semarang", Agency.Kind.COMMAND_CENTER, "112", "cc112@semarangkota.go.id"),
    ("damkar", "Dinas Pemadam Kebakaran Kota Semarang", Agency.Kind.CITY_AGENCY, "024-3544113", "damkar@semarangkota.go.id"),
    ("dinkes-psc", "Dinas Kesehatan — PSC 119 (ambulans)", Agency.Kind.CITY_AGENCY, "119", "psc119@semarangkota.go.id"),
    ("bpbd", "Badan Penanggulangan Bencana Daerah (BPBD)", Agency.Kind.CITY_AGENCY, "024-3584510", "bpbd@semarangkota.go.id"),
    ("dinsos", "Dinas Sosial", Agency.Kind.CITY_AGENCY, "", "dinsos@semarangkota.go.id"),
    ("pdam", "Perumda Air Minum Tirta Moedal (PDAM)", Agency.Kind.UTILITY, "024-8315514", "pengaduan@pdamkotasmg.co.id"),
    ("disperkim", "Dinas Perumahan dan Kawasan Permukiman (Disperkim)", Agency.Kind.CITY_AGENCY, "", "disperkim@semarangkota.go.id"),
    ("dp3a", "Dinas Pemberdayaan Perempuan dan Perlindungan Anak (DP3A)", Agency.Kind.CITY_AGENCY, "", "dp3a@semarangkota.go.id"),
    ("satpol-pp", "Satuan Polisi Pamong Praja (Satpol PP)", Agency.Kind.CITY_AGENCY, "", "satpolpp@semarangkota.go.id"),
    ("dishub", "Dinas Perhubungan (Dishub)", Agency.Kind.CITY_AGENCY, "", "dishub@semarangkota.go.id"),
    ("dlh", "Dinas Lingkungan Hidup (DLH)", Agency.Kind.CITY_AGENCY, "", "dlh@semarangkota.go.id"),
    ("polrestabes", "Polrestabes Semarang", Agency.Kind.POLICE, "110", ""),
    ("basarnas", "Kantor SAR Semarang (Basarnas)", Agency.Kind.NATIONAL_AGENCY, "115", ""),
    ("pln", "PLN UP3 Semarang", Agency.Kind.UTILITY, "123", ""),
    ("pmi", "PMI Kota Semarang", Agency.Kind.VOLUNTEER_COMMUNITY, "", ""),
    ("tagana", "Taruna Siaga Bencana (Tagana) Kota Semarang", Agency.Kind.VOLUNTEER_COMMUNITY, "", ""),
    ("relawan-rescue", "Komunitas Relawan Rescue Semarang", Agency.Kind.VOLUNTEER_COMMUNITY, "", ""),
    ("rsud-wongsonegoro", "RSUD K.R.M.T. Wongsonegoro", Agency.Kind.HEALTH_FACILITY, "024-6711500", ""),
]

# category code -> agency codes in order (all districts). Subcategories without rules of their
# own inherit their parent's.
ROUTING: dict[str, list[str]] = {
    "medical": ["dinkes-psc"],
    "traffic-accident": ["dinkes-psc", "polrestabes", "dishub"],
    "fire": ["damkar", "dinkes-psc"],
    "natural-disaster": ["bpbd", "basarnas"],
    "flood": ["bpbd", "pmi", "tagana"],
    "landslide": ["bpbd", "basarnas", "damkar"],
    "tidal-flood": ["bpbd", "tagana"],
    "crime": ["polrestabes"],
    "public-disturbance": ["satpol-pp", "polrestabes"],
    "fallen-tree": ["disperkim", "dlh", "bpbd"],
    "animal": ["damkar", "relawan-rescue"],
    "missing-person": ["polrestabes", "basarnas"],
    "infrastructure": ["disperkim"],
    "fallen-pole": ["pln", "disperkim"],
    "water-main": ["pdam"],
    "social": ["dinsos", "dp3a"],
}


@transaction.atomic
def seed_semarang() -> dict[str, int]:
    """Create or update the reference data. Returns counts per kind for the command's output."""
    region, _ = Region.objects.update_or_create(code=REGION["code"], defaults=REGION)

    for code, name, villages in DISTRICTS:
        district, _ = District.objects.update_or_create(region=region, code=code, defaults={"name": name})
        for index, village in enumerate(villages, start=1):
            Village.objects.update_or_create(
                district=district, name=village, defaults={"code": f"{code}{index:03d}"}
            )

    categories: dict[str, Category] = {}
    for order, (code, name_id, name_en, parent, priority, (dispatch, ack, response)) in enumerate(CATEGORIES):
        categories[code], _ = Category.objects.update_or_create(
            code=code,
            defaults={
                "name_id": name_id,
                "name_en": name_en,
                "parent": categories[parent] if parent else None,
                "default_priority": priority,
                "sla_dispatch_minutes": dispatch,
                "sla_acknowledge_minutes": ack,
                "sla_response_minutes": response,
                "sort_order": (order + 1) * 10,
            },
        )

    agencies: dict[str, Agency] = {}
    for code, name, kind, phone, email in AGENCIES:
        agencies[code], _ = Agency.objects.update_or_create(
            code=code, defaults={"name": name, "kind": kind, "phone": phone, "email": email, "region": region}
        )

    for category_code, agency_codes in ROUTING.items():
        for order, agency_code in enumerate(agency_codes, start=1):
            RoutingRule.objects.update_or_create(
                category=categories[category_code],
                district=None,
                agency=agencies[agency_code],
                defaults={"order": order},
            )

    return {
        "districts": District.objects.filter(region=region).count(),
        "villages": Village.objects.filter(district__region=region).count(),
        "categories": Category.objects.count(),
        "agencies": Agency.objects.count(),
        "routing_rules": RoutingRule.objects.count(),
    }
