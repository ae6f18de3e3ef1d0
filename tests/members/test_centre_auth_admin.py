"""The member centre's back office: terms versions (publish, immutable) and the store's join poster."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from members.models import TermsVersion
from members.services import current_terms, publish_terms_version
from tests.members import factories
from tests.members.centre_helpers import published

pytestmark = pytest.mark.django_db


def test_publishing_makes_the_latest_version_current(superuser):
    old = published("terms", "1.0")
    draft = TermsVersion.objects.create(kind="terms", version="2.0", title="会员条款", text="新条款")
    assert current_terms() == [old]
    publish_terms_version(version=draft, actor=superuser)
    draft.refresh_from_db()
    assert current_terms() == [draft] and draft.published_by == superuser


def test_a_published_version_cannot_change_or_be_deleted():
    version = published("privacy", "1.0")
    version.text = "changed"
    with pytest.raises(ValidationError):
        version.save()
    with pytest.raises(ValidationError):
        version.delete()
    with pytest.raises(ValidationError):
        publish_terms_version(version=version)


def test_a_draft_without_text_is_not_published():
    draft = TermsVersion.objects.create(kind="terms", version="3", title="T", text=" ")
    with pytest.raises(ValidationError):
        publish_terms_version(version=draft)


def test_the_admin_publishes_drafts_and_shows_published_ones_read_only(client, superuser):
    client.force_login(superuser)
    added = client.post(
        "/admin/members/termsversion/add/",
        {"kind": "terms", "version": "2026-12", "title": "会员条款", "text": "第一条……"},
    )
    assert added.status_code == 302
    draft = TermsVersion.objects.get()
    answer = client.post(
        "/admin/members/termsversion/",
        {"action": "publish", "_selected_action": [draft.pk]},
        follow=True,
    )
    assert answer.status_code == 200
    draft.refresh_from_db()
    assert draft.is_published and draft.published_by == superuser
    page = client.get(f"/admin/members/termsversion/{draft.pk}/change/").content.decode()
    assert 'name="text"' not in page  # read-only now
    assert client.post(f"/admin/members/termsversion/{draft.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/members/termsacceptance/").status_code == 200


def test_the_store_join_poster_is_a_printable_qr_of_the_join_link(client, superuser, settings):
    settings.SITE_URL = "https://crm.example.com"
    store = factories.store("sh-009", "上海静安店")
    client.force_login(superuser)
    listing = client.get("/admin/members/store/").content.decode()
    assert f"/admin/members/store/{store.pk}/join-poster/" in listing
    page = client.get(f"/admin/members/store/{store.pk}/join-poster/?size=a5").content.decode()
    assert "上海静安店" in page and "<svg" in page and "size: A5" in page
    assert "https://crm.example.com/m/join/?store=sh-009" in page
    action = client.post(
        "/admin/members/store/",
        {"action": "print_join_posters", "_selected_action": [store.pk, factories.store("bj-001", "北京店").pk]},
    ).content.decode()
    assert action.count("<svg") == 2 and "北京店" in action


def test_the_poster_needs_the_store_view_permission(client):
    from tests.conftest import make_user

    nobody = make_user("no-role")
    store = factories.store()
    client.force_login(nobody)
    assert client.get(f"/admin/members/store/{store.pk}/join-poster/").status_code == 403
