"""Closing an account at the member's request (the right to erasure, PIPL art. 47).

The member asks in the member centre (`request_account_closure`) and may withdraw while it is open;
staff confirm in the admin, which erases the member (`erase_member`) and ends every member-centre
session, or refuse with a note the member sees. At most one request is open per member (a
database constraint); each step locks the request's row, so a confirmation and a withdrawal at the
same moment cannot both win.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty_crm.errors import DomainError
from members.models import AccountClosureRequest, Member
from members.services._common import MemberErased
from members.services.erasure import erase_member

MAX_REASON_LENGTH = 500


class ClosureNotOpen(DomainError):
    code = "closure_not_open"


def open_closure_request(member: Member) -> AccountClosureRequest | None:
    return AccountClosureRequest.objects.filter(member=member, status=AccountClosureRequest.Status.REQUESTED).first()


@transaction.atomic
def request_account_closure(*, member: Member, reason: str = "") -> AccountClosureRequest:
    """The member asks to close their account; asking again while one is open returns that one."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.is_erased:
        raise MemberErased(_("Member %(member_no)s has been erased.") % {"member_no": member.member_no})
    existing = open_closure_request(member)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return AccountClosureRequest.objects.create(
                member=member, reason=(reason or "").strip()[:MAX_REASON_LENGTH]
            )
    except IntegrityError:  # pragma: no cover - the member row lock above serialises requests
        return open_closure_request(member)


def _locked_open(request: AccountClosureRequest) -> AccountClosureRequest:
    locked = AccountClosureRequest.objects.select_for_update().select_related("member").get(pk=request.pk)
    if not locked.is_open:
        raise ClosureNotOpen(
            _("This request is no longer open (it is “%(status)s”).") % {"status": locked.get_status_display()}
        )
    return locked


@transaction.atomic
def withdraw_account_closure(*, member: Member, request: AccountClosureRequest) -> AccountClosureRequest:
    """The member withdraws their open request (only their own)."""
    if request.member_id != member.pk:
        raise ClosureNotOpen(_("This request is not yours."))
    locked = _locked_open(request)
    locked.status = AccountClosureRequest.Status.WITHDRAWN
    locked.handled_at = timezone.now()
    locked.save(update_fields=["status", "handled_at"])
    return locked


@transaction.atomic
def confirm_account_closure(*, request: AccountClosureRequest, actor, note: str = "") -> AccountClosureRequest:
    """Staff confirm: the member is erased (`erase_member`) and signed out everywhere."""
    from members.centre.session import end_all_sessions

    locked = _locked_open(request)
    erase_member(member=locked.member, actor=actor)
    end_all_sessions(locked.member)
    locked.status = AccountClosureRequest.Status.CONFIRMED
    locked.handled_by = actor
    locked.handled_at = timezone.now()
    locked.note = note or ""
    # The member's own words may name them; the erasure keeps no free text.
    locked.reason = ""
    locked.save(update_fields=["status", "handled_by", "handled_at", "note", "reason"])
    return locked


@transaction.atomic
def refuse_account_closure(*, request: AccountClosureRequest, actor, note: str) -> AccountClosureRequest:
    """Staff refuse, saying why (the member sees the note)."""
    from django.core.exceptions import ValidationError

    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [_("Say why the request is refused; the member sees this note.")]})
    locked = _locked_open(request)
    locked.status = AccountClosureRequest.Status.REFUSED
    locked.handled_by = actor
    locked.handled_at = timezone.now()
    locked.note = note
    locked.save(update_fields=["status", "handled_by", "handled_at", "note"])
    return locked
