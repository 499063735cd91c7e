"""Synthetic history for the benchmarks: N incidents over the last year, loaded with COPY.

    python -m bench.generate --size 100000            # drops and recreates semarang112_bench
    python -m bench.generate --size 1000000 --seed 7

What it makes (all in one region, Kota Semarang, seeded with ``incidents.seed.seed_semarang``):

* 20 agencies (the seed's 18 plus DPU and RSUP Kariadi), bench users (call-takers, dispatchers,
  one staff user per agency) with memberships.
* N incidents spread over 365 local days with weekly, seasonal (rainy season November-March)
  and hourly patterns; the category mix follows the season (floods, landslides, fallen trees).
  About 1% are open (received / verified / dispatched / on scene): every incident of the last
  36 hours and a sample of older, still-running ones. The rest are closed, cancelled, false
  alarms or merged duplicates. Milestones are consistent (received < verified <= first dispatched
  < first acknowledged < first on scene < resolved < closed; verified equals first dispatched
  when dispatching implied the verification, as ``incident_dispatch`` does) and the SLA due times
  come from the category targets.
* 1-3 assignments for every dispatched incident, to the agencies the routing rules name, with
  statuses and timestamps matching the incident; 3-8 timeline events per incident.
* Calls: about N / 0.6 in total; one emergency call per phone incident, some duplicate calls, and
  about 40% prank or silent calls (no incident), partly from repeat callers; ``CallerNumber`` rows
  for every prank number.
* A few shares to other agencies (live ones on open incidents).
* References ``SMG-YYMMDD-NNNN`` by local (Asia/Jakarta) date; ``ReferenceCounter`` is set to the
  last number of each day so the API's next incident gets the next number.

How it loads: reference data and users through the ORM, the big tables with psycopg 3 COPY on
four connections at once (one per table, each with a queued writer so Python keeps generating
while PostgreSQL parses). During the load the non-unique indexes of those tables are dropped and
foreign-key triggers are off (``session_replication_role = replica``); afterwards the indexes are
rebuilt, foreign keys are checked with anti-joins, sequences are reset and the tables are
VACUUM ANALYZEd, so the database looks like one that autovacuum has been looking after.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from psycopg.copy import QueuedLibpqWriter

from bench import db

LOCAL_OFFSET = 7 * 3600  # Asia/Jakarta is UTC+7 all year (no DST)
DAY = 86400
YEAR_DAYS = 365
OPEN_RECENT_HOURS = 36

EXTRA_AGENCIES = [
    # code, name, kind, routing (category, order)
    ("dpu", "Dinas Pekerjaan Umum (DPU)", "city_agency", [("infrastructure", 2), ("landslide", 4)]),
    ("rsup-kariadi", "RSUP Dr. Kariadi", "health_facility", [("medical", 2)]),
]
# A second or third agency when the routing list is short.
FALLBACK_AGENCIES = ["bpbd", "satpol-pp", "polrestabes", "relawan-rescue", "pmi", "tagana", "dinkes-psc"]

# Relative frequency per category: (dry season, rainy season).
CATEGORY_WEIGHTS = {
    "medical": (20, 18),
    "traffic-accident": (17, 15),
    "fire": (8, 4),
    "natural-disaster": (0.3, 0.8),
    "flood": (1.5, 9),
    "landslide": (0.5, 3),
    "tidal-flood": (2.5, 2.5),
    "other-disaster": (0.3, 0.6),
    "crime": (7, 6),
    "public-disturbance": (6, 5),
    "fallen-tree": (3, 8),
    "animal": (0.8, 0.8),
    "animal-snake": (3, 5),
    "animal-bees": (3, 2),
    "missing-person": (2, 2),
    "infrastructure": (1, 1.5),
    "fallen-pole": (1.5, 3),
    "water-main": (2, 2),
    "social": (5, 4),
    "other": (6, 5),
}
RAINY_MONTHS = {11, 12, 1, 2, 3}
WEEKDAY_FACTOR = [1.0, 0.97, 0.97, 0.98, 1.03, 1.12, 1.10]  # Monday .. Sunday
# Local hour of day: quiet before dawn, peaks in the morning and after work.
HOUR_WEIGHTS = [0.45, 0.35, 0.3, 0.28, 0.3, 0.45, 0.7, 0.95, 1.1, 1.15, 1.15, 1.1,
                1.1, 1.1, 1.1, 1.15, 1.25, 1.35, 1.4, 1.35, 1.2, 1.0, 0.8, 0.6]  # fmt: skip
# Prank calls: afternoons after school and late evenings.
PRANK_HOUR_WEIGHTS = [0.6, 0.5, 0.4, 0.3, 0.2, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0,
                      1.2, 1.4, 1.5, 1.5, 1.4, 1.3, 1.3, 1.4, 1.5, 1.4, 1.1, 0.8]  # fmt: skip
# Population-ish weights of the 16 kecamatan, in the seed's order.
DISTRICT_WEIGHTS = [6, 7, 12, 5, 6, 7, 16, 17, 10, 7, 7, 11, 5, 14, 3, 12]
DISTRICT_CENTRES = [
    (-7.0540, 110.3270), (-7.0880, 110.3740), (-7.0680, 110.4180), (-7.0170, 110.4070),
    (-6.9980, 110.4320), (-7.0160, 110.4260), (-7.0560, 110.4610), (-6.9960, 110.4620),
    (-6.9600, 110.4740), (-6.9840, 110.4480), (-6.9770, 110.4360), (-6.9590, 110.4150),
    (-6.9800, 110.4180), (-6.9860, 110.3870), (-6.9730, 110.3140), (-7.0050, 110.3490),
]  # fmt: skip
CHANNELS = [("phone_112", 85), ("app", 6), ("api", 4), ("walk_in", 2), ("social_media", 2), ("radio", 1)]
FINAL_OUTCOMES = [("closed", 86.5), ("false_alarm", 6.5), ("cancelled", 4), ("merged", 3)]
OPEN_OUTCOMES = [("received", 15), ("verified", 10), ("dispatched", 45), ("on_scene", 30)]
NON_CASE_OTHER = [("information", 60), ("wrong_number", 30), ("transferred", 10)]

FIRST_NAMES = ["Siti", "Budi", "Slamet", "Dewi", "Agus", "Sri", "Joko", "Rina", "Wahyu", "Ayu", "Dimas",
               "Nur", "Eko", "Lestari", "Hadi", "Yuni", "Bambang", "Tri", "Andi", "Putri"]  # fmt: skip
HONORIFICS = ["Bu", "Pak", "Mas", "Mbak", ""]
STREETS = ["Jl. Pandanaran", "Jl. Pemuda", "Jl. Sriwijaya", "Jl. Majapahit", "Jl. Setiabudi", "Jl. Kaligawe",
           "Jl. Siliwangi", "Jl. Gajahmada", "Jl. Imam Bonjol", "Jl. Dr. Cipto", "Jl. Fatmawati",
           "Jl. Soekarno-Hatta", "Jl. Ngesrep Timur", "Jl. Prof. Sudarto", "Jl. Woltermonginsidi"]  # fmt: skip
DESCRIPTIONS = {
    "medical": [
        "Warga pingsan di pinggir jalan, tidak sadar",
        "Ibu hamil perlu ambulans segera",
        "Lansia sesak napas di rumah",
        "Korban serangan jantung, keluarga panik",
    ],
    "traffic-accident": [
        "Tabrakan motor dan mobil, satu korban luka",
        "Truk terguling, lalu lintas macet",
        "Motor jatuh sendiri, pengendara luka di kepala",
    ],
    "fire": [
        "Kebakaran rumah warga, api membesar",
        "Kebakaran lahan kosong dekat permukiman",
        "Korsleting listrik di ruko, asap tebal",
    ],
    "flood": ["Banjir setinggi lutut di permukiman", "Air masuk rumah, warga perlu evakuasi"],
    "landslide": ["Tebing longsor menimpa rumah", "Longsor menutup jalan kampung"],
    "tidal-flood": ["Rob masuk jalan utama pelabuhan", "Rob merendam rumah warga"],
    "crime": ["Pencurian motor di parkiran", "Perkelahian antarwarga", "Penjambretan di jalan"],
    "public-disturbance": ["Keributan di tempat hiburan malam", "Pedagang menutup trotoar", "Balap liar malam hari"],
    "fallen-tree": ["Pohon tumbang menutup jalan", "Pohon tumbang menimpa kabel dan mobil"],
    "animal-snake": ["Ular kobra masuk rumah warga", "Ular sanca di selokan dekat sekolah"],
    "animal-bees": ["Sarang tawon vespa di atap rumah"],
    "missing-person": ["Anak hilang di pasar", "Lansia pikun belum pulang sejak pagi"],
    "fallen-pole": ["Tiang listrik roboh di jalan", "Kabel listrik putus dan berpercik"],
    "water-main": ["Pipa PDAM bocor, air menyembur ke jalan"],
    "social": ["Orang terlantar tidur di halte", "ODGJ mengamuk di pasar"],
}
DEFAULT_DESCRIPTIONS = ["Laporan warga, perlu pengecekan petugas", "Warga melapor kejadian di lingkungan"]
DECLINE_REASONS = ["Unit sedang bertugas di lokasi lain", "Di luar kewenangan, sudah ditangani instansi lain"]
NOTES = ["Penelepon dihubungi ulang", "Petugas minta titik lokasi lebih jelas", "Keluarga korban sudah di lokasi",
         "Update dari lapangan via radio", "Warga sekitar membantu evakuasi"]  # fmt: skip

INCIDENT_COLUMNS = (
    "id reference region_id category_id priority status channel description address district_id village_id "
    "latitude longitude caller_name caller_number duplicate_of_id created_by_id received_at verified_at "
    "first_dispatched_at first_acknowledged_at first_on_scene_at resolved_at closed_at dispatch_due_at "
    "response_due_at version created_at updated_at"
).split()
ASSIGNMENT_COLUMNS = (
    "id incident_id agency_id status dispatched_by_id note requested_at acknowledged_at en_route_at on_scene_at "
    "completed_at declined_at decline_reason cancelled_at acknowledge_due_at notified_at"
).split()
TIMELINE_COLUMNS = (
    "id incident_id assignment_id actor_id actor_label kind from_state to_state note payload created_at".split()
)
CALL_COLUMNS = (
    "id region_id channel caller_number caller_name started_at answered_at ended_at operator_id outcome "
    "incident_id notes created_at"
).split()
SHARE_COLUMNS = (
    "id incident_id agency_id level granted_by_id granted_at expires_at revoked_by_id revoked_at note".split()
)

TABLES = {
    "incidents_incident": INCIDENT_COLUMNS,
    "dispatch_assignment": ASSIGNMENT_COLUMNS,
    "incidents_timelineevent": TIMELINE_COLUMNS,
    "incidents_call": CALL_COLUMNS,
    "dispatch_incidentshare": SHARE_COLUMNS,
}
N = "\\N"  # NULL in COPY text format


def cumulative(weights):
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def pick(cum, rnd):
    return bisect.bisect_right(cum, rnd() * cum[-1])


# ------------------------------------------------------------------------------------------------
# Reference data (ORM)
# ------------------------------------------------------------------------------------------------
@dataclass
class Reference:
    region_id: int
    prefix: str
    categories: dict[str, dict]  # code -> id, priority, sla minutes, routing agency ids
    districts: list[tuple[int, str, list[tuple[int, str]]]]  # id, name, [(village id, name)]
    agencies: dict[str, int]
    operators: list[int]
    dispatchers: list[int]
    supervisors: list[int]
    users: dict[str, int] = field(default_factory=dict)


def make_reference() -> Reference:
    """Seed, extra agencies and routing, bench users and memberships (through the ORM)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from dispatch.models import Agency, Membership, Role, RoutingRule
    from dispatch.services import membership_sync_groups
    from incidents.models import Category, District, Region
    from incidents.seed import CATEGORIES, REGION, ROUTING, seed_semarang

    seed_semarang()
    with transaction.atomic():
        region = Region.objects.get(code=REGION["code"])
        for code, name, kind, rules in EXTRA_AGENCIES:
            agency, _created = Agency.objects.update_or_create(
                code=code, defaults={"name": name, "kind": kind, "region": region}
            )
            for category_code, order in rules:
                RoutingRule.objects.update_or_create(
                    category=Category.objects.get(code=category_code),
                    district=None,
                    agency=agency,
                    defaults={"order": order},
                )
        agencies = dict(Agency.objects.values_list("code", "id"))
        User = get_user_model()
        people = [(f"bench-operator-{i}", "cc112", Role.CALL_TAKER) for i in range(1, 9)]
        people += [(f"bench-dispatcher-{i}", "cc112", Role.DISPATCHER) for i in range(1, 5)]
        people += [("bench-supervisor", "cc112", Role.SUPERVISOR)]
        people += [(f"bench-{code}", code, Role.AGENCY_STAFF) for code in sorted(agencies) if code != "cc112"]
        users: dict[str, int] = {}
        for username, agency_code, role in people:
            user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True})
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            Membership.objects.update_or_create(user=user, agency_id=agencies[agency_code], defaults={"role": role})
            membership_sync_groups(user=user)
            users[username] = user.pk

    parents = {code: parent for code, _i, _e, parent, _p, _s in CATEGORIES}
    extra_routes: dict[str, list[tuple[int, str]]] = {}
    for code, _name, _kind, rules in EXTRA_AGENCIES:
        for category_code, order in rules:
            extra_routes.setdefault(category_code, []).append((order, code))

    def routes(code: str) -> list[str]:
        node = code
        while node is not None:
            listed = [(order, agency) for order, agency in enumerate(ROUTING.get(node, []), start=1)]
            listed += extra_routes.get(node, [])
            if listed:
                return [agency for _order, agency in sorted(listed)]
            node = parents.get(node)
        return []

    categories = {}
    for category in Category.objects.all():
        categories[category.code] = {
            "id": category.pk,
            "priority": category.default_priority,
            "dispatch": category.sla_dispatch_minutes * 60,
            "ack": category.sla_acknowledge_minutes * 60,
            "response": category.sla_response_minutes * 60,
            "agencies": [agencies[code] for code in routes(category.code)],
            "agency_codes": routes(category.code),
        }
    districts = [
        (d.pk, d.name, [(v.pk, v.name) for v in d.villages.order_by("pk")])
        for d in District.objects.filter(region=region).order_by("code").prefetch_related("villages")
    ]
    return Reference(
        region_id=region.pk,
        prefix=region.reference_prefix,
        categories=categories,
        districts=districts,
        agencies=agencies,
        operators=[users[f"bench-operator-{i}"] for i in range(1, 9)],
        dispatchers=[users[f"bench-dispatcher-{i}"] for i in range(1, 5)],
        supervisors=[users["bench-supervisor"]],
        users=users,
    )


