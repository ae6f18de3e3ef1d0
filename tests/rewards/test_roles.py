"""The staff roles hold exactly these `rewards` permissions (from rewards' data migration)."""

import pytest
from django.contrib.auth.models import Group

from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT

pytestmark = pytest.mark.django_db

MODELS = [
    "tier", "pointsaccount", "ledgerentry", "pointslot", "tierhistory", "earnrule", "purchaseposting",
    "purchaserefund",
]  # fmt: skip
EARNING_MODELS = [
    "promotion", "earningsettings", "activitybonus", "bonusaward", "membershipplan", "membershipsubscription",
]  # fmt: skip
VIEW = {f"view_{model}" for model in MODELS + EARNING_MODELS} | {"view_expirypolicy", "view_tierpolicy"}
EXPECTED = {
    STORE_STAFF: VIEW | {"add_purchaseposting", "add_purchaserefund", "add_membershipsubscription"},
    MARKETING: VIEW | {"add_promotion", "change_promotion"},
    SUPPORT: VIEW,
    MANAGER: {f"{a}_{m}" for m in MODELS for a in ("view", "add", "change", "delete")}
    | {"adjust_points", "view_expirypolicy", "add_expirypolicy", "change_expirypolicy"}
    | {f"view_{m}" for m in EARNING_MODELS}
    | {"add_promotion", "change_promotion", "delete_promotion", "change_earningsettings", "change_activitybonus"}
    | {"award_bonus", "add_membershipplan", "change_membershipplan"}
    | {"add_membershipsubscription", "change_membershipsubscription"}
    | {"view_tierpolicy", "change_tierpolicy"},
}


# The reward catalogue, redemptions and coupons (rewards/migrations/0006_catalogue_roles.py).
CATALOGUE_MODELS = ["reward", "coupontemplate", "coupon", "redemption"]
CATALOGUE_VIEW = {f"view_{model}" for model in CATALOGUE_MODELS}
CATALOGUE = {
    STORE_STAFF: CATALOGUE_VIEW | {"add_redemption", "redeem_coupon"},
    MARKETING: CATALOGUE_VIEW | {"issue_coupon"},
    SUPPORT: CATALOGUE_VIEW,
    MANAGER: {f"{a}_{m}" for m in CATALOGUE_MODELS for a in ("view", "add", "change", "delete")}
    | {"issue_coupon", "redeem_coupon", "void_coupon", "cancel_redemption"},
}
for _role, _codenames in CATALOGUE.items():
    EXPECTED[_role] = EXPECTED[_role] | _codenames
# Balance corrections (rewards/migrations/0012_balance_corrections_roles.py): managers read them.
EXPECTED[MANAGER] = EXPECTED[MANAGER] | {"view_balancecorrection"}
# Stored value (rewards/migrations/0014_stored_value_expiry_task_and_roles.py).
STORED_VALUE_VIEW = {
    f"view_{model}"
    for model in [
        "storedvalueaccount",
        "storedvalueentry",
        "storedvaluebonuslot",
        "topuprule",
        "topup",
        "storedvaluegift",
    ]
}
STORED_VALUE = {
    STORE_STAFF: STORED_VALUE_VIEW | {"top_up_stored_value", "pay_stored_value"},
    MARKETING: {"view_topuprule"},
    SUPPORT: STORED_VALUE_VIEW,
    MANAGER: STORED_VALUE_VIEW
    | {"top_up_stored_value", "pay_stored_value", "adjust_stored_value", "cash_out_stored_value"}
    | {"view_stored_value_liability", "add_topuprule", "change_topuprule"},
}
for _role, _codenames in STORED_VALUE.items():
    EXPECTED[_role] = EXPECTED[_role] | _codenames
# The till (rewards/migrations/0018_till_page_permissions.py): managers change prices at the till and
# refund without goods; store staff use it with the posting and refund permissions they hold.
EXPECTED[MANAGER] = EXPECTED[MANAGER] | {"override_till_price", "refund_without_goods"}
# Paying with points (rewards/migrations/0014_points_payment_seed_roles.py): everyone reads the
# settings, only managers change them.
for _role in ROLES:
    EXPECTED[_role] = EXPECTED[_role] | {"view_pointspaymentsettings"}
