"""Signals `members` sends for other apps. Handlers must not hold business rules of `members`.

`purchase_recorded(sender=Purchase, purchase=..., actor=...)` — sent by
`members.services.record_purchase` inside its transaction, after the purchase and its lines
are written. `rewards` does not need it (it calls `record_purchase` itself and earns in the
same transaction); it is there for read-side listeners such as caches and analytics.

`member_erased(sender=Member, member=...)` — sent by `members.services.erase_member` inside
its transaction, so apps holding data about the member can anonymise their own rows.
"""

from django.dispatch import Signal

purchase_recorded = Signal()
member_erased = Signal()
