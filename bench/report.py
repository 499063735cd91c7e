"""Rewrite the generated part of bench/RESULTS.md from the latest results file of each size.

Only the text between ``<!-- bench:begin -->`` and ``<!-- bench:end -->`` is replaced; the notes
around it are written by hand. The plans of the latest run of each size are also written to
``bench/plans/<size>-<case>.txt``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _merged(results_dir: Path) -> dict[int, dict]:
    """Per size, each scenario from the latest file that has it (partial re-runs are allowed)."""
    merged: dict[int, dict] = {}
    for path in sorted(results_dir.glob("*.json")):
        if path.name.startswith("."):
            continue
        data = json.loads(path.read_text())
        if data.get("label"):
            continue
        entry = merged.setdefault(data["size"], {"scenarios": {}, "files": {}})
        for key in ("machine", "started_at", "command", "incidents_in_database"):
            if key in data:
                entry[key] = data[key]
        for name, scenario in data.get("scenarios", {}).items():
            if name == "generate" and "timings" not in scenario:
                continue  # a run that reused the database keeps the last generation's figures
            entry["scenarios"][name] = scenario
            entry["files"][name] = path.name
    return dict(sorted(merged.items()))


def _n(size: int) -> str:
    return f"{size:,}"


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render(results_dir: Path, plans_dir: Path) -> str:
    runs = _merged(results_dir)
    if not runs:
        return "_No results yet: run `python -m bench --size 100000`._\n"
    sizes = list(runs)
    lines: list[str] = []
    add = lines.append

    add("### Runs")
    add("")
    add("| size | scenario files | commit | machine | PostgreSQL |")
    add("|---|---|---|---|---|")
    for size, run in runs.items():
        machine = run.get("machine", {})
        pg = machine.get("postgresql", {})
        files = ", ".join(sorted({f"`{name}`" for name in run["files"].values()}))
        dirty = f" (+{machine.get('dirty_files')} modified files)" if machine.get("dirty_files") else ""
        add(
            f"| {_n(size)} | {files} | `{machine.get('commit', '?')}`{dirty} | {machine.get('nproc')} × {machine.get('cpu', '?')}, "
            f"{machine.get('memory_gib')} GiB, Python {machine.get('python')} | {pg.get('server_version', '?')}, "
            f"shared_buffers {pg.get('shared_buffers', '?')}, work_mem {pg.get('work_mem', '?')}, jit {pg.get('jit', '?')} |"
        )
    add("")

    # -- generation -------------------------------------------------------------------------------
    add("### Data generation (`python -m bench.generate --size N`)")
    add("")
    gens = {size: run["scenarios"].get("generate") for size, run in runs.items()}
    add("| | " + " | ".join(_n(s) for s in sizes) + " |")
    add("|---|" + "---|" * len(sizes))
    rows = [
        ("create + migrate (s)", "create_and_migrate_s"),
        ("reference data, users (s)", "reference_data_s"),
        ("arrival times (s)", "arrival_times_s"),
        ("COPY, 5 tables (s)", "copy_s"),
        ("rebuild indexes (s)", "indexes_s"),
        ("counters, sequences, FK checks (s)", "finish_and_checks_s"),
        ("VACUUM ANALYZE (s)", "vacuum_analyze_s"),
        ("**data, after migrate (s)**", "data_s"),
        ("**total (s)**", "total_s"),
    ]
    for title, key in rows:
        add(f"| {title} | " + " | ".join(_fmt((gens[s] or {}).get("timings", {}).get(key)) for s in sizes) + " |")
    for title, key in [
        ("incidents", "incidents_incident"),
        ("open incidents", "open_incidents"),
        ("assignments", "dispatch_assignment"),
        ("timeline events", "incidents_timelineevent"),
        ("calls", "incidents_call"),
        ("prank / silent calls", "prank_or_silent_calls"),
        ("shares", "dispatch_incidentshare"),
        ("agencies / districts", None),
        ("database size", "db_size"),
    ]:
        if key is None:
            cells = [
                f"{(gens[s] or {}).get('counts', {}).get('agencies', '–')} / {(gens[s] or {}).get('counts', {}).get('districts', '–')}"
                for s in sizes
            ]
        else:
            cells = [_fmt((gens[s] or {}).get("counts", {}).get(key)) for s in sizes]
        add(f"| {title} | " + " | ".join(cells) + " |")
    add("")

    # -- intake -----------------------------------------------------------------------------------
    add("### 1. Intake (`POST /api/v1/incidents/` vs the floor, same gunicorn, same run)")
    add("")
    for size, run in runs.items():
        intake = run["scenarios"].get("intake")
        if not intake:
            continue
        if "steps" not in intake:
            add(f"- {_n(size)} incidents: {intake.get('status', 'not run')}")
            continue
        add(f"**{_n(size)} incidents in the database** — {intake['server']}; client: {intake['client']}; "
            f"{intake['step_seconds']:.0f} s per step"
            + (f", floor and intake alternating in {intake['slices_per_step']} slices (p-values: the worst slice's)"
               if intake.get("slices_per_step", 1) > 1 else "")
            + f"; load average before: {intake.get('load_before', '–')}.")  # fmt: skip
        add("")
        add(
            "| concurrency | floor req/s | floor p99 ms | intake 201/s | p50 ms | p95 ms | p99 ms | errors | intake ÷ floor |"
        )
        add("|---|---|---|---|---|---|---|---|---|")
        for step in intake["steps"]:
            f, a = step["floor"], step["intake"]
            errors = a["errors"] if not a["errors"] else f"**{a['errors']}** {a['statuses']}"
            add(
                f"| {step['concurrency']} | {_fmt(f['throughput_per_s'])} | {_fmt(f['p99_ms'])} | {_fmt(a['throughput_per_s'])} | "
                f"{_fmt(a['p50_ms'])} | {_fmt(a['p95_ms'])} | {_fmt(a['p99_ms'])} | {errors} | {_fmt(step['intake_over_floor'], 3)} |"
            )
        check = intake["rows_check"]
        head = intake["headline"]
        add("")
        if "per_step" in check:
            unread = ", ".join(str(step["intake_unread_at_stop"]) for step in check["per_step"])
            add(
                f"Rows: {check['incident_rows_created']:,} incidents created for {check['intake_201']:,} responses 201; "
                f"requests in flight when the client stopped (completed, answer not read), per step: {unread} "
                f"({'each within the connections' if check['rows_within_in_flight'] else '**outside the connections**'}); "
                f"{check['incidents_of_the_run']:,} incidents of the run, {check['incidents_without_a_stored_201']} "
                f"without the stored 201 of their idempotency record "
                f"({'consistent' if check['intake_rows_match'] else '**NOT consistent**'})."
            )
        else:
            add(
                f"Rows: {check['incident_rows_created']:,} incidents created for {check['intake_201']:,} responses 201 "
                f"({'equal' if check['intake_rows_match'] else '**NOT equal**'}); floor {check['floor_rows_created']:,} rows for "
                f"{check['floor_201']:,} × 201 ({'equal' if check['floor_rows_match'] else '**NOT equal**'})."
            )
        add(
            f"Best step meeting p99 < 100 ms with no error: c={head['best_intake_step']} at "
            f"{_fmt(head['best_intake_throughput_per_s'])}/s; intake ÷ floor at c=16: {_fmt(head['ratio_at_c16'], 3)}. "
            f"Targets (≥ 400/s, p99 < 100 ms, 0 errors, ≥ 0.25 of the floor): "
            f"**{'met' if head['meets_targets'] else 'missed'}**."
        )
        add("")

    # -- queue list -------------------------------------------------------------------------------
    add("### 2. Queue list (SQL the API and console run, timed in-process, 50 rows per page)")
    add("")
    queues = {size: run["scenarios"].get("queue") for size, run in runs.items() if run["scenarios"].get("queue")}
    qsizes = list(queues)
    if queues:
        names: list[str] = []
        titles: dict[str, str] = {}
        for queue in queues.values():
            for case in queue["cases"]:
                if case["name"] not in names:
                    names.append(case["name"])
                titles[case["name"]] = case["title"]
        header = "| case | " + " | ".join(f"{_n(s)}: median / p95 ms" for s in qsizes)
        header += " | growth (median) | queries | seq scan of incidents | targets | "
        header += " | ".join(f"API response {_n(s)}: median / p95 ms" for s in qsizes) + " | API queries |"
        add(header)
        add("|---|" + "---|" * (2 * len(qsizes) + 5))
        for name in names:
            by_size = {s: next((c for c in queues[s]["cases"] if c["name"] == name), None) for s in qsizes}
            cells = []
            for s in qsizes:
                case = by_size[s]
                cells.append(f"{case['median_ms']:.2f} / {case['p95_ms']:.2f}" if case else "–")
            present = [by_size[s] for s in qsizes if by_size[s]]
            growth = "–"
            if len(present) >= 2 and present[0]["median_ms"]:
                growth = f"{present[-1]['median_ms'] / present[0]['median_ms']:.2f}×"
            last = present[-1]
            seq = "–" if "seq_scan_on_incidents" not in last else ("**yes**" if last["seq_scan_on_incidents"] else "no")
            verdicts = [
                "met" if by_size[s].get("meets_targets") else "**missed**"
                for s in qsizes
                if by_size[s] and by_size[s].get("meets_targets") is not None
            ]
            api_cells = []
            for s in qsizes:
                api = (by_size[s] or {}).get("api")
                api_cells.append(f"{api['median_ms']:.2f} / {api['p95_ms']:.2f}" if api else "–")
            api_queries = (last.get("api") or {}).get("queries", "–")
            add(
                f"| {titles[name]} | "
                + " | ".join(cells)
                + f" | {growth} | {last['queries']} | {seq} | {' / '.join(verdicts) or '–'} | "
                + " | ".join(api_cells)
                + f" | {api_queries} |"
            )
        add("")
        add("Targets: median < 30 ms (queue and lists); agency lists also p95 < 60 ms, no sequential scan of "
            "incidents and growth ≤ 1.5× from 100,000 to 1,000,000 (issue #4). Queries counted per page: the "
            "principal's memberships, live shares (agency users), the page, the prefetched assignments.")  # fmt: skip
        add("")
        add("API response: the whole `GET /api/v1/incidents/` list in-process (filter, page, serializer, JSON), "
            "without HTTP and authentication; the queue cases use the API's `?ordering=priority` (priority, "
            "newest first), the nearest the API offers. API queries: the same queries as the page.")  # fmt: skip
        add("")
        plans_dir.mkdir(exist_ok=True)
        for size, queue in queues.items():
            for case in queue["cases"]:
                if case.get("plan"):
                    (plans_dir / f"{size}-{case['name']}.txt").write_text(
                        f"-- {case['title']} ({_n(size)} incidents, {queue.get('runs')} runs)\n{case['plan']}\n"
                    )
        biggest = qsizes[-1]
        add(f"Main query plans at {_n(biggest)} incidents (full `EXPLAIN (ANALYZE, BUFFERS)` in `bench/plans/`):")
        add("")
        for name in ("agency_first", "agency_deep", "queue_first"):
            case = next((c for c in queues[biggest]["cases"] if c["name"] == name), None)
            if case and case.get("plan_summary"):
                add(f"<details><summary>{case['title']} — SQL {case.get('explain_execution_ms')} ms</summary>")
                add("")
                add("```")
                add(case["plan_summary"])
                add("```")
                add("</details>")
                add("")

    # -- SLA and reports ----------------------------------------------------------------------------
    add("### 3. SLA sweep (`bench/sla_sweep.py`, owned by the SLA issue; details in `bench/RESULTS-sla.md`)")
    add("")
    sla_rows = []
    for size, run in runs.items():
        sla = run["scenarios"].get("sla")
        if not sla:
            continue
        rounds = (sla.get("figures") or {}).get("rounds") or []
        if sla.get("status") != "ok" or not rounds:
            add(f"- {_n(size)} incidents: {sla.get('status', '?')} {sla.get('note', '')}".rstrip())
            continue
        r = rounds[0]
        due = r.get("due_k") or {}
        committed = r.get("due_50_committed") or {}

        def cell(figure: dict | None) -> str:
            return "–" if not figure else f"{figure.get('median_ms', figure.get('ms'))}"

        sla_rows.append(
            f"| {_n(size)} | {cell(r.get('idle'))} | {cell(due.get('10'))} | {cell(due.get('50'))} | "
            f"{cell(due.get('200'))} | {cell(committed)} ({committed.get('events_recorded', '–')} events) | "
            f"{r.get('load_before', '–')} |"
        )
    if sla_rows:
        add("| incidents | idle sweep, median ms | 10 due | 50 due | 200 due | 50 due, committed | load before |")
        add("|---|---|---|---|---|---|---|")
        lines.extend(sla_rows)
        add("")
        add("Medians of `incidents.sla.sla_sweep` in one process (rolled back, 3 runs; idle: 50 runs). Target: under")
        add("100 ms at 1,000,000 incidents with 10,000 open, and less than 1.5× between 100,000 and 1,000,000.")
    add("")
    add("### 4. Reports")
    add("")
    report_rows = []
    for size, run in runs.items():
        reports = run["scenarios"].get("reports")
        if not reports:
            continue
        f = reports.get("figures") or {}
        if reports.get("status") != "ok" or not f:
            add(f"- {_n(size)} incidents: {reports.get('status', '?')}")
            continue
        region, agency, export = f.get("region") or {}, f.get("agency") or {}, f.get("export") or {}

        def verdict(value, target) -> str:
            return "–" if value is None else (f"{value}" if value < target else f"**{value}** (target {target})")

        report_rows.append(
            f"| {_n(size)} | {f.get('month', '–')} | {verdict(region.get('median_ms'), 500)} | "
            f"{verdict(agency.get('median_ms'), 200)} | {export.get('rows', '–'):,} rows in {export.get('seconds', '–')} s, "
            f"peak RSS {export.get('rss_peak_mb', '–')} MB |"
        )
    if report_rows:
        add("| incidents | month | region month, median ms (< 500) | agency month (Damkar), median ms (< 200) | full-year CSV export |")
        add("|---|---|---|---|---|")
        lines.extend(report_rows)
        add("")
        add("Through `reporting.selectors.full_report` on the rollup tables, 5 runs after a warm-up (`bench/reports.py`).")
    add("")
    return "\n".join(lines)


def write(results_dir: Path, results_md: Path) -> None:
    block = render(results_dir, results_md.parent / "plans")
    text = results_md.read_text() if results_md.exists() else f"# Benchmark results\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _m: f"{BEGIN}\n{block}\n{END}", text, flags=re.S)
    results_md.write_text(text)


if __name__ == "__main__":
    here = Path(__file__).absolute().parent
    write(here / "results", here / "RESULTS.md")
    print("bench/RESULTS.md rewritten")
