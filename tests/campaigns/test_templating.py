"""Message templates: member fields, Chinese text, unknown fields, syntax errors, no ORM access."""

import pytest
from django.core.exceptions import ValidationError

from campaigns.templating import MessageContext, check_templates, render_message

CONTEXT = MessageContext(name="李小花", member_no="M0000000042", points_balance=1280, tier="金卡")


def test_renders_member_fields_in_chinese():
    message = render_message(
        subject="{{ member.name }}，您的专属礼遇",
        body="亲爱的{{ member.name }}（会员号 {{ member.member_no }}），"
        "您是{{ tier }}会员，现有{{ points_balance }}积分。",
        context=CONTEXT,
    )
    assert message.subject == "李小花，您的专属礼遇"
    assert message.text == "亲爱的李小花（会员号 M0000000042），您是金卡会员，现有1280积分。"


def test_text_is_not_html_escaped_but_the_html_part_is():
    message = render_message(subject="", body="{{ member.name }} & <b>", context=CONTEXT)
    assert message.text == "李小花 & <b>"
    assert "&amp; &lt;b&gt;" in message.html


def test_unknown_fields_render_empty_and_are_warned_about():
    warnings = check_templates(subject="{{ member.phone }}", body="你好{{ member.name }}{{ coupon_code }}")
    assert len(warnings) == 2
    assert "member.phone" in warnings[0] and "coupon_code" in warnings[1]
    message = render_message(subject="{{ member.phone }}", body="你好{{ member.email }}！", context=CONTEXT)
    assert message.text == "你好！"
    assert message.subject == ""


def test_known_fields_give_no_warning():
    assert (
        check_templates(subject="{{ member.name }}", body="{{ points_balance }} {{ tier }} {{ member.member_no }}")
        == []
    )


def test_syntax_error_names_the_field_and_the_error():
    with pytest.raises(ValidationError) as error:
        check_templates(subject="ok", body="您好 {% if %}")
    assert list(error.value.message_dict) == ["body"]
    assert "Template error" in error.value.message_dict["body"][0]


def test_templates_cannot_load_other_templates_or_libraries():
    with pytest.raises(ValidationError):
        check_templates(subject="", body="{% load static %}")
    with pytest.raises(Exception):  # noqa: B017 - no loader: any include fails
        render_message(subject="", body='{% include "admin/base.html" %}', context=CONTEXT)


def test_context_holds_values_only():
    # Only plain values are reachable: no model, manager or method behind `member`.
    message = render_message(
        subject="", body="[{{ member.pk }}{{ member.objects }}{{ member.delete }}]", context=CONTEXT
    )
    assert message.text == "[]"
