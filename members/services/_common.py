"""Constants and errors shared by the member services."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty_crm.errors import DomainError
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


def refuse_erased(member: Member) -> None:
    """Raise MemberErased when the member is erased in the database, not just in this instance.

    The status is read under the row lock `erase_member` takes, so neither a stale instance nor
    an erasure running at the same time lets a record in after the erasure. FOR NO KEY UPDATE (on
    PostgreSQL): it still queues behind an erasure or another posting, but not behind rows being
    inserted that merely reference the member (their foreign-key check takes FOR KEY SHARE).
    """
    # Plain SQL: this runs for every posting, and the ORM's query building cost more than the query.
    lock = " FOR NO KEY UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status FROM {connection.ops.quote_name(Member._meta.db_table)} WHERE id = %s{lock}",  # noqa: S608
            [member.pk],
        )
        row = cursor.fetchone()
    status = row[0] if row else None
    if status == Member.Status.ERASED:
        raise MemberErased(_("Member %(member_no)s has been erased.") % {"member_no": member.member_no})
