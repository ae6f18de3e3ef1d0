"""Contact details in clear, for the roles that need them, each view recorded."""

from __future__ import annotations

from members.models import (
    ContactDetailView,
    Member,
)

# --- contact details in clear (PIPL 最小必要) ------------------------------------------------

CONTACT_DETAILS_PERMISSION = "members.view_contact_details"


def may_see_contact_details(user) -> bool:
    """Whether `user` may see one member's phone, email and birthday in clear (on its detail)."""
    return bool(user is not None and user.is_authenticated and user.has_perm(CONTACT_DETAILS_PERMISSION))


def reveal_contact_details(*, user, member: Member, channel: str, path: str = "", client_ip: str = "") -> bool:
    """Whether the detail page or answer may show `member`'s contact data in clear to `user`.

    The rule: lists always mask (`members.masking`); one member's detail shows the clear values
    only to holders of `members.view_contact_details`, and every such showing is recorded (who,
    whose, when, from where) before the answer leaves, so no clear view goes unrecorded. Returns
    False (show masked, record nothing) for everyone else.
    """
    if not may_see_contact_details(user):
        return False
    record_contact_view(user=user, member=member, channel=channel, path=path, client_ip=client_ip)
    return True


def record_contact_view(
    *, user, member: Member | None = None, subject: str = "", channel: str, path: str = "", client_ip: str = ""
) -> ContactDetailView:
    """Record that `user` was shown contact details in clear: a member's, or those on `subject`
    (a feedback ticket's, with its member when it has one). Who may see them is the caller's rule."""
    return ContactDetailView.objects.create(
        member=member,
        subject=subject[:100],
        user=user,
        username=user.get_username(),
        channel=channel,
        path=path[:300],
        client_ip=client_ip[:45],
    )
