"""Read-only serializers of the report figures (they document the shapes in the OpenAPI schema).

Times are in seconds, shares are fractions between 0 and 1 (0.9231 = 92.31%), dates are local
(Asia/Jakarta) dates.
"""

from __future__ import annotations

from rest_framework import serializers


class FiltersSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=["day", "week", "month", "year", "custom"])
    start_date = serializers.DateField(help_text="First local date of the period.")
    end_date = serializers.DateField(help_text="Last local date of the period (inclusive).")
    start = serializers.DateTimeField(help_text="First instant of the period.")
    end = serializers.DateTimeField(help_text="First instant after the period (exclusive).")
    time_zone = serializers.CharField()
    label = serializers.CharField()
    region = serializers.CharField(allow_null=True)
    district = serializers.CharField(allow_null=True)
    category = serializers.CharField(allow_null=True, help_text="Includes its subcategories.")
    agency = serializers.CharField(allow_null=True)
    channel = serializers.CharField(allow_null=True)


class CountRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Code of the status, category, district, channel… (priority: 1–4).")
    label = serializers.CharField()
    count = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True, help_text="Fraction of the total.")
    parent = serializers.CharField(allow_null=True, required=False, help_text="Categories: top-level category code.")


class IntervalSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Cases where the interval was completed.")
    median = serializers.FloatField(allow_null=True, help_text="Seconds (percentile_cont 0.5).")
    p90 = serializers.FloatField(allow_null=True, help_text="Seconds.")
    p95 = serializers.FloatField(allow_null=True, help_text="Seconds.")
    within_target = serializers.IntegerField(
        allow_null=True, help_text="Response only: within RESPONSE_TARGET_MINUTES."
    )
    within_target_share = serializers.FloatField(allow_null=True)
    within_category_target = serializers.IntegerField(help_text="Within the deadline stored when the clock started.")
    within_category_target_share = serializers.FloatField(allow_null=True)


class PerformanceRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Agency or district code.")
    label = serializers.CharField()
    cases = serializers.IntegerField()
    response = IntervalSerializer(help_text="Received → (first) unit on scene.")
    dispatch = IntervalSerializer(help_text="Received → (first) dispatch.")
    acknowledge = IntervalSerializer(help_text="Dispatch → acknowledgement.")
    ranked = serializers.BooleanField(help_text="False below REPORT_MIN_CASES_FOR_RANKING measured responses.")
    rank = serializers.IntegerField(allow_null=True)


class ResponseTimesSerializer(serializers.Serializer):
    target_minutes = serializers.IntegerField()
    min_cases_for_ranking = serializers.IntegerField()
    overall = PerformanceRowSerializer()
    by_agency = PerformanceRowSerializer(many=True)
    by_district = PerformanceRowSerializer(many=True)


class CallOutcomesSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    decided = serializers.IntegerField(help_text="Calls with an outcome (not still in progress).")
    by_outcome = CountRowSerializer(many=True)
    prank = serializers.IntegerField()
    prank_share = serializers.FloatField(allow_null=True, help_text="prank / decided.")
    prank_or_silent_share = serializers.FloatField(allow_null=True, help_text="(prank + silent) / decided.")
    filters_ignored = serializers.ListField(child=serializers.CharField())


class AnsweringRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    calls = serializers.IntegerField()
    answered = serializers.IntegerField()
    unanswered = serializers.IntegerField()
    answer_10s = serializers.IntegerField()
    answer_15s = serializers.IntegerField()
    answer_20s = serializers.IntegerField()
    answer_10s_share = serializers.FloatField(allow_null=True, help_text="Of answered calls; NFPA 1225 asks 90%.")
    answer_15s_share = serializers.FloatField(allow_null=True, help_text="NENA-STA-020.1-2020 asks 90%.")
    answer_20s_share = serializers.FloatField(allow_null=True, help_text="NENA-STA-020.1-2020 asks 95%.")
    processed = serializers.IntegerField(help_text="Answered emergency calls whose incident was dispatched.")
    processing_60s = serializers.IntegerField()
    processing_60s_share = serializers.FloatField(
        allow_null=True, help_text="Answer → first dispatch; NFPA 1225 asks 90%."
    )


class StandardSerializer(serializers.Serializer):
    key = serializers.CharField()
    seconds = serializers.IntegerField()
    goal = serializers.FloatField()
    source = serializers.CharField()


class CallAnsweringSerializer(serializers.Serializer):
    overall = AnsweringRowSerializer()
    answer_median = serializers.FloatField(allow_null=True)
    answer_p90 = serializers.FloatField(allow_null=True)
    processing_median = serializers.FloatField(allow_null=True)
    processing_p90 = serializers.FloatField(allow_null=True)
    by_hour = AnsweringRowSerializer(many=True, help_text="Local hour of the call's start, 0–23.")
    by_shift = AnsweringRowSerializer(many=True, help_text="Operator shifts (REPORT_SHIFT_STARTS).")
    standards = StandardSerializer(many=True)
    voice_only = serializers.BooleanField(help_text="True: 112 phone calls only (no channel filter given).")
    filters_ignored = serializers.ListField(child=serializers.CharField())


class IncidentBreakdownSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    resolved = serializers.IntegerField(help_text="Reached resolved or closed.")
    by_status = CountRowSerializer(many=True)
    by_category = CountRowSerializer(many=True)
    by_top_category = CountRowSerializer(many=True)
    by_priority = CountRowSerializer(many=True)
    by_district = CountRowSerializer(many=True)
    by_channel = CountRowSerializer(many=True)


def _per_target() -> serializers.DictField:
    return serializers.DictField(
        child=serializers.IntegerField(), help_text="dispatch, acknowledge, response, resolve."
    )


class SlaRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    warnings = _per_target()
    breaches = _per_target()


class OpenIncidentSerializer(serializers.Serializer):
    reference = serializers.CharField()
    category = serializers.CharField()
    district = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.IntegerField()
    received_at = serializers.DateTimeField()
    waiting_seconds = serializers.FloatField()
    response_due_at = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField()


class SlaSummarySerializer(serializers.Serializer):
    available = serializers.BooleanField()
    totals = SlaRowSerializer()
    by_agency = SlaRowSerializer(many=True)
    by_category = SlaRowSerializer(many=True)


class DayCountSerializer(serializers.Serializer):
    day = serializers.DateField()
    incidents = serializers.IntegerField()
    calls = serializers.IntegerField()
    markers = serializers.ListField(child=serializers.CharField(), help_text="ramadan, lebaran, holiday.")


class MarkerSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    is_estimate = serializers.BooleanField()


class TimePatternsSerializer(serializers.Serializer):
    heatmap = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="7 rows (Monday first) × 24 local hours.",
    )
    heatmap_max = serializers.IntegerField()
    weekday_labels = serializers.ListField(child=serializers.CharField())
    daily = DayCountSerializer(many=True)
    markers = MarkerSerializer(many=True)


class PeriodFiguresSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    incidents = serializers.IntegerField()
    resolved = serializers.IntegerField()
    calls = serializers.IntegerField()
    prank_share = serializers.FloatField(allow_null=True)
    response_count = serializers.IntegerField()
    response_median = serializers.FloatField(allow_null=True)
    response_p90 = serializers.FloatField(allow_null=True)
    response_within_target_share = serializers.FloatField(allow_null=True)


class ChangeSerializer(serializers.Serializer):
    incidents = serializers.FloatField(allow_null=True, help_text="Relative change (0.12 = +12%).")
    calls = serializers.FloatField(allow_null=True)
    response_median = serializers.FloatField(allow_null=True)
    response_within_target_share = serializers.FloatField(allow_null=True, help_text="Difference of the shares.")


class ComparisonSerializer(serializers.Serializer):
    current = PeriodFiguresSerializer()
    previous = PeriodFiguresSerializer()
    year_before = PeriodFiguresSerializer()
    change_previous = ChangeSerializer()
    change_year_before = ChangeSerializer()


# -- responses ------------------------------------------------------------------------------------
class CallsReportSerializer(serializers.Serializer):
    filters = FiltersSerializer()
    outcomes = CallOutcomesSerializer()
    answering = CallAnsweringSerializer()


class IncidentsReportSerializer(serializers.Serializer):
    filters = FiltersSerializer()
    incidents = IncidentBreakdownSerializer()


class ResponseTimesReportSerializer(serializers.Serializer):
    filters = FiltersSerializer()
    response = ResponseTimesSerializer()


class SlaReportSerializer(serializers.Serializer):
    filters = FiltersSerializer()
    sla = SlaSummarySerializer()
    slowest_open = OpenIncidentSerializer(many=True, help_text="Now, whatever the period; longest waiting first.")


class PatternsReportSerializer(serializers.Serializer):
    filters = FiltersSerializer()
    patterns = TimePatternsSerializer()


class ComparisonReportSerializer(serializers.Serializer):
    filters = FiltersSerializer()
    comparison = ComparisonSerializer()


class SummaryReportSerializer(serializers.Serializer):
    filters = FiltersSerializer()
    title = serializers.CharField()
    generated_at = serializers.DateTimeField()
    incidents = IncidentBreakdownSerializer()
    calls = CallOutcomesSerializer()
    answering = CallAnsweringSerializer()
    response = ResponseTimesSerializer()
    sla = SlaSummarySerializer()
    slowest_open = OpenIncidentSerializer(many=True)
    patterns = TimePatternsSerializer()
    comparison = ComparisonSerializer()
