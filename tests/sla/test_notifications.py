"""Who is told about warnings and breaches: in-app notifications and email, each once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch import services as dispatch_services
from dispatch.models import Agency, Role
from incidents import notifications
from incidents.models import Notification, SlaEvent
from tests.factories import AgencyFactory, MembershipFactory, RegionFactory, UserFactory

pytestmark = pytest.mark.django_db


def recipients(event: SlaEvent) -> set[str]:
    return set(Notification.objects.filter(sla_event=event).values_list("recipient__username", flat=True))


@pytest.fixture
def bystanders(seeded):
    """People who must never be told: another agency's supervisor, an inactive member, a command
    center of another region, a call-taker, and damkar's (plain) staff."""
    other_region_cc = AgencyFactory(code="cc-other", kind=Agency.Kind.COMMAND_CENTER, region=RegionFactory())
    MembershipFactory(user=UserFactory(username="psc-spv"), agency=seeded.agency("dinkes-psc"), role=Role.AGENCY_SUPERVISOR)
    MembershipFactory(
        user=UserFactory(username="retired-spv"), agency=seeded.agency("damkar"), role=Role.AGENCY_SUPERVISOR, is_active=False
    )
    MembershipFactory(user=UserFactory(username="far-dispatcher"), agency=other_region_cc, role=Role.DISPATCHER)
    MembershipFactory(user=UserFactory(username="far-supervisor"), agency=other_region_cc, role=Role.SUPERVISOR)
    MembershipFactory(user=UserFactory(username="call-taker"), agency=seeded.agency("cc112"), role=Role.CALL_TAKER)
    MembershipFactory(user=UserFactory(username="damkar-staff-2"), agency=seeded.agency("damkar"), role=Role.AGENCY_STAFF)


def test_a_warning_tells_the_assigned_agency_supervisors_and_the_dispatchers(
    seeded, make_incident, cc_people, bystanders, clock, sweep
):
    # given a fire dispatched to damkar at T0
    incident = make_incident()
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=cc_people.dispatcher)

    # when damkar's acknowledge warning passes (96 s)
    clock.at(seconds=96)
    sweep()

    # then damkar's supervisor and the command center's dispatcher are told — not the supervisor yet
    warning = SlaEvent.objects.get(target="acknowledge", level="warning")
    assert recipients(warning) == {"damkar-spv", "dispatcher"}
    notification = Notification.objects.get(sla_event=warning, recipient=cc_people.dispatcher)
    assert notification.kind == Notification.Kind.SLA_WARNING
    assert notification.incident == incident
    assert incident.reference in notification.message and seeded.agency("damkar").name in notification.message


def test_a_breach_also_tells_the_command_center_supervisor(seeded, make_incident, cc_people, bystanders, clock, sweep):
    incident = make_incident()
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=cc_people.dispatcher)

    clock.at(minutes=2)
    sweep()

    breach = SlaEvent.objects.get(target="acknowledge", level="breach")
    assert recipients(breach) == {"damkar-spv", "dispatcher", "supervisor"}
    assert Notification.objects.get(sla_event=breach, recipient=cc_people.supervisor).kind == Notification.Kind.SLA_BREACH


def test_before_dispatch_only_the_command_center_is_told(make_incident, cc_people, bystanders, clock, sweep):
    incident = make_incident()
    clock.at(minutes=1)
    sweep()

    warning = SlaEvent.objects.get(incident=incident, target="dispatch", level="warning")
    breach = SlaEvent.objects.get(incident=incident, target="dispatch", level="breach")
    assert recipients(warning) == {"dispatcher"}
    assert recipients(breach) == {"dispatcher", "supervisor"}


