"""The feedback app's domain errors; the API maps them to 409 `{code, detail}`, the admin to messages."""

from loyalty_crm.errors import DomainError


class FeedbackError(DomainError):
    code = "feedback_error"


class InvalidTransition(FeedbackError):
    code = "invalid_transition"


class ReplyNotSent(FeedbackError):
    code = "reply_not_sent"


class NoChannel(FeedbackError):
    """No channel can deliver a reply (no email, no phone, no bound WeChat) and the caller did not
    ask to record it only."""

    code = "no_channel"


class ReplyNotRetryable(FeedbackError):
    """Only a failed reply is sent again (a sent one went out; an in-doubt one may have)."""

    code = "not_retryable"
