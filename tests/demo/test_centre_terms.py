"""The demo's terms and privacy notice: published once, accepted by the seeded members."""

import pytest

from demo import centre
from members.services import current_terms, pending_terms
from tests.members import factories

pytestmark = pytest.mark.django_db


def test_the_demo_publishes_both_texts_once_and_members_have_accepted_them():
    member = factories.member()
    versions = centre.ensure_terms()
    assert [v.kind for v in versions] == ["terms", "privacy"]
    assert "积分" in versions[0].text and "Points" in versions[0].text
    assert centre.ensure_terms() == versions == current_terms()
    assert pending_terms(member) == versions
    centre.accept_for_members([member], versions)
    centre.accept_for_members([member], versions)  # twice: still once each
    assert pending_terms(member) == [] and member.terms_acceptances.count() == 2