def test_on_scene_clock_tells_every_agency_still_on_the_incident(seeded, make_incident, cc_people, clock, sweep):
    # given damkar and the ambulance service both dispatched, and each has a supervisor
    MembershipFactory(user=UserFactory(username="psc-spv"), agency=seeded.agency("dinkes-psc"), role=Role.AGENCY_SUPERVISOR)
    incident = make_incident()
    dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar"), seeded.agency("dinkes-psc")], actor=cc_people.dispatcher
    )

    clock.at(minutes=10)
    sweep()

    breach = SlaEvent.objects.get(incident=incident, target="response", level="breach")
    assert recipients(breach) == {"damkar-spv", "psc-spv", "dispatcher", "supervisor"}


def test_each_recipient_gets_one_email_per_event(make_incident, cc_people, clock, sweep, mailoutbox):
    # given the dispatcher has an email address, the supervisor has none
    cc_people.supervisor.email = ""
    cc_people.supervisor.save(update_fields=["email"])
    make_incident()

    clock.at(minutes=1)
    sweep()
    sweep()

    # then the dispatcher got one email per event (warning, breach), the supervisor only in-app
    assert sorted(message.to[0] for message in mailoutbox) == [cc_people.dispatcher.email] * 2
    assert "SMG-" in mailoutbox[0].subject
    assert Notification.objects.filter(recipient=cc_people.supervisor, email_to="").count() == 1
    assert not Notification.objects.filter(email_to__gt="", emailed_at__isnull=True).exists()


def test_sending_an_email_twice_sends_it_once(make_incident, cc_people, clock, sweep, mailoutbox):
    make_incident()
    clock.at(seconds=50)
    sweep()
    notification = Notification.objects.get(recipient=cc_people.dispatcher)
    sent = len(mailoutbox)

    assert notifications.notification_email_send(notification_id=notification.pk) is False
    assert len(mailoutbox) == sent == 1


def test_an_email_whose_message_was_lost_is_sent_by_the_outbox_flush(make_incident, cc_people, clock, mailoutbox, settings):
    # given a warning recorded but its email task never reached the broker
    from incidents import sla

    make_incident()
    clock.at(seconds=50)
    sla.sla_sweep()  # on-commit callbacks not run: the message is "lost"
    assert mailoutbox == []

    # when the outbox flush runs a few minutes later
    clock.at(minutes=5)
    notifications.emails_enqueue_pending()

    # then the email goes out, once
    assert len(mailoutbox) == 1


def test_the_console_lists_unread_notifications_and_marks_them_read(make_incident, cc_people, clock, sweep, django_assert_max_num_queries):
    make_incident()
    clock.at(minutes=1)
    sweep()
    user = cc_people.dispatcher

    with django_assert_max_num_queries(1):
        unread = list(notifications.notification_list_for_user(user, unread_only=True))
        assert [n.incident.reference for n in unread]  # incident fetched with the list
    assert len(unread) == 2
    assert notifications.notifications_mark_read(user=user, ids=[unread[0].pk]) == 1
    assert notifications.notification_list_for_user(user, unread_only=True).count() == 1
    assert notifications.notifications_mark_read(user=user) == 1
    assert notifications.notification_list_for_user(user, unread_only=True).count() == 0
    assert notifications.notification_list_for_user(cc_people.supervisor).count() == 1  # theirs are theirs


def test_old_unsent_emails_are_not_retried_forever(make_incident, cc_people, clock, mailoutbox):
    from incidents import sla

    make_incident()
    clock.at(seconds=50)
    sla.sla_sweep()
    # a notification whose email has failed for two days is left to people (the admin shows it)
    Notification.objects.update(created_at=timezone.now() - timedelta(days=2))

    assert notifications.emails_enqueue_pending() == 0


def test_sla_recipients_answers_who_would_be_told(seeded, make_incident, cc_people, bystanders):
    incident = make_incident()
    (assignment,) = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar")], actor=cc_people.dispatcher
    )

    def names(**kwargs):
        return {user.username for user in notifications.sla_recipients(incident=incident, **kwargs)}

    assert names(level="warning", assignment=assignment) == {"damkar-spv", "dispatcher"}
    assert names(level="breach") == {"damkar-spv", "dispatcher", "supervisor"}
