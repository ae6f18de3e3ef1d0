"""The verbs of customer feedback, by concern; import them from here (`feedback.services.reply`).

- `submission`: a customer's feedback becomes a ticket (`submit_feedback`).
- `workflow`: working a ticket — `work_ticket` (the one update the admin and the API make),
  and the single steps `change_status`, `reply`, `add_note`, `update_ticket`, `assign_tickets`.
- `service_levels`: SLA deadlines and flagging missed targets (`flag_sla_breaches`).
- `privacy`: erasure of a member reaches their tickets (`anonymise_member_tickets`).
- `replies`: replies going out after commit (`deliver_reply`), `retry_reply`, `record_call`,
  `send_stalled_replies`; the channel is chosen by `feedback.delivery.reply_channel`.
- `questionnaires`: designed surveys — versions, personal links, answers online and by phone.
- `topics`: topics on tickets (`set_ticket_topics`, `tag_ticket`).
- `priorities`: a member's open tickets follow their tier: the priority, and the member-service team for a
  queued ticket when a VIP rule now matches (`reprioritise_member_tickets`).
- `errors`: the domain errors (`InvalidTransition`, `NoChannel`, `ReplyNotRetryable`, `ReplyNotSent`),
  409 in the API.

Every change to a ticket writes a `TicketEvent` in the same transaction, so the history is
complete.
"""

from feedback.services._common import public_url
from feedback.services.errors import FeedbackError, InvalidTransition, NoChannel, ReplyNotRetryable, ReplyNotSent
from feedback.services.priorities import reprioritise_member_tickets
from feedback.services.privacy import anonymise_member_tickets, show_ticket_contact
from feedback.services.replies import deliver_reply, record_call, retry_reply, send_stalled_replies
from feedback.services.service_levels import DEADLINE_FIELDS, BreachResult, flag_sla_breaches
from feedback.services.submission import MAX_MESSAGE_LENGTH, MAX_NAME_LENGTH, MAX_REF_LENGTH, submit_feedback
from feedback.services.topics import set_ticket_topics, tag_ticket
from feedback.services.workflow import (
    TRANSITIONS,
    UNSET,
    UPDATABLE,
    add_note,
    allowed_transitions,
    assign_tickets,
    change_status,
    reply,
    update_ticket,
    work_ticket,
)
from members import services as member_services

__all__ = [
    "DEADLINE_FIELDS",
    "MAX_MESSAGE_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_REF_LENGTH",
    "TRANSITIONS",
    "UNSET",
    "UPDATABLE",
    "BreachResult",
    "FeedbackError",
    "InvalidTransition",
    "NoChannel",
    "ReplyNotRetryable",
    "ReplyNotSent",
    "add_note",
    "allowed_transitions",
    "anonymise_member_tickets",
    "assign_tickets",
    "change_status",
    "deliver_reply",
    "flag_sla_breaches",
    "member_services",  # kept importable as before (tests patch `services.member_services`)
    "public_url",
    "record_call",
    "reply",
    "reprioritise_member_tickets",
    "retry_reply",
    "send_stalled_replies",
    "set_ticket_topics",
    "show_ticket_contact",
    "submit_feedback",
    "tag_ticket",
    "update_ticket",
    "work_ticket",
]
