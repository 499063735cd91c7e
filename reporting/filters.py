"""Report filters: one parser for the pages, the API and the exports.

Filters live in the URL so a report can be bookmarked and shared::

    ?period=month&date=2025-02&region=3374&district=3374060&category=natural-disaster&agency=bpbd&channel=phone_112

``period`` is ``day``, ``week`` (ISO, Monday–Sunday), ``month``, ``year`` or ``custom`` (``from`` and
``to``, inclusive). Dates are local dates in the report time zone (``TIME_ZONE``, Asia/Jakarta):
"February 2025" runs from 1 February 00:00 WIB to 1 March 00:00 WIB. Region, district, category and
agency are given by their codes; a category includes its subcategories.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from dispatch.models import Agency
from incidents.models import Category, Channel, District, Region

PERIODS = ("day", "week", "month", "year", "custom")
MAX_CUSTOM_DAYS = 731  # two years: enough for a year-over-year custom range, bounded for the database


def report_timezone() -> ZoneInfo:
    """The zone local dates, hours of day and weekdays are counted in (Asia/Jakarta by default)."""
    return ZoneInfo(settings.TIME_ZONE)


def local_today() -> date:
    return timezone.now().astimezone(report_timezone()).date()


def _shift_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


@dataclass(frozen=True)
class ReportFilters:
    """What a report covers. ``start_date``/``end_date`` are inclusive local dates."""

    period: str
    start_date: date
    end_date: date
    region: Region | None = None
    district: District | None = None
    category: Category | None = None
    # The category and all its descendants; None when no category filter.
    category_ids: tuple[int, ...] | None = None
    agency: Agency | None = None
    channel: str | None = None
    tz: ZoneInfo = field(default_factory=report_timezone, compare=False)

    # -- the instants the database compares against ---------------------------------------------
    @property
    def start(self) -> datetime:
        """First instant of the period (local midnight of ``start_date``), aware."""
        return datetime.combine(self.start_date, time.min, tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        """First instant after the period (local midnight after ``end_date``), aware; exclusive."""
        return datetime.combine(self.end_date + timedelta(days=1), time.min, tzinfo=self.tz)

    @property
    def days(self) -> list[date]:
        return [self.start_date + timedelta(days=n) for n in range((self.end_date - self.start_date).days + 1)]

    # -- comparison periods -----------------------------------------------------------------------
    def with_dates(self, start_date: date, end_date: date) -> ReportFilters:
        return replace(self, start_date=start_date, end_date=end_date)

    def previous(self) -> ReportFilters:
        """The period just before: previous day, week, month, year, or a custom range as long."""
        if self.period == "month":
            before = _previous_month(self.start_date)
            return self.with_dates(*_month_bounds(before.year, before.month))
        if self.period == "year":
            return self.with_dates(date(self.start_date.year - 1, 1, 1), date(self.start_date.year - 1, 12, 31))
        length = (self.end_date - self.start_date).days + 1
        return self.with_dates(self.start_date - timedelta(days=length), self.end_date - timedelta(days=length))

    def year_before(self) -> ReportFilters:
        """The same period one year earlier (a week: 52 weeks earlier, so weekdays line up)."""
        if self.period == "week":
            return self.with_dates(self.start_date - timedelta(weeks=52), self.end_date - timedelta(weeks=52))
        if self.period == "month":
            return self.with_dates(*_month_bounds(self.start_date.year - 1, self.start_date.month))
        return self.with_dates(_shift_years(self.start_date, -1), _shift_years(self.end_date, -1))

    # -- presentation -----------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """ "Februari 2025", "3 Maret 2025", "10 Maret 2025 – 16 Maret 2025" in the active language."""
        if self.period == "month":
            return date_format(self.start_date, "F Y")
        if self.period == "year":
            return str(self.start_date.year)
        if self.start_date == self.end_date:
            return date_format(self.start_date, "j F Y")
        return f"{date_format(self.start_date, 'j F Y')} – {date_format(self.end_date, 'j F Y')}"

    def query_params(self) -> dict[str, str]:
        """The URL parameters that reproduce these filters (for links, exports and the API)."""
        params: dict[str, str] = {"period": self.period}
        if self.period == "custom":
            params["from"] = self.start_date.isoformat()
            params["to"] = self.end_date.isoformat()
        elif self.period == "month":
            params["date"] = self.start_date.strftime("%Y-%m")
        elif self.period == "year":
            params["date"] = str(self.start_date.year)
        else:
            params["date"] = self.start_date.isoformat()
        for name, obj in (("region", self.region), ("district", self.district), ("category", self.category)):
            if obj is not None:
                params[name] = obj.code
        if self.agency is not None:
            params["agency"] = self.agency.code
        if self.channel:
            params["channel"] = self.channel
        return params

    def as_dict(self) -> dict:
        """For API responses: what the figures cover."""
        return {
            "period": self.period,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "start": self.start,
            "end": self.end,
            "time_zone": str(self.tz),
            "label": self.label,
            "region": self.region.code if self.region else None,
            "district": self.district.code if self.district else None,
            "category": self.category.code if self.category else None,
            "agency": self.agency.code if self.agency else None,
            "channel": self.channel or None,
        }


def category_descendant_ids(category: Category) -> tuple[int, ...]:
    """The category and every category below it (one query over the small category table)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, stack = [], [category.pk]
    while stack:
        pk = stack.pop()
        if pk in found:
            continue
        found.append(pk)
        stack.extend(children.get(pk, []))
    return tuple(sorted(found))


