"""The feedback app's domain errors; the API maps them to 409 `{code, detail}`, the admin to messages."""

from loyalty_crm.errors import DomainError


class FeedbackError(DomainError):
    code = "feedback_error"


class InvalidTransition(FeedbackError):
    code = "invalid_transition"


class ReplyNotSent(FeedbackError):
    code = "reply_not_sent"
