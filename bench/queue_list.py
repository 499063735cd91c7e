"""Scenario 2: the command center's live queue and agency users' incident lists.

Measures the SQL the product really runs: every queryset starts from the API's own
``IncidentViewSet.get_queryset`` (``incident_list_for_user`` + its select/prefetch) or the
console's ``_queue_rows``, is filtered with the API's ``IncidentFilter`` where a case has a
filter, and is paginated the way ``KeysetPagination`` does it (``page_size + 1`` rows, the next
page by ``_beyond`` over the ordering's fields). For each case: median / p95 of ~200 timed
evaluations after a warm-up (``time.perf_counter``, in this process, ORM included), the number
of SQL queries (``CaptureQueriesContext``), and ``EXPLAIN (ANALYZE, BUFFERS)`` of the main query.

For the API's cases it also times the whole list response the way a client gets it, minus HTTP
and authentication: ``GET /api/v1/incidents/`` through ``IncidentViewSet`` (filter, keyset page,
serializer, JSON rendering) with ``force_authenticate`` and without throttling — "api median / p95". The SQL time alone
hid where most of a page went (serializing 50 rows). The API has no (priority, received_at, id)
ordering, so its queue cases use its nearest, ``?ordering=priority`` (priority, newest first).

    python -m bench.queue_list [--runs 200]      # against the current bench database
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass
from types import SimpleNamespace

from bench import db

PAGE_SIZE = 50
DEEP_ROW = 5000  # the deep page starts after this row (or at 80% of a shorter list)
OPEN = ["received", "verified", "dispatched", "on_scene"]


@dataclass
class Case:
    name: str
    title: str
    username: str
    ordering: tuple[str, ...]
    filters: dict | None = None
    deep: bool = False
    console: bool = False
    targets: dict | None = None


QUEUE_ORDERING = ("priority", "received_at", "id")  # the live queue: by priority, oldest first
LIST_ORDERING = ("-received_at", "-id")  # the API's default ordering
QUEUE_TARGET = {"median_ms": 30}
# The API's ?ordering= for each case's ordering (see the module docstring for the queue's).
API_ORDERING = {LIST_ORDERING: ("-received_at", ("-received_at", "-id")), QUEUE_ORDERING: ("priority", ("priority", "-received_at", "-id"))}  # fmt: skip
AGENCY_TARGET = {"median_ms": 30, "p95_ms": 60, "no_seq_scan": True}

REFERENCE = "<reference>"  # replaced by the reference of the user's middle incident (by date)

CASES = [
    Case("queue_first", "Dispatcher: open queue, first page", "bench-dispatcher-1", QUEUE_ORDERING,
         {"status": OPEN}, targets=QUEUE_TARGET),
    Case("queue_deep", "Dispatcher: open queue, deep cursor page", "bench-dispatcher-1", QUEUE_ORDERING,
         {"status": OPEN}, deep=True, targets=QUEUE_TARGET),
    Case("console_queue", "Dispatcher: console live queue (QUEUE_MAX_ROWS rows, SLA clocks)", "bench-dispatcher-1",
         QUEUE_ORDERING, console=True),
    Case("console_queue_html", "Dispatcher: console live queue refresh, rows + HTML (what htmx fetches)",
         "bench-dispatcher-1", QUEUE_ORDERING, console=True),
    Case("console_poll", "Dispatcher: the queue view's htmx poll, rendered (first poll, or the rows changed)",
         "bench-dispatcher-1", QUEUE_ORDERING, console=True),
    Case("console_poll_unchanged", "Dispatcher: the same poll when nothing changed (If-None-Match → 304)",
         "bench-dispatcher-1", QUEUE_ORDERING, console=True),
    Case("inbox_poll", "Damkar staff: the agency inbox's htmx poll, rendered (first poll, or a change)",
         "bench-damkar", QUEUE_ORDERING, console=True),
    Case("inbox_poll_unchanged", "Damkar staff: the same inbox poll when nothing changed (If-None-Match → 304)",
         "bench-damkar", QUEUE_ORDERING, console=True),
    Case("search_reference", "Dispatcher: search for a reference number a caller reads out (?q=)",
         "bench-dispatcher-1", LIST_ORDERING, {"q": REFERENCE}, targets=QUEUE_TARGET),
    Case("search_no_match", "Dispatcher: search for a word no incident holds (?q=xyzzy)",
         "bench-dispatcher-1", LIST_ORDERING, {"q": "xyzzy"}, targets=QUEUE_TARGET),
    Case("agency_search_reference", "Damkar staff: search for a reference number (?q=)", "bench-damkar",
         LIST_ORDERING, {"q": REFERENCE}, targets=AGENCY_TARGET),
    Case("agency_first", "Damkar staff: incident list, first page", "bench-damkar", LIST_ORDERING,
         targets=AGENCY_TARGET),
    Case("agency_deep", "Damkar staff: incident list, deep cursor page", "bench-damkar", LIST_ORDERING,
         deep=True, targets=AGENCY_TARGET),
    Case("agency_open_first", "Damkar staff: open incidents only, first page", "bench-damkar", LIST_ORDERING,
         {"status": OPEN}, targets=AGENCY_TARGET),
    Case("agency_large_first", "PSC 119 staff (largest agency): first page", "bench-dinkes-psc", LIST_ORDERING,
         targets=AGENCY_TARGET),
    Case("agency_small_first", "PDAM staff (small agency): first page", "bench-pdam", LIST_ORDERING,
         targets=AGENCY_TARGET),
    Case("agency_shared_first", "PMI staff (has live shares): first page", "bench-pmi", LIST_ORDERING,
         targets=AGENCY_TARGET),
]  # fmt: skip


def _api_queryset(user):
    """The API list's queryset, built by the API's own view code."""
    from incidents.api.views import IncidentViewSet

    view = IncidentViewSet()
    view.action = "list"
    view.request = SimpleNamespace(user=user, query_params={})
    view.kwargs = {}
    view.format_kwarg = None
    return view.get_queryset()


def _filtered(user, filters):
    queryset = _api_queryset(user)
    if filters:
        from incidents.filters import IncidentFilter

        filterset = IncidentFilter(data=_querydict(filters), queryset=queryset)
        if not filterset.is_valid():
            raise SystemExit(f"invalid filter {filters}: {filterset.errors}")
        queryset = filterset.qs
    return queryset


def _querydict(filters):
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    for key, value in filters.items():
        data.setlist(key, value if isinstance(value, list) else [value])
    return data


def _page(user, case: Case, cursor: list | None):
    """One page exactly as KeysetPagination.paginate_queryset builds it."""
    from semarang112.api.pagination import _beyond

    queryset = _filtered(user, case.filters)
    if cursor is not None:
        queryset = queryset.filter(_beyond(case.ordering, cursor, forward=True))
    return queryset.order_by(*case.ordering)[: PAGE_SIZE + 1]


def _cursor(user, case: Case) -> tuple[list, int, int]:
    """Sort key of the row the deep page starts after, and that row's position."""
    queryset = _filtered(user, case.filters).order_by(*case.ordering)
    total = queryset.count()
    position = min(DEEP_ROW, int(total * 0.8))
    fields = [f.lstrip("-") for f in case.ordering]
    values = list(queryset.values_list(*fields)[position - 1 : position][0]) if position else None
    return values, position, total


