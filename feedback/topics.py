"""Topic suggestions for a ticket: which managed topics' keywords occur in the customer's message.

Explainable on purpose: a suggestion lists the words that matched. Matching is on characters, not
words, because Chinese has no spaces: a keyword of n characters matches when it is one of the
message's character n-grams (a substring, after NFKC normalisation and lower-casing), so "枯萎"
is found in "花送到时已经枯萎了". A Latin keyword must stand as a whole word ("late" is not found in
"chocolate"). No segmentation dictionary (jieba) is needed: the keywords are the shop's own, short,
and a staff member can read why a topic was suggested and add a keyword when one is missing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SEPARATORS = re.compile(r"[\n,，、;；]+")
LATIN = re.compile(r"^[a-z0-9][a-z0-9 '\-]*$")


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def parse_keywords(text: str) -> list[str]:
    """A topic's keywords: one per line or separated by commas (Chinese or Latin), de-duplicated."""
    found = [normalise(part).strip() for part in SEPARATORS.split(text or "")]
    return list(dict.fromkeys(word for word in found if word))


def keywords_of(topic) -> list[str]:
    return parse_keywords(topic.keywords)


def matched_words(message: str, keywords: list[str]) -> list[str]:
    """The keywords found in `message`, in the keywords' order."""
    text = normalise(message)
    found = []
    for word in keywords:
        if LATIN.match(word):
            if re.search(r"(?<![a-z0-9])" + re.escape(word) + r"(?![a-z0-9])", text):
                found.append(word)
        elif word in text:
            found.append(word)
    return found


@dataclass(frozen=True)
class Suggestion:
    topic: object
    words: list[str]


def suggest(message: str, topics) -> list[Suggestion]:
    """Topics whose keywords occur in `message`, most matched words first (then by name)."""
    suggestions = [
        Suggestion(topic=topic, words=words)
        for topic in topics
        if (words := matched_words(message, keywords_of(topic)))
    ]
    return sorted(suggestions, key=lambda s: (-len(s.words), str(s.topic.name)))


def suggestions_for(ticket) -> list[Suggestion]:
    """Suggestions for a ticket's message among the active topics it does not have yet (two queries)."""
    from feedback.models import Topic

    taken = set(ticket.ticket_topics.values_list("topic_id", flat=True))
    topics = [topic for topic in Topic.objects.filter(is_active=True).order_by("name") if topic.pk not in taken]
    return suggest(ticket.message, topics)
