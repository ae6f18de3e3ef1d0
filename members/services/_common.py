"""Constants and errors shared by the member services."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty_crm.errors import DomainError
from members import lock_objects
from members.models import Member

REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ERASED_NAME = "Erased member"
MONEY = Decimal("0.01")
# The largest purchase (lines' subtotal) and line quantity accepted: far above any real basket, and
# low enough that the money columns (12 digits) and the points it earns (integers) always fit.
MAX_PURCHASE_AMOUNT = Decimal("9999999.99")
MAX_LINE_QUANTITY = 100_000
UNIT_PRICE_LABEL = gettext_lazy("unit price")
DISCOUNT_LABEL = gettext_lazy("discount")


class MemberErased(DomainError):
    code = "member_erased"


class DuplicatePurchase(DomainError):
    code = "duplicate_purchase"


def refuse_erased(member: Member, *, status: str | object | None = ...) -> None:
    """Raise MemberErased when the member is erased in the database, not just in this instance.

    The status is read under the row lock `erase_member` takes, so neither a stale instance nor
    an erasure running at the same time lets a record in after the erasure. FOR NO KEY UPDATE (on
    PostgreSQL): it still queues behind an erasure or another posting, but not behind rows being
    inserted that merely reference the member (their foreign-key check takes FOR KEY SHARE).
    `status`: the status the caller has just read under that lock (`_sql.member_status_and_products`).
    """
    if status is ...:
        status = lock_objects.member_status_for_no_key_update(member.pk)
    if status == Member.Status.ERASED:
        raise MemberErased(_("Member %(member_no)s has been erased.") % {"member_no": member.member_no})