EXPECTED[MANAGER] = EXPECTED[MANAGER] | {"change_pointspaymentsettings"}
# Care plans (rewards/migrations/0024_care_plan_roles.py): store staff sell, support handles claims.
CARE_PLANS = {
    STORE_STAFF: {"view_careplan", "view_careplansale", "add_careplansale", "view_careplanclaim"},
    MARKETING: {"view_careplan"},
    SUPPORT: {"view_careplan", "view_careplansale", "view_careplanclaim", "add_careplanclaim", "change_careplanclaim"},
    MANAGER: {"view_careplan", "add_careplan", "change_careplan", "view_careplansale", "add_careplansale"}
    | {"view_careplanclaim", "add_careplanclaim", "change_careplanclaim", "view_care_plan_report"}
    | {"cancel_careplansale"},
}
for _role, _codenames in CARE_PLANS.items():
    EXPECTED[_role] = EXPECTED[_role] | _codenames
# Programme analytics and their assumptions: managers only.
EXPECTED[MANAGER] = EXPECTED[MANAGER] | {
    "view_programme_analytics", "view_programmeassumptions", "add_programmeassumptions",
    "change_programmeassumptions",
}  # fmt: skip


def permissions_of(role):
    group = Group.objects.get(name=role)
    return set(group.permissions.filter(content_type__app_label="rewards").values_list("codename", flat=True))


@pytest.mark.parametrize("role", ROLES)
def test_role_has_exactly_its_rewards_permissions(role):
    assert permissions_of(role) == EXPECTED[role]


def test_only_managers_may_adjust_points():
    assert [role for role in ROLES if "adjust_points" in permissions_of(role)] == [MANAGER]


def test_only_managers_may_award_bonuses_by_hand():
    assert [role for role in ROLES if "award_bonus" in permissions_of(role)] == [MANAGER]


def test_nobody_writes_bonus_awards_except_through_the_service():
    for role in ROLES:
        assert not {"add_bonusaward", "change_bonusaward", "delete_bonusaward"} & permissions_of(role)


def test_only_managers_may_cancel_redemptions_or_void_coupons():
    for codename in ("cancel_redemption", "void_coupon", "add_reward", "change_reward"):
        assert [role for role in ROLES if codename in permissions_of(role)] == [MANAGER]


def test_coupons_are_issued_by_marketing_and_managers_and_accepted_by_store_staff():
    assert [role for role in ROLES if "issue_coupon" in permissions_of(role)] == [MARKETING, MANAGER]
    assert [role for role in ROLES if "redeem_coupon" in permissions_of(role)] == [STORE_STAFF, MANAGER]


def test_only_managers_may_change_the_tier_policy():
    assert [role for role in ROLES if "change_tierpolicy" in permissions_of(role)] == [MANAGER]
    assert not any({"add_tierpolicy", "delete_tierpolicy"} & permissions_of(role) for role in ROLES)


def test_only_managers_adjust_cash_out_edit_top_up_rules_or_read_the_liability():
    for codename in ("adjust_stored_value", "cash_out_stored_value", "change_topuprule", "view_stored_value_liability"):
        assert [role for role in ROLES if codename in permissions_of(role)] == [MANAGER]


def test_nobody_writes_stored_value_rows_by_hand():
    models = ["storedvalueaccount", "storedvalueentry", "storedvaluebonuslot", "topup", "storedvaluegift"]
    for role in ROLES:
        assert not {f"{a}_{m}" for m in models for a in ("add", "change", "delete")} & permissions_of(role)


def test_only_managers_may_change_paying_with_points():
    assert [role for role in ROLES if "change_pointspaymentsettings" in permissions_of(role)] == [MANAGER]


def test_only_managers_may_change_till_prices_or_refund_without_goods():
    for codename in ("override_till_price", "refund_without_goods"):
        assert [role for role in ROLES if codename in permissions_of(role)] == [MANAGER]


def test_only_managers_see_the_programme_analytics_and_edit_their_assumptions():
    for codename in ("view_programme_analytics", "change_programmeassumptions"):
        assert [role for role in ROLES if codename in permissions_of(role)] == [MANAGER]
