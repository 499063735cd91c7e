"""Demo data for development: users for every role and a few hundred incidents in every state.

Every incident is made through the real services with the clock moved back (time-machine), so
timelines, milestones and response times look like real work. Refuses to run in production.
"""

from __future__ import annotations

import random
from datetime import timedelta

import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from dispatch import services as dispatch_services
from dispatch.models import Agency, FieldUnit, Membership, Role, Volunteer
from incidents import services
from incidents.models import Call, Category, District, Incident
from incidents.seed import seed_semarang

DEMO_PASSWORD = "semarang112"

# username, first name, agency code, role, superuser
DEMO_USERS = [
    ("admin", "Admin", "cc112", Role.ADMINISTRATOR, True),
    ("operator", "Sari (operator)", "cc112", Role.CALL_TAKER, False),
    ("dispatcher", "Budi (dispatcher)", "cc112", Role.DISPATCHER, False),
    ("supervisor", "Dewi (supervisor)", "cc112", Role.SUPERVISOR, False),
    ("damkar", "Agus (Damkar staff)", "damkar", Role.AGENCY_STAFF, False),
    ("damkar-spv", "Rina (Damkar supervisor)", "damkar", Role.AGENCY_SUPERVISOR, False),
    ("damkar-field", "Joko (Damkar field officer)", "damkar", Role.FIELD_OFFICER, False),
    ("psc", "Nur (PSC 119 staff)", "dinkes-psc", Role.AGENCY_STAFF, False),
    ("bpbd", "Hadi (BPBD staff)", "bpbd", Role.AGENCY_STAFF, False),
    ("polisi", "Wahyu (Polrestabes staff)", "polrestabes", Role.AGENCY_STAFF, False),
    ("tagana", "Lestari (Tagana coordinator)", "tagana", Role.VOLUNTEER_COORDINATOR, False),
    ("auditor", "Auditor", "cc112", Role.AUDITOR, False),
]

UNITS = [
    ("damkar", "DMK-01", "Unit Pemadam 01", "fire engine", "Semarang Tengah"),
    ("damkar", "DMK-02", "Unit Pemadam 02", "fire engine", "Tembalang"),
    ("damkar", "DMK-R1", "Tim Rescue Damkar", "rescue team", "Semarang Barat"),
    ("dinkes-psc", "AMB-01", "Ambulans PSC 01", "ambulance", "Banyumanik"),
    ("dinkes-psc", "AMB-02", "Ambulans PSC 02", "ambulance", "Pedurungan"),
    ("bpbd", "BPBD-TRC", "Tim Reaksi Cepat BPBD", "team", "Semarang Utara"),
    ("polrestabes", "SBH-1", "Patroli Sabhara 1", "patrol car", "Semarang Selatan"),
]

VOLUNTEERS = [
    ("tagana", "Eko Prasetyo", "0812-2500-1001", "evakuasi, dapur umum", ["Genuk", "Semarang Utara"]),
    ("tagana", "Sri Wahyuni", "0813-2500-1002", "pertolongan pertama", ["Tugu", "Semarang Barat"]),
    ("relawan-rescue", "Andi Saputra", "0857-2500-1003", "evakuasi ular, sarang tawon", ["Tembalang", "Banyumanik"]),
]

DESCRIPTIONS = {
    "medical": ["Warga pingsan di pinggir jalan, tidak sadar", "Ibu hamil perlu ambulans segera"],
    "traffic-accident": ["Tabrakan motor dan mobil, satu korban luka", "Truk terguling, lalu lintas macet"],
    "fire": ["Kebakaran rumah warga, api membesar", "Kebakaran lahan kosong dekat permukiman"],
    "flood": ["Banjir setinggi lutut di permukiman", "Air masuk rumah, warga perlu evakuasi"],
    "landslide": ["Tebing longsor menimpa rumah", "Longsor menutup jalan kampung"],
    "tidal-flood": ["Rob masuk jalan utama pelabuhan", "Rob merendam rumah warga"],
    "crime": ["Pencurian motor di parkiran", "Perkelahian antarwarga"],
    "public-disturbance": ["Keributan di tempat hiburan malam", "Pedagang menutup trotoar"],
    "fallen-tree": ["Pohon tumbang menutup jalan", "Pohon tumbang menimpa kabel dan mobil"],
    "animal-snake": ["Ular kobra masuk rumah warga", "Ular sanca di selokan dekat sekolah"],
    "animal-bees": ["Sarang tawon vespa di atap rumah"],
    "missing-person": ["Anak hilang di pasar", "Lansia pikun belum pulang sejak pagi"],
    "fallen-pole": ["Tiang listrik roboh di jalan"],
    "water-main": ["Pipa PDAM bocor, air menyembur ke jalan"],
    "social": ["Orang terlantar tidur di halte"],
    "other": ["Laporan lain dari warga"],
}

