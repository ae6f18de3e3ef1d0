"""What the member centre's profile, purchase and feedback pages (and their API) read.

Every function takes the signed-in member and reads only their rows: a purchase or ticket of
someone else is simply not found (the views answer 404). Each runs a fixed number of queries,
whatever the member's history. The member centre composes the apps (docs: "Member centre"), so it
reads rewards' ledger and feedback's tickets here; it writes only through the owning services.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from members import services
from members.models import (
    AccountClosureRequest,
    Category,
    Consent,
    ConsentEvent,
    ConsentTopic,
    Interaction,
    Member,
    Preference,
    Purchase,
    PurchaseItem,
)
from members.selectors import member_export
from members.summaries import Summary

# The marketing channels a member manages, in the order shown.
MARKETING_TOPICS = [ConsentTopic.MARKETING_SMS, ConsentTopic.MARKETING_WECHAT, ConsentTopic.MARKETING_EMAIL]
RECENT_PURCHASES = 30
RECENT_TICKETS = 30
CONSENT_HISTORY = 20

# --- preferences -----------------------------------------------------------------------------


def preference_categories() -> QuerySet[Category]:
    """The catalogue's categories a member may pick as favourites."""
    return Category.objects.order_by("name", "pk")


def preferences_of(member: Member) -> dict:
    """The member's preferences of the kinds the member centre edits (one query)."""
    found = {"categories": [], "colours": [], "styles": [], "channel": "", "contact_time": ""}
    kinds = Preference.Kind
    for kind, value, category_id in (
        Preference.objects.filter(member=member).order_by("pk").values_list("kind", "value", "category_id")
    ):
        if kind == kinds.FAVOURITE_CATEGORY and category_id:
            found["categories"].append(category_id)
        elif kind == kinds.COLOUR and value:
            found["colours"].append(value)
        elif kind == kinds.STYLE and value:
            found["styles"].append(value)
        elif kind == kinds.PREFERRED_CHANNEL and value:
            found["channel"] = value
        elif kind == kinds.CONTACT_TIME and value:
            found["contact_time"] = value
    return found


# --- consents --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentChannel:
    topic: str
    label: str
    granted: bool
    since: object  # when it was last granted or withdrawn (None: never asked)


def consent_channels(member: Member) -> list[ConsentChannel]:
    """Each marketing channel with its current state (one query)."""
    rows = {c.topic: c for c in Consent.objects.filter(member=member, topic__in=MARKETING_TOPICS)}
    labels = dict(ConsentTopic.choices)
    return [
        ConsentChannel(
            topic=topic,
            label=labels[topic],
            granted=bool(rows.get(topic) and rows[topic].granted),
            since=rows[topic].updated_at if topic in rows else None,
        )
        for topic in MARKETING_TOPICS
    ]


def consent_history(member: Member, limit: int = CONSENT_HISTORY) -> list[ConsentEvent]:
    """The member's latest consent changes, newest first (one query)."""
    return list(ConsentEvent.objects.filter(member=member).order_by("-at", "-id")[:limit])


# --- privacy ---------------------------------------------------------------------------------


def latest_closure_request(member: Member) -> AccountClosureRequest | None:
    return AccountClosureRequest.objects.filter(member=member).order_by("-requested_at", "-id").first()


def export_for_member(member: Member) -> dict:
    """The existing data export (`members.selectors.member_export`), recorded on the member's
    profile as an interaction ("downloaded their data") so staff see each access."""
    member = Member.objects.select_related("home_store", "referred_by").get(pk=member.pk)
    data = member_export(member)
    services.add_interaction(
        member=member,
        kind=Interaction.Kind.OTHER,
        channel=Interaction.Channel.WEB,
        summary="",
        summary_code=Summary.DATA_EXPORT,
    )
    return data


# --- purchases -------------------------------------------------------------------------------


def _points(kinds: list[str]) -> Coalesce:
    from rewards.models import LedgerEntry

    rows = (
        LedgerEntry.objects.filter(purchase=OuterRef("pk"), kind__in=kinds)
        .order_by()
        .values("purchase")
        .annotate(total=Sum("points"))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def _with_points(queryset: QuerySet[Purchase]) -> QuerySet[Purchase]:
    """Points earned on each purchase (earn and bonus rows) and reversed by its refunds, read from
    rewards' ledger."""
    from rewards.models import LedgerEntry

    kinds = LedgerEntry.Kind
    return queryset.annotate(
        points_earned=_points([kinds.EARN, kinds.BONUS]), points_reversed=_points([kinds.REFUND_REVERSAL])
    )


def member_purchases_queryset(member: Member) -> QuerySet[Purchase]:
    """The member's purchases, newest first, with store, lines and points (for the API's pages)."""
    queryset = (
        Purchase.objects.filter(member=member)
        .select_related("store")
        .prefetch_related(Prefetch("items", queryset=PurchaseItem.objects.select_related("category")))
        .order_by("-ordered_at", "-id")
    )
    return _with_points(queryset)


def member_purchases(member: Member, limit: int = RECENT_PURCHASES) -> list[Purchase]:
    """The member's latest purchases with store and points (one query)."""
    queryset = Purchase.objects.filter(member=member).select_related("store").order_by("-ordered_at", "-id")
    return list(_with_points(queryset)[:limit])


def member_purchase(member: Member, pk: int) -> Purchase | None:
    """One of the member's purchases with its lines; None when it is not theirs (two queries)."""
    queryset = (
        Purchase.objects.filter(member=member, pk=pk)
        .select_related("store")
        .prefetch_related(Prefetch("items", queryset=PurchaseItem.objects.select_related("category", "product")))
    )
    return _with_points(queryset).first()


# --- feedback tickets ------------------------------------------------------------------------


def member_tickets_queryset(member: Member) -> QuerySet:
    """The member's tickets, newest first, with their public replies only (never internal notes)."""
    from feedback.models import Ticket, TicketEvent

    replies = TicketEvent.objects.filter(kind=TicketEvent.Kind.REPLY).order_by("at", "id")
    return (
        Ticket.objects.filter(member=member)
        .select_related("store")
        .prefetch_related(Prefetch("events", queryset=replies, to_attr="public_replies"))
        .order_by("-created_at", "-id")
    )


def member_tickets(member: Member, limit: int = RECENT_TICKETS) -> list:
    """The member's latest tickets with their public replies (two queries)."""
    return list(member_tickets_queryset(member)[:limit])


def member_ticket(member: Member, ticket_no: str):
    """One of the member's tickets with its public replies; None when it is not theirs."""
    from feedback.models import Ticket, TicketEvent

    replies = TicketEvent.objects.filter(kind=TicketEvent.Kind.REPLY).order_by("at", "id")
    return (
        Ticket.objects.filter(member=member, ticket_no=ticket_no)
        .select_related("store", "purchase")
        .prefetch_related(Prefetch("events", queryset=replies, to_attr="public_replies"))
        .first()
    )
