import pytest

pytestmark = pytest.mark.django_db


def test_create_then_get_member_by_member_no(api_staff):
    response = api_staff.post(
        "/api/v1/members/",
        {
            "name": "李华",
            "phone": "138 0013 8000",
            "email": "Li.Hua@Example.COM",
            "birthday": "1990-05-17",
            "consents": {"marketing_email": True, "marketing_sms": False},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["member_no"].startswith("M")
    assert body["phone"] == "+8613800138000"
    assert body["tier"] == {"code": "regular", "name": "Regular"}
    assert body["points_balance"] == 0
    assert body["consents"]["marketing_email"] is True
    detail = api_staff.get(f"/api/v1/members/{body['member_no']}/")
    assert detail.status_code == 200
    assert detail.json()["email"] == "Li.Hua@example.com"
    found = api_staff.get("/api/v1/members/", {"phone": "+86 138-0013-8000"}).json()
    assert [m["member_no"] for m in found["results"]] == [body["member_no"]]