def _api_call(user, case: Case):
    """A function that answers one API list request for ``user`` (rendered JSON) and returns it."""
    from dataclasses import replace

    from rest_framework.test import APIRequestFactory, force_authenticate

    from incidents.api.views import IncidentViewSet
    from semarang112.api.pagination import KeysetPagination

    name, fields = API_ORDERING[case.ordering]
    params = {**(case.filters or {}), "ordering": name, "page_size": PAGE_SIZE}
    if case.deep:
        values, _position, _total = _cursor(user, replace(case, ordering=fields))
        paginator = KeysetPagination()
        paginator.ordering = name
        params["cursor"] = paginator.encode_cursor("n", values)
    view = IncidentViewSet.as_view({"get": "list"}, throttle_classes=[])  # thousands of requests, one user
    factory = APIRequestFactory()

    def call():
        request = factory.get("/api/v1/incidents/", params)
        force_authenticate(request, user=_fresh(user))
        response = view(request)
        response.render()
        if response.status_code != 200:
            raise SystemExit(f"{case.name}: API answered {response.status_code}: {response.content[:300]!r}")
        return response

    return call


def _render_queue_rows(user, rows, total: int) -> str:
    """The live queue's htmx partial (incidents.views.queue with ?rows=1), as the view renders it."""
    from django.conf import settings
    from django.template.loader import render_to_string
    from django.test import RequestFactory
    from django.utils import timezone

    from incidents.forms import QueueFilterForm

    request = RequestFactory().get("/incidents/queue/?rows=1")
    request.user, request.htmx = user, True
    context = {"form": QueueFilterForm(None), "rows": rows, "total": total, "wall": False,
               "refresh": settings.QUEUE_REFRESH_SECONDS, "now": timezone.now()}  # fmt: skip
    return render_to_string("incidents/_queue_rows.html", context, request=request)


