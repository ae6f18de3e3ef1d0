"""Message templates: member fields, Chinese text, unknown fields, syntax errors, no ORM access."""

import pytest
from django.core.exceptions import ValidationError

from campaigns.templating import MessageContext, MessageTooLong, check_templates, render_message

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


# --- the sandbox: only the documented tags and filters, a bounded output --------------------------


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("{% lorem 300000 w %}", "lorem"),
        ("{% debug %}", "debug"),
        ("{% load static %}", "load"),
        ('{% include "admin/base.html" %}', "include"),
        ("{% for c in member.name %}{{ c }}{% endfor %}", "for"),
        ("{% now 'Y' %}", "now"),
        ("{% with n=member.name %}{{ n }}{% endwith %}", "with"),
    ],
)
def test_a_tag_outside_the_sandbox_is_refused_naming_it(source, name):
    with pytest.raises(ValidationError) as error:
        check_templates(subject="", body=f"您好{source}")
    message = error.value.message_dict["body"][0]
    assert f"“{name}”" in message and "allowed tags: if, comment, firstof" in message
    with pytest.raises(ValidationError):  # nor can a stored template use it
        render_message(subject="", body=source, context=CONTEXT)


@pytest.mark.parametrize("name", ["ljust:'100000000'", "center:'99999'", "stringformat:'0100000d'", "safe", "pprint"])
def test_a_filter_outside_the_sandbox_is_refused_naming_it(name):
    with pytest.raises(ValidationError) as error:
        check_templates(subject=f"{{{{ tier|{name} }}}}", body="ok")
    message = error.value.message_dict["subject"][0]
    assert f"“{name.split(':')[0]}”" in message and "allowed filters: default" in message


def test_the_allowed_tags_and_filters_render():
    body = (
        "{% comment %}内部备注{% endcomment %}{% if points_balance > 1000 %}{{ member.name|upper }}{% else %}你好"
        "{% endif %}{{ member.nick|default:'会员' }} {{ points_balance|floatformat:2 }} "
        "{{ member.name|truncatechars:2 }} {% firstof member.nick tier %} {{ points_balance|pluralize }}"
    )
    assert check_templates(subject="", body=body) == [
        "body: “{{ member.nick }}” is not a member field and will be empty."
    ]
    message = render_message(subject="{{ member.name|default:'您' }}", body=body, context=CONTEXT)
    assert message.subject == "李小花"
    assert message.text == "李小花会员 1280.00 李… 金卡 s"


def test_floatformat_precision_is_bounded():
    message = render_message(subject="", body='{{ points_balance|floatformat:"1000000000" }}', context=CONTEXT)
    assert message.text == "1280.000000"


def test_a_template_longer_than_a_message_is_refused(settings):
    settings.CAMPAIGN_MESSAGE_MAX_CHARS = 100
    with pytest.raises(ValidationError) as error:
        check_templates(subject="", body="好" * 101)
    assert "101 characters" in error.value.message_dict["body"][0] and "100" in error.value.message_dict["body"][0]


def test_a_template_whose_output_is_too_long_with_sample_values_is_refused(settings):
    settings.CAMPAIGN_MESSAGE_MAX_CHARS = 100
    with pytest.raises(ValidationError) as error:
        check_templates(subject="", body="{{ member.name }}" * 5)  # 85 characters, 200 rendered
    assert "at most 100" in error.value.message_dict["body"][0]


def test_the_limit_holds_at_render_time(settings):
    settings.CAMPAIGN_MESSAGE_MAX_CHARS = 100
    long_extra = MessageContext(name="李", member_no="M1", points_balance=0, tier="", extra={"plan": "年" * 150})
    with pytest.raises(MessageTooLong):
        render_message(subject="", body="{{ plan }}", context=long_extra)
    with pytest.raises(MessageTooLong):
        render_message(subject="{{ plan }}", body="", context=long_extra)


def test_deeply_nested_tags_are_refused_not_crashed():
    with pytest.raises(ValidationError):
        check_templates(subject="", body="{% if tier %}" * 3000 + "{% endif %}" * 3000)
