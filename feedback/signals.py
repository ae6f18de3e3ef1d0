"""Signals `feedback` sends for other apps (documented in docs/design.md, "Boundaries").

- `survey_answered(sender=SurveyResponse, response=...)`: after a CSAT or NPS answer is stored
  (sent on commit). The answer is also recorded as an interaction on the member's profile.
"""

from django.dispatch import Signal

survey_answered = Signal()
