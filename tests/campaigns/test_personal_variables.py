"""The registry of per-member variables (campaigns.personal_variables): checked, sampled, resolved
only when a campaign's text uses them."""

from types import SimpleNamespace

import pytest

from campaigns import personal_variables
from campaigns.templating import check_templates


@pytest.fixture
def link_variable():
    calls = []

    def resolve(campaign, member):
        calls.append((campaign, member))
        return f"https://shop.example/x/{member}"

    variable = personal_variables.register(
        personal_variables.PersonalVariable(
            name="test_link", label="test link", sample="https://" + "x" * 80, resolve=resolve
        )
    )
    yield calls
    personal_variables._REGISTRY.pop(variable.name)
    personal_variables._used.cache_clear()


def test_registered_variable_is_known_and_resolved_only_when_used(link_variable):
    assert check_templates(subject="", body="Hi {{ test_link }}") == []
    assert check_templates(subject="", body="Hi {{ nope_link }}") != []
    used = SimpleNamespace(subject="", body="Come: {{ test_link }}", message_template=None)
    unused = SimpleNamespace(subject="", body="Hello", message_template=None)
    assert personal_variables.values_for(used, 7) == {"test_link": "https://shop.example/x/7"}
    assert personal_variables.values_for(unused, 7) == {}
    assert len(link_variable) == 1


def test_a_name_must_be_plain():
    with pytest.raises(ValueError):
        personal_variables.register(personal_variables.PersonalVariable("Bad-Name", "x", "x", lambda c, m: ""))