# ------------------------------------------------------------------------------------------------
# COPY plumbing
# ------------------------------------------------------------------------------------------------
class CopyStream:
    """One table's COPY on its own connection; rows are tab-joined text lines."""

    def __init__(self, url: str, table: str, columns: list[str]):
        self.table = table
        self.conn = psycopg.connect(url)
        self.conn.execute("SET session_replication_role = replica")  # no FK triggers during the load
        self.conn.execute("SET synchronous_commit = off")
        self.cursor = self.conn.cursor()
        self._cm = self.cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN", writer=QueuedLibpqWriter(self.cursor)
        )
        self.copy = self._cm.__enter__()
        self.lines: list[str] = []
        self.rows = 0

    def add(self, line: str) -> None:
        self.lines.append(line)

    def flush(self) -> None:
        if self.lines:
            self.rows += len(self.lines)
            self.lines.append("")
            self.copy.write("\n".join(self.lines))
            self.lines = []

    def finish(self) -> None:
        self.flush()
        self._cm.__exit__(None, None, None)

    def commit(self) -> None:
        self.conn.commit()
        self.conn.close()


def drop_secondary_indexes(conn, tables) -> list[str]:
    """Drop non-unique indexes of the bulk tables; return their definitions to rebuild later."""
    rows = conn.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisunique AND NOT i.indisprimary
        """,
        [list(tables)],
    ).fetchall()
    for name, _definition in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in rows]


def rebuild_indexes(url: str, definitions: list[str]) -> None:
    """CREATE the dropped indexes again, two at a time (2 cores), biggest tables first."""

    def build(definition: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '1GB'")
            conn.execute("SET max_parallel_maintenance_workers = 0")
            conn.execute(definition)

    order = sorted(definitions, key=lambda d: ("timelineevent" not in d, "call" not in d, d))
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(build, order))


# ------------------------------------------------------------------------------------------------
# The history
# ------------------------------------------------------------------------------------------------
class History:
    def __init__(self, ref: Reference, size: int, seed: int, now: int):
        self.ref = ref
        self.size = size
        self.rng = random.Random(seed)
        self.now = now
        self.next_id = {"assignment": 1, "timeline": 1, "call": 1, "share": 1}
        self.ref_counters: dict[str, int] = {}
        # text caches for timestamps: day strings and hh:mm:ss+00
        self.today_local = (now + LOCAL_OFFSET) // DAY * DAY - LOCAL_OFFSET  # UTC epoch of local midnight
        self.start = self.today_local - YEAR_DAYS * DAY
        first_day = self.start // DAY
        self.day0 = first_day
        self.day_text = [time.strftime("%Y-%m-%d ", time.gmtime((first_day + d) * DAY)) for d in range(YEAR_DAYS + 40)]
        self.hms = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(DAY)]
        self.local_day_ref: dict[int, str] = {}
        self.categories = list(CATEGORY_WEIGHTS)
        self.cat_cum_dry = cumulative([CATEGORY_WEIGHTS[c][0] for c in self.categories])
        self.cat_cum_rainy = cumulative([CATEGORY_WEIGHTS[c][1] for c in self.categories])
        self.district_cum = cumulative(DISTRICT_WEIGHTS[: len(ref.districts)])
        self.channel_cum = cumulative([w for _c, w in CHANNELS])
        self.final_cum = cumulative([w for _o, w in FINAL_OUTCOMES])
        self.open_cum = cumulative([w for _o, w in OPEN_OUTCOMES])
        self.other_cum = cumulative([w for _o, w in NON_CASE_OTHER])
        self.fallback = [ref.agencies[c] for c in FALLBACK_AGENCIES if c in ref.agencies]
        self.agency_code = {pk: code for code, pk in ref.agencies.items()}
        self.share_targets = [ref.agencies[c] for c in ("pmi", "tagana", "basarnas", "relawan-rescue", "satpol-pp")]
        self.prank_pool = max(100, size // 20)
        self.counts = {"open": 0, "by_status": {}}

    # -- formatting --------------------------------------------------------------------------
    def ts(self, t: int | None) -> str:
        if t is None:
            return N
        return self.day_text[t // DAY - self.day0] + self.hms[t % DAY]

    def reference(self, t: int) -> str:
        local_day = (t + LOCAL_OFFSET) // DAY
        prefix = self.local_day_ref.get(local_day)
        if prefix is None:
            prefix = self.ref.prefix + "-" + time.strftime("%y%m%d", time.gmtime(local_day * DAY)) + "-"
            self.local_day_ref[local_day] = prefix
        value = self.ref_counters.get(prefix, 0) + 1
        self.ref_counters[prefix] = value
        return f"{prefix}{value:04d}"

    # -- arrival times -----------------------------------------------------------------------
    def _day_weights(self, hour_weights):
        weights = []
        for d in range(YEAR_DAYS + 1):
            day_start = self.start + d * DAY
            tm = time.gmtime(day_start + LOCAL_OFFSET)
            factor = WEEKDAY_FACTOR[tm.tm_wday] * (1.2 if tm.tm_mon in RAINY_MONTHS else 1.0)
            weights.append(factor)
        return cumulative(weights), cumulative(hour_weights)

    def arrival_times(self, count: int, hour_weights) -> list[int]:
        day_cum, hour_cum = self._day_weights(hour_weights)
        rnd, start, limit = self.rng.random, self.start, self.now - 5
        out = []
        append = out.append
        for _ in range(count):
            while True:
                t = start + pick(day_cum, rnd) * DAY + pick(hour_cum, rnd) * 3600 + int(rnd() * 3600)
                if t < limit:
                    append(t)
                    break
        out.sort()
        return out

    def choose_open(self, times: list[int]) -> set[int]:
        """Indexes of open incidents: all of the last 36 hours, the rest from the last 14 days."""
        quota = round(self.size * 0.01)
        recent_cut = self.now - OPEN_RECENT_HOURS * 3600
        older_cut = self.now - 14 * DAY
        recent = [i for i in range(len(times) - 1, -1, -1) if times[i] >= recent_cut]
        if len(recent) >= quota:
            return set(recent[:quota])
        older = [i for i, t in enumerate(times) if older_cut <= t < recent_cut]
        extra = self.rng.sample(older, min(len(older), quota - len(recent)))
        return set(recent) | set(extra)

    # -- one incident --------------------------------------------------------------------------
    def delay(self, median: float, sigma: float = 0.6, low: int = 1) -> int:
        return max(low, int(self.rng.lognormvariate(0, sigma) * median))

    def agencies_for(self, category: dict, k: int) -> list[int]:
        chosen = list(category["agencies"][:k])
        while len(chosen) < k:
            candidate = self.fallback[int(self.rng.random() * len(self.fallback))]
            if candidate not in chosen:
                chosen.append(candidate)
        return chosen

    def incident(self, incident_id: int, t: int, is_open: bool, out: dict[str, CopyStream], cursor: dict):
        rnd, ref = self.rng.random, self.ref
        rainy = time.gmtime(t + LOCAL_OFFSET).tm_mon in RAINY_MONTHS
        code = self.categories[pick(self.cat_cum_rainy if rainy else self.cat_cum_dry, rnd)]
        cat = ref.categories[code]
        priority = cat["priority"]
        if rnd() < 0.2:
            priority = min(4, max(1, priority + (1 if rnd() < 0.6 else -1)))
        district_id, _dname, villages = ref.districts[pick(self.district_cum, rnd)]
        village_id, village_name = villages[int(rnd() * len(villages))]
        channel = CHANNELS[pick(self.channel_cum, rnd)][0]
        operator = ref.operators[int(rnd() * len(ref.operators))]
        dispatcher = ref.dispatchers[int(rnd() * len(ref.dispatchers))]
        by_api = channel in ("api", "app")
        actor_id = N if by_api else str(operator)
        actor_label = "api:national-112" if channel == "api" else ("api:citizen-app" if channel == "app" else "")

        if is_open:
            status = OPEN_OUTCOMES[pick(self.open_cum, rnd)][0]
        else:
            status = FINAL_OUTCOMES[pick(self.final_cum, rnd)][0]
            if status == "merged" and incident_id == 1:  # the very first incident has nothing to merge into
                status = "cancelled"
        limit = self.now - 1

        created = t + 5 + int(rnd() * 20)
        verified = dispatched = first_ack = first_scene = resolved = closed = None
        explicit_verify = rnd() < 0.7
        assignments: list[dict] = []
        events: list[tuple] = []  # (time, order, mandatory, kind, from, to, assignment_id, payload, actor, label)

        def ev(at, mandatory, kind, frm="", to="", assignment=None, payload="{}", actor=None, label=None):
            events.append(
                (
                    at,
                    len(events),
                    mandatory,
                    kind,
                    frm,
                    to,
                    assignment,
                    payload,
                    actor_id if actor is None else actor,
                    actor_label if label is None else label,
                )
            )

        agency_codes = cat["agency_codes"]
        suggested = json.dumps(agency_codes[:3])
        ev(
            created,
            True,
            "created",
            "",
            "received",
            payload=f'{{"category": "{code}", "priority": {priority}, "channel": "{channel}", '
            f'"suggested_agencies": {suggested}}}',
        )

        # How far the story goes.
        reaches_dispatch = status in ("dispatched", "on_scene", "closed") or (
            status in ("cancelled", "false_alarm", "merged") and rnd() < 0.4
        )
        reaches_verify = (
            reaches_dispatch
            or status == "verified"
            or (status in ("cancelled", "false_alarm", "merged") and rnd() < 0.5)
        )
        if reaches_verify:
            verified = t + self.delay(60, low=15)
        if reaches_dispatch:
            if explicit_verify:
                dispatched = verified + self.delay(70, low=5)
            else:
                verified = dispatched = t + self.delay(100, low=20)
        if verified is not None and (explicit_verify or not reaches_dispatch):
            ev(
                verified,
                status == "verified",
                "status_changed",
                "received",
                "verified",
                actor=str(dispatcher) if reaches_dispatch else None,
            )

        if reaches_dispatch:
            k = 1 if rnd() < 0.5 else (2 if rnd() < 0.7 else 3)
            if status in ("cancelled", "false_alarm", "merged"):
                k = min(k, 2)
            agencies = self.agencies_for(cat, k)
            for j, agency_id in enumerate(agencies):
                aid = self.next_id["assignment"]
                self.next_id["assignment"] += 1
                requested = dispatched if j == 0 else dispatched + self.delay(120, low=10)
                assignments.append(
                    {
                        "id": aid,
                        "agency": agency_id,
                        "requested": requested,
                        "status": "requested",
                        "ack": None,
                        "route": None,
                        "scene": None,
                        "done": None,
                        "declined": None,
                        "cancelled": None,
                        "reason": "",
                    }
                )
            ev(
                dispatched,
                True,
                "status_changed",
                "verified" if explicit_verify else "received",
                "dispatched",
                actor=str(dispatcher),
                payload=json.dumps({"agencies": [self.agency_code[a] for a in agencies]}),
            )
            for a in assignments:
                ev(
                    a["requested"],
                    True,
                    "assignment_created",
                    "",
                    "requested",
                    a["id"],
                    f'{{"agency": "{self.agency_code[a["agency"]]}"}}',
                    actor=str(dispatcher),
                )

        # Assignment steps and incident milestones.
        if status == "closed":
            for j, a in enumerate(assignments):
                if j > 0 and rnd() < 0.06:
                    a["status"], a["declined"] = "declined", a["requested"] + self.delay(90, low=10)
                    a["reason"] = DECLINE_REASONS[int(rnd() * len(DECLINE_REASONS))]
                    continue
                a["ack"] = a["requested"] + self.delay(45, low=5)
                a["route"] = a["ack"] + self.delay(40, low=5)
                a["scene"] = a["route"] + self.delay(420, sigma=0.5, low=60)
                a["done"] = a["scene"] + self.delay(2400, sigma=0.8, low=300)
                a["status"] = "completed"
            working = [a for a in assignments if a["status"] == "completed"]
            first_ack = min(a["ack"] for a in working)
            first_scene = min(a["scene"] for a in working)
            resolved = max(a["done"] for a in working) + self.delay(60, low=5)
            closed = resolved + (24 * 3600 + int(rnd() * 300) if rnd() < 0.8 else self.delay(3 * 3600, low=300))
            if closed > limit:  # cannot happen with a 36-hour open window; keep the data valid anyway
                closed = max(resolved + 1, limit)
        elif status in ("dispatched", "on_scene"):
            for j, a in enumerate(assignments):
                step = rnd()
                if status == "on_scene" and j == 0:
                    step = 1.0
                if step > 0.35:
                    a["ack"], a["status"] = a["requested"] + self.delay(45, low=5), "acknowledged"
                if step > 0.55:
                    a["route"], a["status"] = a["ack"] + self.delay(40, low=5), "en_route"
                if step > 0.8 and status == "on_scene":
                    a["scene"], a["status"] = a["route"] + self.delay(420, sigma=0.5, low=60), "on_scene"
            acks = [a["ack"] for a in assignments if a["ack"] is not None]
            scenes = [a["scene"] for a in assignments if a["scene"] is not None]
            first_ack = min(acks) if acks else None
            first_scene = min(scenes) if scenes else None
        elif status in ("cancelled", "false_alarm", "merged"):
            base = dispatched or verified or t
            closed = base + self.delay(600, sigma=0.9, low=30)
            for a in assignments:
                if rnd() < 0.5 and a["requested"] + 60 < closed:
                    a["ack"] = a["requested"] + min(45, (closed - a["requested"]) // 2)
                a["status"], a["cancelled"] = "cancelled", closed
            acks = [a["ack"] for a in assignments if a["ack"] is not None]
            first_ack = min(acks) if acks else None

        # Open incidents must not be in the future: step back to the furthest status that fits.
        if is_open:
            if any(x is not None and x > limit for x in (verified, dispatched, first_ack, first_scene)) or any(
                x is not None and x > limit for a in assignments for x in (a["ack"], a["route"], a["scene"])
            ):
                if t < limit - 3600:  # draw the story again
                    return self.incident(incident_id, t, is_open, out, cursor)
                return self._received_only(
                    incident_id,
                    t,
                    out,
                    cat,
                    code,
                    priority,
                    district_id,
                    village_id,
                    village_name,
                    channel,
                    actor_id,
                    actor_label,
                    operator,
                    cursor,
                )

        # Assignment events and rows.
        for a in assignments:
            name = self.agency_code[a["agency"]]
            staff = str(ref.users[f"bench-{name}"])
            payload = f'{{"agency": "{name}"}}'
            prev = "requested"
            for key, to in (
                ("ack", "acknowledged"),
                ("route", "en_route"),
                ("scene", "on_scene"),
                ("done", "completed"),
            ):
                if a[key] is not None:
                    ev(a[key], False, "assignment_status", prev, to, a["id"], payload, actor=staff, label="")
                    prev = to
            if a["declined"] is not None:
                ev(
                    a["declined"],
                    False,
                    "assignment_status",
                    "requested",
                    "declined",
                    a["id"],
                    payload,
                    actor=staff,
                    label="",
                )
            if a["cancelled"] is not None:
                ev(
                    a["cancelled"],
                    False,
                    "assignment_status",
                    prev,
                    "cancelled",
                    a["id"],
                    payload,
                    actor=str(dispatcher),
                    label="",
                )
            out["dispatch_assignment"].add(
                "\t".join(
                    (
                        str(a["id"]),
                        str(incident_id),
                        str(a["agency"]),
                        a["status"],
                        str(dispatcher),
                        "",
                        self.ts(a["requested"]),
                        self.ts(a["ack"]),
                        self.ts(a["route"]),
                        self.ts(a["scene"]),
                        self.ts(a["done"]),
                        self.ts(a["declined"]),
                        a["reason"],
                        self.ts(a["cancelled"]),
                        self.ts(a["requested"] + cat["ack"]),
                        self.ts(a["requested"] + 2),
                    )
                )
            )

        if first_scene is not None:
            ev(
                first_scene,
                True,
                "status_changed",
                "dispatched",
                "on_scene",
                actor=str(ref.users[f"bench-{self.agency_code[assignments[0]['agency']]}"]),
                label="",
            )
        if resolved is not None:
            ev(resolved, True, "status_changed", "on_scene", "resolved", actor=str(dispatcher), label="")
        if status == "closed":
            auto = closed - resolved >= 24 * 3600
            ev(
                closed,
                True,
                "status_changed",
                "resolved",
                "closed",
                actor=N if auto else str(ref.supervisors[0]),
                label="celery" if auto else "",
            )
        elif status in ("cancelled", "false_alarm", "merged"):
            frm = "dispatched" if dispatched else ("verified" if verified else "received")
            ev(closed, True, "status_changed", frm, status, actor=str(operator) if not by_api else N)

        duplicate_of = str(max(1, incident_id - 1 - int(rnd() * 30))) if status == "merged" else N

        call_id = N
        if channel == "phone_112":
            call_id = str(self._emit_emergency_call(incident_id, t, operator, cursor, out))
            ev(created, False, "call_linked", payload=f'{{"call_id": {call_id}, "channel": "phone_112"}}')
            if rnd() < 0.06:
                self._emit_call(out, t + self.delay(240, low=30), "duplicate", incident_id, operator)
        # Optional context to reach 3-8 events.
        end = closed or resolved or first_scene or dispatched or verified or created
        for _ in range(2):
            ev(min(limit, created + int(rnd() * max(1, end - created))), False, "note", actor=str(dispatcher), label="")
        self._emit_timeline(incident_id, events, out)

        # Share with a partner now and then (live on open incidents).
        if reaches_dispatch and rnd() < 0.004:
            self._emit_share(incident_id, (dispatched or t) + 60, closed, out)

        version = 1 + sum(1 for e in events if e[3] == "status_changed") + (1 if first_ack else 0)
        last = max(e[0] for e in events)
        caller_name = f"{HONORIFICS[int(rnd() * 5)]} {FIRST_NAMES[int(rnd() * 20)]}".strip() if not by_api else ""
        caller_number = "" if by_api and rnd() < 0.5 else f"+628{int(rnd() * 9e9) + 1_000_000_000:d}"
        lat, lng = DISTRICT_CENTRES[(district_id - ref.districts[0][0]) % len(DISTRICT_CENTRES)]
        has_coords = rnd() < 0.7
        descriptions = DESCRIPTIONS.get(code, DEFAULT_DESCRIPTIONS)
        out["incidents_incident"].add(
            "\t".join(
                (
                    str(incident_id),
                    self.reference(t),
                    str(ref.region_id),
                    str(cat["id"]),
                    str(priority),
                    status,
                    channel,
                    descriptions[int(rnd() * len(descriptions))],
                    f"{STREETS[int(rnd() * len(STREETS))]} No. {1 + int(rnd() * 200)}, {village_name}",
                    str(district_id),
                    str(village_id),
                    f"{lat + (rnd() - 0.5) * 0.03:.6f}" if has_coords else N,
                    f"{lng + (rnd() - 0.5) * 0.03:.6f}" if has_coords else N,
                    caller_name,
                    caller_number,
                    duplicate_of,
                    actor_id,
                    self.ts(t),
                    self.ts(verified),
                    self.ts(dispatched),
                    self.ts(first_ack),
                    self.ts(first_scene),
                    self.ts(resolved),
                    self.ts(closed),
                    self.ts(t + cat["dispatch"]),
                    self.ts(t + cat["response"]),
                    str(version),
                    self.ts(created),
                    self.ts(last),
                )
            )
        )
        self.counts["by_status"][status] = self.counts["by_status"].get(status, 0) + 1

    def _received_only(
        self,
        incident_id,
        t,
        out,
        cat,
        code,
        priority,
        district_id,
        village_id,
        village_name,
        channel,
        actor_id,
        actor_label,
        operator,
        cursor,
    ):
        """An incident of the last minutes: received, nothing else yet."""
        rnd = self.rng.random
        created = t + 5
        events = [
            (
                created,
                0,
                True,
                "created",
                "",
                "received",
                None,
                f'{{"category": "{code}", "priority": {priority}, "channel": "{channel}", "suggested_agencies": []}}',
                actor_id,
                actor_label,
            )
        ]
        if channel == "phone_112":
            call_id = self._emit_emergency_call(incident_id, t, operator, cursor, out, ended=False)
            events.append(
                (
                    created,
                    1,
                    False,
                    "call_linked",
                    "",
                    "",
                    None,
                    f'{{"call_id": {call_id}, "channel": "phone_112"}}',
                    actor_id,
                    actor_label,
                )
            )
        self._emit_timeline(incident_id, events, out, minimum=1)
        out["incidents_incident"].add(
            "\t".join(
                (
                    str(incident_id),
                    self.reference(t),
                    str(self.ref.region_id),
                    str(cat["id"]),
                    str(priority),
                    "received",
                    channel,
                    DEFAULT_DESCRIPTIONS[0],
                    f"Jl. Pemuda No. {1 + int(rnd() * 200)}, {village_name}",
                    str(district_id),
                    str(village_id),
                    N,
                    N,
                    "",
                    "",
                    N,
                    actor_id,
                    self.ts(t),
                    N,
                    N,
                    N,
                    N,
                    N,
                    N,
                    self.ts(t + cat["dispatch"]),
                    self.ts(t + cat["response"]),
                    "1",
                    self.ts(created),
                    self.ts(created),
                )
            )
        )
        self.counts["by_status"]["received"] = self.counts["by_status"].get("received", 0) + 1

    def _emit_timeline(self, incident_id, events, out, minimum=3):
        rnd = self.rng.random
        mandatory = [e for e in events if e[2]]
        optional = [e for e in events if not e[2]]
        if len(mandatory) > 8:  # keep the story, drop the explicit verification
            mandatory = [e for e in mandatory if not (e[3] == "status_changed" and e[5] == "verified")][:8]
        target = max(len(mandatory), minimum, 3 + int(rnd() * 6))
        self.rng.shuffle(optional)
        chosen = sorted(mandatory + optional[: max(0, target - len(mandatory))], key=lambda e: (e[0], e[1]))
        stream = out["incidents_timelineevent"]
        for at, _order, _m, kind, frm, to, assignment, payload, actor, label in chosen:
            eid = self.next_id["timeline"]
            self.next_id["timeline"] += 1
            note = NOTES[int(rnd() * len(NOTES))] if kind == "note" else ""
            stream.add(
                "\t".join(
                    (
                        str(eid),
                        str(incident_id),
                        N if assignment is None else str(assignment),
                        actor,
                        label,
                        kind,
                        frm,
                        to,
                        note,
                        payload,
                        self.ts(at),
                    )
                )
            )

    def _emit_call(self, out, started, outcome, incident_id, operator, number=None, answered_delay=None, length=None):
        rnd = self.rng.random
        cid = self.next_id["call"]
        self.next_id["call"] += 1
        answered = started + (answered_delay if answered_delay is not None else 2 + int(rnd() * 12))
        ended = answered + (length if length is not None else 20 + int(rnd() * 200))
        number = number or f"+628{int(rnd() * 9e9) + 1_000_000_000:d}"
        out["incidents_call"].add(
            "\t".join(
                (
                    str(cid),
                    str(self.ref.region_id),
                    "phone_112",
                    number,
                    "",
                    self.ts(started),
                    self.ts(answered),
                    self.ts(min(ended, max(answered, self.now - 1))),
                    str(operator),
                    outcome,
                    N if incident_id is None else str(incident_id),
                    "",
                    self.ts(started),
                )
            )
        )
        return cid

    def _emit_emergency_call(self, incident_id, t, operator, cursor, out, ended=True):
        # Non-case calls that came in before this incident keep the call ids roughly chronological.
        self._drain_non_case(t, cursor, out)
        ring = 3 + int(self.rng.random() * 15)
        return self._emit_call(
            out,
            t - ring,
            "emergency",
            incident_id,
            operator,
            answered_delay=ring,
            length=60 + int(self.rng.random() * 300) if ended else 1,
        )

    def _drain_non_case(self, until, cursor, out):
        times, outcomes = cursor["times"], cursor["outcomes"]
        i = cursor["i"]
        rnd = self.rng.random
        while i < len(times) and times[i] < until:
            outcome = outcomes[i]
            if outcome in ("prank", "silent"):
                number = f"+62811{int(self.prank_pool * rnd() ** 3):07d}"  # repeat callers
                length = 3 + int(rnd() * (40 if outcome == "prank" else 15))
            else:
                number, length = None, 30 + int(rnd() * 200)
            self._emit_call(
                out,
                times[i],
                outcome,
                None,
                self.ref.operators[int(rnd() * len(self.ref.operators))],
                number=number,
                answered_delay=1 + int(rnd() * 6),
                length=length,
            )
            i += 1
        cursor["i"] = i

    def _emit_share(self, incident_id, granted, closed, out):
        rnd = self.rng.random
        sid = self.next_id["share"]
        self.next_id["share"] += 1
        agency = self.share_targets[int(rnd() * len(self.share_targets))]
        revoked = None
        if closed is not None and rnd() < 0.5:
            revoked = max(granted + 1, closed)
        expires = granted + 7 * DAY if rnd() < 0.5 else None
        out["dispatch_incidentshare"].add(
            "\t".join(
                (
                    str(sid),
                    str(incident_id),
                    str(agency),
                    "view" if rnd() < 0.7 else "assist",
                    str(self.ref.dispatchers[0]),
                    self.ts(granted),
                    self.ts(expires),
                    N if revoked is None else str(self.ref.dispatchers[0]),
                    self.ts(revoked),
                    "",
                )
            )
        )


def generate(size: int, *, seed: int = 112, url: str | None = None, recreate: bool = True, quiet: bool = False):
    """Build the bench database with ``size`` incidents. Returns timings and counts."""
    url = url or db.bench_url()
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if recreate:
        db.recreate_database(url)
        db.migrate(url)
    timings["create_and_migrate_s"] = time.perf_counter() - t0
    say(f"  database ready ({timings['create_and_migrate_s']:.1f} s)")

    db.setup_django(url)
    t1 = time.perf_counter()
    ref = make_reference()
    timings["reference_data_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        missing = _check_columns(conn)
        if missing:
            raise SystemExit(f"bench.generate does not know these NOT NULL columns without default: {missing}")
        for table in TABLES:
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if count:
                raise SystemExit(f"{table} is not empty ({count} rows); run with a fresh database")
        dropped = drop_secondary_indexes(conn, TABLES)

    now = int(time.time())
    history = History(ref, size, seed, now)
    times = history.arrival_times(size, HOUR_WEIGHTS)
    open_set = history.choose_open(times)
    total_calls = round(size / 0.6)
    expected_case_calls = int(size * 0.85 * 1.06)
    non_case = max(0, total_calls - expected_case_calls)
    prank_silent = min(non_case, round(total_calls * 0.40))
    non_case_times = history.arrival_times(non_case, PRANK_HOUR_WEIGHTS)
    rnd = history.rng.random
    outcomes = []
    for _ in range(non_case):
        if rnd() < prank_silent / max(1, non_case):
            outcomes.append("prank" if rnd() < 0.62 else "silent")
        else:
            outcomes.append(NON_CASE_OTHER[pick(history.other_cum, rnd)][0])
    cursor = {"times": non_case_times, "outcomes": outcomes, "i": 0}
    timings["arrival_times_s"] = time.perf_counter() - t2
    say(f"  {size} arrival times, {len(open_set)} open, {non_case} non-case calls ({timings['arrival_times_s']:.1f} s)")

    t3 = time.perf_counter()
    streams = {table: CopyStream(url, table, columns) for table, columns in TABLES.items()}
    chunk = 5000
    for index, t in enumerate(times):
        history.incident(index + 1, t, index in open_set, streams, cursor)
        if (index + 1) % chunk == 0:
            for stream in streams.values():
                stream.flush()
            if not quiet and (index + 1) % (chunk * 20) == 0:
                rate = (index + 1) / (time.perf_counter() - t3)
                say(f"    {index + 1:>9} incidents  {rate:,.0f}/s")
    history._drain_non_case(now + 1, cursor, streams)
    finishers = [threading.Thread(target=s.finish) for s in streams.values()]
    for thread in finishers:
        thread.start()
    for thread in finishers:
        thread.join()
    for stream in streams.values():
        stream.commit()
    timings["copy_s"] = time.perf_counter() - t3
    counts = {table: stream.rows for table, stream in streams.items()}
    say(f"  COPY done ({timings['copy_s']:.1f} s): " + ", ".join(f"{k}={v}" for k, v in counts.items()))

    t4 = time.perf_counter()
    rebuild_indexes(url, dropped)
    timings["indexes_s"] = time.perf_counter() - t4
    say(f"  {len(dropped)} indexes rebuilt ({timings['indexes_s']:.1f} s)")

    t5 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        _finish_data(conn, history)
        problems = _check_integrity(conn)
        if problems:
            raise SystemExit(f"integrity check failed: {problems}")
    timings["finish_and_checks_s"] = time.perf_counter() - t5
    say(f"  counters, caller numbers, sequences, FK checks ({timings['finish_and_checks_s']:.1f} s)")

    t6 = time.perf_counter()
    _vacuum_analyze(url)
    timings["vacuum_analyze_s"] = time.perf_counter() - t6
    say(f"  VACUUM ANALYZE ({timings['vacuum_analyze_s']:.1f} s)")

    timings["data_s"] = time.perf_counter() - t1  # everything after migrate
    timings["total_s"] = time.perf_counter() - t0
    with psycopg.connect(url) as conn:
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (*TABLES, "incidents_callernumber")
        }
        counts["open_incidents"] = conn.execute(
            "SELECT count(*) FROM incidents_incident WHERE status IN ('received','verified','dispatched','on_scene')"
        ).fetchone()[0]
        counts["prank_or_silent_calls"] = conn.execute(
            "SELECT count(*) FROM incidents_call WHERE outcome IN ('prank','silent')"
        ).fetchone()[0]
        counts["agencies"] = conn.execute("SELECT count(*) FROM dispatch_agency").fetchone()[0]
        counts["districts"] = conn.execute("SELECT count(*) FROM incidents_district").fetchone()[0]
        counts["db_size"] = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    say(f"  done in {timings['total_s']:.1f} s (data {timings['data_s']:.1f} s): {counts}")
    return {"size": size, "seed": seed, "timings": timings, "counts": counts, "generated_at": now}


def _check_columns(conn) -> list[str]:
    """NOT NULL columns without a default that the generator does not fill (a model grew a field)."""
    missing = []
    for table, columns in TABLES.items():
        rows = conn.execute(
            """SELECT column_name FROM information_schema.columns
               WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'""",
            [table],
        ).fetchall()
        missing += [f"{table}.{name}" for (name,) in rows if name not in columns and name != "id"]
    return missing


