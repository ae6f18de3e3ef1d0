"""The back office for customer profiles: the store staff's daily tool.

Every write goes through `members.services`: the member form and the record forms call their
service while validating (`members.forms`), the purchase page calls `record_purchase`, and the
actions call `erase_member`. Reads that show a whole profile use `members.selectors`, so each
page runs a fixed number of queries whatever a member's history or the number of members.

A package by concern: `members` (the member list and page), `purchases`, `records`, `reference`
(stores, categories, products, tags) and `importing` (the CSV import pages); `_common` holds the
mixins and filters the others share (feedback's admin reuses `ServiceFormAdminMixin`).
"""

from members.admin import centre, closures, members, purchases, records, reference  # noqa: F401  (registers the admins)
from members.admin._common import (
    ERASE_PERMISSION,
    EXPORT_PERMISSION,
    IMPORT_PERMISSION,
    MemberScopedAdminMixin,
    PlainForeignKeysMixin,
    ServiceFormAdminMixin,
    staff_store,
)
from members.admin.members import MemberAdmin
from members.admin.purchases import PurchaseAdmin

__all__ = [
    "ERASE_PERMISSION",
    "EXPORT_PERMISSION",
    "IMPORT_PERMISSION",
    "MemberAdmin",
    "MemberScopedAdminMixin",
    "PlainForeignKeysMixin",
    "PurchaseAdmin",
    "ServiceFormAdminMixin",
    "staff_store",
]
