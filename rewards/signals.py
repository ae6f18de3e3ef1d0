"""Signals `rewards` sends for other apps (campaigns). Listeners must not hold rules of `rewards`.

`membership_renewal_due(sender=MembershipSubscription, subscription=..., days_left=...)` — sent by
the daily task "Memberships: renewal reminders and expiry (daily)"
(`rewards.services.memberships.process_memberships`) for each active paid membership that ends
within `MEMBERSHIP_RENEWAL_REMINDER_DAYS` days (default 30) and has no renewal bought yet, ONCE
per membership: the membership is marked (`renewal_reminded_at`) in the same transaction that
sends the signal, so a listener that raises rolls the mark back and the next run tries again.
A listener that sends messages should enqueue them with `transaction.on_commit`.
"""

from django.dispatch import Signal

membership_renewal_due = Signal()