STREETS = ["Jl. Pandanaran", "Jl. Pemuda", "Jl. Sriwijaya", "Jl. Majapahit", "Jl. Setiabudi", "Jl. Kaligawe", "Jl. Siliwangi"]

# Final outcome weights for incidents older than a day; recent ones stay open more often.
OUTCOMES = [("closed", 55), ("resolved", 10), ("on_scene", 5), ("dispatched", 5), ("verified", 3),
            ("received", 2), ("cancelled", 8), ("false_alarm", 10), ("merged", 2)]


class Command(BaseCommand):
    help = "Create demo users for every role and realistic incidents over the last 60 days (development only)."

    def add_arguments(self, parser):
        parser.add_argument("--incidents", type=int, default=300)
        parser.add_argument("--seed", type=int, default=112)

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("The demo command refuses to run in production mode.")
        seed_semarang()
        users = self._users()
        self._units_and_volunteers()
        made = self._incidents(users, options["incidents"], random.Random(options["seed"]))
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({made} new incidents)."))
        self.stdout.write("Log in at /admin/ with any of these users, password " + self.style.WARNING(DEMO_PASSWORD))
        for username, name, agency, role, _superuser in DEMO_USERS:
            self.stdout.write(f"  {username:<14} {role.label:<30} {agency:<12} {name}")

    @transaction.atomic
    def _users(self) -> dict[str, object]:
        User = get_user_model()
        agencies = {agency.code: agency for agency in Agency.objects.all()}
        users = {}
        for username, name, agency_code, role, superuser in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": name, "is_staff": True, "is_superuser": superuser}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            Membership.objects.get_or_create(user=user, agency=agencies[agency_code], defaults={"role": role})
            users[username] = user
        return users

    @transaction.atomic
    def _units_and_volunteers(self) -> None:
        agencies = {agency.code: agency for agency in Agency.objects.all()}
        districts = {district.name: district for district in District.objects.all()}
        for agency, code, name, kind, district in UNITS:
            FieldUnit.objects.get_or_create(
                agency=agencies[agency], code=code,
                defaults={"name": name, "kind": kind, "home_district": districts[district]},
            )
        for community, name, phone, skills, district_names in VOLUNTEERS:
            volunteer, created = Volunteer.objects.get_or_create(
                community=agencies[community], name=name, defaults={"phone": phone, "skills": skills}
            )
            if created:
                volunteer.districts.set([districts[d] for d in district_names])

    def _incidents(self, users, count: int, rng: random.Random) -> int:
        demo_users = [users[name] for name, *_ in DEMO_USERS]
        if Incident.objects.filter(created_by__in=demo_users).exists():
            return 0  # idempotent: demo incidents already made
        categories = {c.code: c for c in Category.objects.filter(code__in=DESCRIPTIONS)}
        districts = list(District.objects.prefetch_related("villages"))
        operator, dispatcher, supervisor = users["operator"], users["dispatcher"], users["supervisor"]
        now = timezone.now()
        made = 0
        for index in range(count):
            # Newest first so the last hours hold open work for the live queue.
            age = timedelta(minutes=int(60 * 24 * 60 * (index / count) ** 1.3) + rng.randint(3, 40))
            start = now - age
            outcome = self._outcome(rng, age)
            category = categories[rng.choice(list(categories))]
            district = rng.choice(districts)
            village = rng.choice(list(district.villages.all())) if district.villages.all() else None
            with time_machine.travel(start, tick=False):
                call = services.call_create(
                    actor=operator,
                    caller_number=f"08{rng.randint(11, 99)}{rng.randint(10_000_000, 99_999_999)}",
                    caller_name=rng.choice(["Bu Siti", "Pak Slamet", "Mas Dimas", "Mbak Ayu", ""]),
                    started_at=start - timedelta(seconds=rng.randint(5, 25)),
                    answered_at=start,
                )
                coords = {}
                if rng.random() < 0.7:
                    coords = {
                        "latitude": round(-7.05 + rng.uniform(-0.05, 0.05), 6),
                        "longitude": round(110.42 + rng.uniform(-0.08, 0.08), 6),
                    }
                incident = services.incident_create(
                    actor=operator, call=call, category=category,
                    description=rng.choice(DESCRIPTIONS[category.code]),
                    address=f"{rng.choice(STREETS)} No. {rng.randint(1, 200)}",
                    district=district, village=village, **coords,
                )
            made += 1
            self._play(incident, outcome, start, rng, operator, dispatcher, supervisor)
        self._non_case_calls(operator, rng, now)
        return made

    def _outcome(self, rng: random.Random, age: timedelta) -> str:
        if age < timedelta(hours=3):
            return rng.choice(["received", "verified", "dispatched", "dispatched", "on_scene", "resolved"])
        names, weights = zip(*OUTCOMES, strict=True)
        return rng.choices(names, weights)[0]

    def _play(self, incident, outcome, start, rng, operator, dispatcher, supervisor) -> None:
        clock = start

        def later(low: int, high: int):
            nonlocal clock
            clock = clock + timedelta(seconds=rng.randint(low, high))
            return time_machine.travel(clock, tick=False)

        if outcome == "received":
            return
        if outcome in ("cancelled", "false_alarm", "merged"):
            with later(30, 240):
                if outcome == "cancelled":
                    services.incident_cancel(incident=incident, actor=operator, reason="Penelepon membatalkan laporan")
                elif outcome == "false_alarm":
                    services.incident_mark_false_alarm(incident=incident, actor=operator, reason="Laporan palsu")
                else:
                    target = (
                        Incident.objects.filter(status__in=Incident.OPEN_STATUSES, category=incident.category)
                        .exclude(pk=incident.pk).first()
                    )
                    if target is None:
                        services.incident_mark_false_alarm(incident=incident, actor=operator, reason="Laporan ganda")
                    else:
                        services.incident_merge(incident=incident, into=target, actor=dispatcher, note="Laporan ganda")
            return
        with later(20, 90):
            services.incident_verify(incident=incident, actor=operator)
        if outcome == "verified":
            return
        agencies = dispatch_services.routing_suggest(category=incident.category, district=incident.district)
        agencies = agencies[: rng.randint(1, min(2, len(agencies)))] if agencies else list(
            Agency.objects.filter(code="satpol-pp")
        )
        with later(20, 120):
            assignments = dispatch_services.incident_dispatch(incident=incident, agencies=agencies, actor=dispatcher)
        if outcome == "dispatched":
            return
        for assignment in assignments:
            with later(30, 180):
                dispatch_services.assignment_acknowledge(assignment=assignment, actor=operator)
            with later(30, 120):
                dispatch_services.assignment_en_route(assignment=assignment, actor=operator)
            # Most arrive within the 10-minute target, some do not.
            with later(180, 420 if rng.random() < 0.75 else 1200):
                dispatch_services.assignment_on_scene(assignment=assignment, actor=operator)
        if outcome == "on_scene":
            return
        for assignment in assignments:
            with later(600, 3600):
                dispatch_services.assignment_complete(assignment=assignment, actor=operator)
        with later(60, 600):
            services.incident_resolve(incident=incident, actor=dispatcher)
        if outcome == "resolved":
            return
        with later(600, 7200):
            services.incident_close(incident=incident, actor=supervisor)

    def _non_case_calls(self, operator, rng: random.Random, now) -> None:
        """Prank, silent, information and wrong-number calls: counted, never cases."""
        outcomes = [Call.Outcome.PRANK, Call.Outcome.SILENT, Call.Outcome.INFORMATION, Call.Outcome.WRONG_NUMBER]
        for index in range(200):
            start = now - timedelta(minutes=rng.randint(5, 60 * 24 * 60))
            number = "081299990000" if index % 25 == 0 else f"08{rng.randint(11, 99)}{rng.randint(10_000_000, 99_999_999)}"
            with time_machine.travel(start, tick=False):
                services.call_create(
                    actor=operator, caller_number=number, started_at=start - timedelta(seconds=rng.randint(3, 30)),
                    answered_at=start, ended_at=start + timedelta(seconds=rng.randint(5, 90)),
                    outcome=rng.choices(outcomes, [45, 35, 15, 5])[0],
                )
