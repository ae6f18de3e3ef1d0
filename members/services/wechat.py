"""Binding a member's WeChat openid (the member centre's "sign in with WeChat", issue 15)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from loyalty_crm.errors import DomainError
from members.models import Member


class OpenidTaken(DomainError):
    code = "wechat_openid_taken"


@transaction.atomic
def bind_wechat_openid(*, member: Member, openid: str) -> Member:
    """Bind `openid` to `member` (replacing the member's earlier one). An openid bound to another
    member is refused (OpenidTaken): one WeChat account signs in one member."""
    openid = (openid or "").strip()
    if not openid or len(openid) > 64:
        raise OpenidTaken(_("This WeChat account cannot be linked."))
    if Member.objects.filter(wechat_openid=openid).exclude(pk=member.pk).exists():
        raise OpenidTaken(_("This WeChat account is already linked to another member."))
    locked = Member.objects.select_for_update().get(pk=member.pk)
    if locked.wechat_openid == openid:
        return locked
    locked.wechat_openid = openid
    try:
        with transaction.atomic():
            locked.save(update_fields=["wechat_openid", "updated_at"])
    except IntegrityError:
        raise OpenidTaken(_("This WeChat account is already linked to another member.")) from None
    member.wechat_openid = openid
    return locked
