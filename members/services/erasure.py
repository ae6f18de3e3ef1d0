"""Erasure: anonymise irreversibly, keep purchase totals for reports."""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from members import signals
from members.models import (
    AccountClosureRequest,
    ConsentSource,
    ConsentTopic,
    Member,
)
from members.services._common import ERASED_NAME
from members.services.consents import set_consents
from members.services.profiles import apply_contact_data

# --- privacy -------------------------------------------------------------------------------


@transaction.atomic
def erase_member(*, member: Member, actor=None) -> Member:
    """Anonymise a member irreversibly (the right to be forgotten).

    Name, contact data, birthday, external id, notes, tags, preferences, important dates and the free text of
    service and interaction records are wiped, consents withdrawn, and the earlier versions in
    the change history deleted. Purchases (amounts, dates, stores) stay for reports, and other
    apps anonymise their own rows on `members.signals.member_erased`.
    """
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.is_erased:
        return member
    set_consents(
        member=member,
        consents=dict.fromkeys(ConsentTopic.values, False),
        actor=actor,
        source=ConsentSource.ERASURE,
    )
    member.preferences.all().delete()
    member.important_dates.all().delete()
    member.interactions.update(summary="", summary_code="note", summary_params={})
    member.service_records.update(summary="—", summary_code="note", summary_params={}, details="")
    member.tags.clear()
    member.history.all().delete()
    member.name = ERASED_NAME
    apply_contact_data(member, phone=None, email=None, birthday=None)
    member.external_id = None
    member.wechat_openid = None  # a WeChat identity of the person: no longer reachable there
    member.notes = ""
    member.gender = Member.Gender.UNKNOWN
    member.referred_by = None
    member.status = Member.Status.ERASED
    member._history_user = actor
    member._change_reason = "erased"
    member.save()
    # The admin's action log labels objects by their __str__, which held the name.
    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Member), object_id=str(member.pk)).update(
        object_repr=member.member_no
    )
    # However the erasure came (the admin's action, a confirmed request), an open request to close
    # the account is answered by it, no request keeps the member's words, and every member-centre
    # session ends.
    now = timezone.now()
    member.closure_requests.filter(status=AccountClosureRequest.Status.REQUESTED).update(
        status=AccountClosureRequest.Status.CONFIRMED, handled_by=actor if getattr(actor, "pk", None) else None,
        handled_at=now,
    )  # fmt: skip
    member.closure_requests.update(reason="")
    member.centre_sessions.filter(ended_at__isnull=True).update(ended_at=now)
    signals.member_erased.send(sender=Member, member=member)
    return member