def _finish_data(conn, history: History) -> None:
    with conn.cursor() as cur:
        with cur.copy("COPY incidents_referencecounter (prefix, day, last_value) FROM STDIN") as copy:
            for prefix, value in history.ref_counters.items():
                region, day = prefix.rstrip("-").split("-")
                copy.write_row((region, f"20{day[:2]}-{day[2:4]}-{day[4:]}", value))
    conn.execute(
        """
        INSERT INTO incidents_callernumber (number, prank_count, is_flagged, blocked_until, note, updated_at)
        SELECT caller_number, count(*), count(*) >= 3, NULL, '', max(started_at)
        FROM incidents_call WHERE outcome IN ('prank', 'silent') AND caller_number <> ''
        GROUP BY caller_number
        """
    )
    for table in (*TABLES, "incidents_callernumber"):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )


def _check_integrity(conn) -> dict[str, int]:
    """The foreign keys the load did not check, checked once with anti-joins."""
    checks = {
        "assignment.incident": "SELECT count(*) FROM dispatch_assignment a LEFT JOIN incidents_incident i ON i.id = a.incident_id WHERE i.id IS NULL",
        "timeline.incident": "SELECT count(*) FROM incidents_timelineevent e LEFT JOIN incidents_incident i ON i.id = e.incident_id WHERE i.id IS NULL",
        "timeline.assignment": "SELECT count(*) FROM incidents_timelineevent e LEFT JOIN dispatch_assignment a ON a.id = e.assignment_id WHERE e.assignment_id IS NOT NULL AND a.id IS NULL",
        "call.incident": "SELECT count(*) FROM incidents_call c LEFT JOIN incidents_incident i ON i.id = c.incident_id WHERE c.incident_id IS NOT NULL AND i.id IS NULL",
        "incident.duplicate_of": "SELECT count(*) FROM incidents_incident i LEFT JOIN incidents_incident d ON d.id = i.duplicate_of_id WHERE i.duplicate_of_id IS NOT NULL AND d.id IS NULL",
        "milestones_out_of_order": """SELECT count(*) FROM incidents_incident WHERE NOT (
            coalesce(verified_at >= received_at, true) AND coalesce(first_dispatched_at >= verified_at, true)
            AND coalesce(first_acknowledged_at > first_dispatched_at, true)
            AND coalesce(first_on_scene_at > first_acknowledged_at, true)
            AND coalesce(resolved_at > first_on_scene_at, true) AND coalesce(closed_at > resolved_at, true)
            AND coalesce(closed_at > received_at, true) AND coalesce(closed_at <= now(), true))""",
    }
    problems = {}
    for name, query in checks.items():
        (count,) = conn.execute(query).fetchone()
        if count:
            problems[name] = count
    return problems


def _vacuum_analyze(url: str) -> None:
    """Hint bits, visibility map and statistics, as autovacuum would have left them."""
    tables = [*TABLES, "incidents_callernumber", "incidents_referencecounter"]

    def run(table: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute(f"VACUUM (ANALYZE) {table}")

    order = sorted(tables, key=lambda t: t != "incidents_timelineevent")
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, order))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="number of incidents (default 100000)")
    parser.add_argument("--seed", type=int, default=112)
    parser.add_argument("--database-url", default=None, help=f"default $BENCH_DATABASE_URL or {db.DEFAULT_URL}")
    args = parser.parse_args(argv)
    result = generate(args.size, seed=args.seed, url=args.database_url)
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
