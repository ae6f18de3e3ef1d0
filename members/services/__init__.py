"""The verbs that change customer profiles. Admin, API, import commands and tasks all call these.

Rules enforced here:
- phone and email are normalised, encrypted, and hashed for lookup; a phone belongs to one member;
- every profile change is recorded in the member's history with who made it;
- consents change only through `set_consents`, which writes the consent history;
- purchases are recorded with their lines and totals here; points and tiers belong to `rewards`,
  which calls `record_purchase` inside its own transaction (see `members.signals` for the hook);
- erasure anonymises irreversibly and keeps purchase totals for reports.

A package by concern: `profiles` (numbers, contact data, members, tags), `consents`, `purchases`,
`records` (service records, preferences, interactions), `erasure`, `closure` (a member's request
to close their account) and `contact_details`; the
names below are the package's interface (callers import `members.services`, not a module).
"""

from members.services._common import (
    DISCOUNT_LABEL,
    ERASED_NAME,
    MAX_LINE_QUANTITY,
    MAX_PURCHASE_AMOUNT,
    MONEY,
    REFERRAL_ALPHABET,
    UNIT_PRICE_LABEL,
    DuplicatePurchase,
    MemberErased,
    refuse_erased,
)
from members.services.closure import (
    ClosureNotOpen,
    confirm_account_closure,
    open_closure_request,
    refuse_account_closure,
    request_account_closure,
    withdraw_account_closure,
)
from members.services.consents import (
    consent_state,
    set_consents,
    set_members_consents,
)
from members.services.contact_details import (
    CONTACT_DETAILS_PERMISSION,
    may_see_contact_details,
    record_contact_view,
    reveal_contact_details,
)
from members.services.dates import (
    add_important_date,
    delete_important_date,
    update_important_date,
)
from members.services.erasure import (
    erase_member,
)
from members.services.otp import (
    CodeSent,
    OtpRefused,
    prune_challenges,
    request_code,
    verify_code,
)
from members.services.profiles import (
    MEMBER_CENTRE_REASON,
    UPDATABLE_FIELDS,
    apply_contact_data,
    bind_wechat_openid,
    create_member,
    new_member_numbers,
    resolve_referrer,
    set_tags,
    update_member,
)
from members.services.purchase_summary import rebuild_purchase_summary
from members.services.purchases import (
    PurchaseDraft,
    PurchaseLine,
    RecordedLine,
    claim_walk_in_purchase,
    record_purchase,
    record_purchases,
    record_refund,
    resolve_categories,
)
from members.services.recommendations import RecommendationRun, refresh_recommendations
from members.services.records import (
    SERVICE_RECORD_FIELDS,
    add_care_plan_claim_record,
    add_interaction,
    add_preference,
    add_service_record,
    set_preferences,
    update_service_record,
)
from members.services.terms import (
    TermsNotCurrent,
    accept_terms,
    current_terms,
    pending_terms,
    publish_terms_version,
    record_terms_accepted,
)

__all__ = [
    "CONTACT_DETAILS_PERMISSION",
    "DISCOUNT_LABEL",
    "ERASED_NAME",
    "MAX_LINE_QUANTITY",
    "MAX_PURCHASE_AMOUNT",
    "MEMBER_CENTRE_REASON",
    "MONEY",
    "REFERRAL_ALPHABET",
    "SERVICE_RECORD_FIELDS",
    "UNIT_PRICE_LABEL",
    "UPDATABLE_FIELDS",
    "ClosureNotOpen",
    "CodeSent",
    "DuplicatePurchase",
    "MemberErased",
    "OtpRefused",
    "PurchaseDraft",
    "PurchaseLine",
    "RecommendationRun",
    "RecordedLine",
    "TermsNotCurrent",
    "accept_terms",
    "add_care_plan_claim_record",
    "add_important_date",
    "add_interaction",
    "add_preference",
    "add_service_record",
    "apply_contact_data",
    "bind_wechat_openid",
    "claim_walk_in_purchase",
    "confirm_account_closure",
    "consent_state",
    "create_member",
    "current_terms",
    "delete_important_date",
    "erase_member",
    "may_see_contact_details",
    "new_member_numbers",
    "open_closure_request",
    "pending_terms",
    "prune_challenges",
    "publish_terms_version",
    "rebuild_purchase_summary",
    "record_contact_view",
    "record_purchase",
    "record_purchases",
    "record_refund",
    "record_terms_accepted",
    "refresh_recommendations",
    "refuse_account_closure",
    "refuse_erased",
    "request_account_closure",
    "request_code",
    "resolve_categories",
    "resolve_referrer",
    "reveal_contact_details",
    "set_consents",
    "set_members_consents",
    "set_preferences",
    "set_tags",
    "update_important_date",
    "update_member",
    "update_service_record",
    "verify_code",
    "withdraw_account_closure",
]