_CSRF_SECRET = "bench0csrf0secret0of0the0browser"  # 32 characters, like Django's


def _polls():
    """Case prefix → (view, path, marker of one rendered row) of the screens htmx polls."""
    from dispatch.views import inbox
    from incidents.views import queue

    return {"console_poll": (queue, "/queue/", rb'<tr class="row-link"'),
            "inbox_poll": (inbox, "/inbox/", rb'<tr id="assignment-')}  # fmt: skip


def _poll(view, path: str, user, etag: str | None = None):
    """``GET <path>?rows=1`` as htmx sends it every QUEUE_REFRESH_SECONDS, through the view itself
    (rows, ETag, rendering or 304), without the middleware."""
    from django.test import RequestFactory
    from django_htmx.middleware import HtmxDetails

    headers = {"HTTP_HX_REQUEST": "true"} | ({"HTTP_IF_NONE_MATCH": etag} if etag else {})
    request = RequestFactory().get(path, {"rows": "1"}, **headers)
    request.user, request.htmx = user, HtmxDetails(request)
    request.META["CSRF_COOKIE"] = _CSRF_SECRET  # the browser's csrftoken cookie, as CsrfViewMiddleware reads it
    return view(request)


def _with_reference(user, case: Case) -> Case:
    """The case searching for the reference of the user's middle incident by date."""
    from dataclasses import replace

    visible = _filtered(user, None).order_by("received_at", "id")
    reference = visible.values_list("reference", flat=True)[visible.count() // 2]
    return replace(case, filters={**case.filters, "q": reference})


def _fresh(user):
    """The user as a new request sees it: the principal's Access (one query) is built again."""
    user.__dict__.pop("_semarang112_access", None)
    return user


def _plan(queryset) -> str:
    return queryset.explain(analyze=True, buffers=True)


def _summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return {
        "runs": len(samples),
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(p95, 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
        "min_ms": round(ordered[0], 3),
        "max_ms": round(ordered[-1], 3),
    }


def run_case(case: Case, runs: int, warmup: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = get_user_model().objects.get(username=case.username)
    if case.filters and case.filters.get("q") == REFERENCE:
        case = _with_reference(user, case)
    result: dict = {"name": case.name, "title": case.title, "user": case.username, "ordering": list(case.ordering),
                    "filters": case.filters, "page_size": PAGE_SIZE}  # fmt: skip

    if poll := next((spec for prefix, spec in _polls().items() if case.name.startswith(prefix)), None):
        view, path, row_marker = poll
        etag = _poll(view, path, _fresh(user))["ETag"] if case.name.endswith("_unchanged") else None

        def evaluate():
            response = _poll(view, path, _fresh(user), etag)
            expected = 304 if etag else 200
            if response.status_code != expected:
                raise RuntimeError(f"{case.name}: {response.status_code}, expected {expected}")
            return re.findall(row_marker, response.content)  # the rows rendered

        plan_source = None
    elif case.console:
        from incidents.forms import QueueFilterForm
        from incidents.views import _queue_rows

        def evaluate():
            rows, total = _queue_rows(_fresh(user), QueueFilterForm(None))
            if case.name.endswith("_html"):
                _render_queue_rows(user, rows, total)
            return rows

        plan_source = None
    else:
        cursor = None
        if case.deep:
            cursor, position, total = _cursor(user, case)
            result.update({"deep_after_row": position, "list_rows": total})

        def evaluate():
            from incidents.selectors import list_rows_attach_reference_data

            return list_rows_attach_reference_data(list(_page(_fresh(user), case, cursor)))

        def plan_source():
            return _page(_fresh(user), case, cursor)

    for _ in range(warmup):
        evaluate()
    with CaptureQueriesContext(connection) as captured:
        rows = evaluate()
    result["rows"] = len(rows)
    result["queries"] = len(captured.captured_queries)
    result["queries_sql"] = [q["sql"][:300] for q in captured.captured_queries]
    samples, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        evaluate()
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    result.update(_summary(samples))
    # CPU of this process only (Python, ORM, driver): on a busy machine wall time also holds the
    # wait for a core, which this does not.
    result["python_cpu_median_ms"] = round(statistics.median(cpu), 3)
    if not case.console:
        call = _api_call(user, case)
        for _ in range(warmup):
            call()
        with CaptureQueriesContext(connection) as captured:
            response = call()
        api_samples = []
        for _ in range(runs):
            start = time.perf_counter()
            call()
            api_samples.append((time.perf_counter() - start) * 1000)
        api = _summary(api_samples)
        result["api"] = {
            "ordering": API_ORDERING[case.ordering][0],
            "rows": len(json.loads(response.content)["results"]),
            "bytes": len(response.content),
            "queries": len(captured.captured_queries),
            **{key: api[key] for key in ("runs", "median_ms", "p95_ms", "mean_ms", "min_ms", "max_ms")},
        }
    if plan_source is not None:
        plan = _plan(plan_source())
        result["plan"] = plan
        result["seq_scan_on_incidents"] = bool(re.search(r"Seq Scan on incidents_incident\b", plan))
        match = re.search(r"Execution Time: ([\d.]+) ms", plan)
        result["explain_execution_ms"] = float(match.group(1)) if match else None
        result["plan_summary"] = plan_summary(plan)
    result["targets"] = case.targets or {}
    result["meets_targets"] = _meets(result, case.targets)
    return result


def plan_summary(plan: str) -> str:
    """The plan's node lines without costs and buffers: what a reviewer reads first."""
    keep = []
    for line in plan.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("Buffers:", "Planning", "Execution", "Cache ", "Hits:", "Memory")):
            continue
        if re.match(
            r"^(->\s+)?[A-Z][A-Za-z ]+(Scan|Join|Loop|Sort|Limit|Aggregate|Result|Memoize|Append|Materialize|Hash|SubPlan|InitPlan)",
            stripped,
        ):
            keep.append(re.sub(r"\s+\(cost=.*?\)", "", line.rstrip()).replace("  (actual", " (actual"))
        elif stripped.startswith(("Index Cond:", "Filter:", "Rows Removed", "Sort Key:", "SubPlan", "InitPlan")):
            keep.append(line.rstrip())
    return "\n".join(keep)


def _meets(result: dict, targets: dict | None) -> bool | None:
    if not targets:
        return None
    ok = True
    if "median_ms" in targets:
        ok &= result["median_ms"] < targets["median_ms"]
    if "p95_ms" in targets:
        ok &= result["p95_ms"] < targets["p95_ms"]
    if targets.get("no_seq_scan") and "seq_scan_on_incidents" in result:
        ok &= not result["seq_scan_on_incidents"]
    return bool(ok)


def run(runs: int = 200, warmup: int = 20, only: list[str] | None = None, say=print) -> dict:
    db.setup_django()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM incidents_incident")
        (incidents,) = cursor.fetchone()
    results = []
    for case in CASES:
        if only and case.name not in only:
            continue
        result = run_case(case, runs, warmup)
        results.append(result)
        flag = {True: "ok", False: "MISSED", None: "-"}[result["meets_targets"]]
        seq = " SEQ SCAN" if result.get("seq_scan_on_incidents") else ""
        api = result.get("api")
        api_text = f"  api {api['median_ms']:7.2f} / {api['p95_ms']:7.2f} ms ({api['queries']} q)" if api else ""
        say(
            f"  {case.name:<22} median {result['median_ms']:7.2f} ms  p95 {result['p95_ms']:7.2f} ms  "
            f"queries {result['queries']}  rows {result['rows']:>3}  sql {result.get('explain_execution_ms') or 0:6.2f} ms"
            f"  cpu {result['python_cpu_median_ms']:6.2f} ms  [{flag}]{seq}{api_text}"
        )
    return {"incidents": incidents, "runs": runs, "warmup": warmup, "cases": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Queue list scenario (bench database must exist)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--case", action="append", help="run only this case (repeatable)")
    parser.add_argument("--plans", action="store_true", help="print the plans")
    args = parser.parse_args(argv)
    result = run(args.runs, args.warmup, args.case)
    if args.plans:
        for case in result["cases"]:
            print(f"\n== {case['name']}\n{case.get('plan', '(no plan)')}")
    else:
        print(json.dumps({"incidents": result["incidents"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