class CodeChoiceField(forms.ModelChoiceField):
    """A model chosen by its code; an ambiguous code is invalid rather than a server error."""

    def __init__(self, queryset, **kwargs):
        kwargs.setdefault("to_field_name", "code")
        kwargs.setdefault("required", False)
        super().__init__(queryset, **kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except self.queryset.model.MultipleObjectsReturned:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice") from None


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


class ReportFilterForm(forms.Form):
    """Validates report parameters from a query string (pages, API, exports)."""

    period = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[
            ("day", _("Day")),
            ("week", _("Week")),
            ("month", _("Month")),
            ("year", _("Year")),
            ("custom", _("Custom range")),
        ],
    )
    date = forms.CharField(
        label=_("Date"),
        required=False,
        max_length=10,
        help_text=_("YYYY-MM-DD; a month as YYYY-MM, a week as YYYY-Www, a year as YYYY."),
    )
    region = CodeChoiceField(Region.objects.all(), label=_("Region"), empty_label=_("All regions"))
    district = CodeChoiceField(
        District.objects.select_related("region"), label=_("District (kecamatan)"), empty_label=_("All districts")
    )
    category = CodeChoiceField(
        Category.objects.all(), label=_("Category (with subcategories)"), empty_label=_("All categories")
    )
    agency = CodeChoiceField(Agency.objects.all(), label=_("Agency"), empty_label=_("All agencies"))
    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=[("", _("All channels")), *Channel.choices])

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        # "from" is a Python keyword, so these two are added by name.
        self.fields["from"] = forms.DateField(label=_("From"), required=False, input_formats=["%Y-%m-%d"])
        self.fields["to"] = forms.DateField(label=_("To"), required=False, input_formats=["%Y-%m-%d"])
        self.order_fields(["period", "date", "from", "to", "region", "district", "category", "agency", "channel"])

    def _date_range(self, period: str, raw: str) -> tuple[date, date]:
        raw = (raw or "").strip()
        today = local_today()
        try:
            if period == "month":
                if match := _MONTH.match(raw):
                    return _month_bounds(int(match[1]), int(match[2]))
                anchor = date.fromisoformat(raw) if raw else today
                return _month_bounds(anchor.year, anchor.month)
            if period == "year":
                year = (
                    int(_YEAR.match(raw)[1]) if _YEAR.match(raw) else (date.fromisoformat(raw) if raw else today).year
                )
                return date(year, 1, 1), date(year, 12, 31)
            if period == "week":
                if match := _ISO_WEEK.match(raw):
                    monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
                else:
                    anchor = date.fromisoformat(raw) if raw else today
                    monday = anchor - timedelta(days=anchor.weekday())
                return monday, monday + timedelta(days=6)
            anchor = date.fromisoformat(raw) if raw else today
            return anchor, anchor
        except (ValueError, TypeError):
            raise ValidationError({"date": _("Enter a valid date for this period.")}, code="invalid_date") from None

    def clean(self):
        cleaned = super().clean()
        period = cleaned.get("period") or "month"
        cleaned["period"] = period
        if period == "custom":
            start, end = cleaned.get("from"), cleaned.get("to")
            if start is None or end is None:
                raise ValidationError(
                    {"from" if start is None else "to": _("A custom range needs both “from” and “to”.")},
                    code="range_incomplete",
                )
            if end < start:
                raise ValidationError({"to": _("“To” must not be before “from”.")}, code="range_reversed")
            if (end - start).days + 1 > MAX_CUSTOM_DAYS:
                raise ValidationError(
                    {"to": _("A custom range may cover at most %(days)s days.") % {"days": MAX_CUSTOM_DAYS}},
                    code="range_too_long",
                )
        elif "date" not in self.errors:
            start, end = self._date_range(period, cleaned.get("date", ""))
        else:
            return cleaned
        if start.year < 2000 or end.year > 2100:
            raise ValidationError({"date": _("Enter a date between 2000 and 2100.")}, code="date_out_of_range")
        cleaned["start_date"], cleaned["end_date"] = start, end
        region, district = cleaned.get("region"), cleaned.get("district")
        if region is not None and district is not None and district.region_id != region.pk:
            raise ValidationError({"district": _("This district is not in the chosen region.")}, code="district_region")
        return cleaned

    def to_filters(self) -> ReportFilters:
        """The validated filters. Call after ``is_valid()`` returned True."""
        data = self.cleaned_data
        category = data.get("category")
        return ReportFilters(
            period=data["period"],
            start_date=data["start_date"],
            end_date=data["end_date"],
            region=data.get("region"),
            district=data.get("district"),
            category=category,
            category_ids=category_descendant_ids(category) if category is not None else None,
            agency=data.get("agency"),
            channel=data.get("channel") or None,
        )


def parse_report_filters(params) -> ReportFilters:
    """Filters from GET parameters, or ``ValidationError`` with one message list per parameter.

    The API turns the error into a problem-details 400; the pages show it on the filter form.
    """
    form = ReportFilterForm(params)
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    return form.to_filters()
