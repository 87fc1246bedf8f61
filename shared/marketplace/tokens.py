"""Search tokens: the normalisation applied to listings at write time and to queries.

Text is lowercased, accents are stripped (NFKD, combining marks dropped) and split on
anything that is not a letter or digit. A listing stores, in one ``search_keys`` array:

- every word of 2+ characters from name, display name, description, summary and tags;
- prefixes (3+ characters) of the words of the *short* fields (name, display name,
  summary, tags), so ``revi`` finds ``reviewer`` as you type;
- ``tag:<tag>`` for each tag (so a tag filter and text search share one array field,
  which matters because Firestore allows one array clause per query).

The array is capped (:data:`MAX_KEYS`): short-field keys first, then description words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MIN_WORD = 2
MIN_PREFIX = 3
MAX_PREFIX = 15
MAX_KEYS = 600
TAG_PREFIX = "tag:"

_SPLIT = re.compile(r"[^0-9a-z]+")


def normalize(text: str) -> str:
    """Lowercase, accents stripped (``Café`` → ``cafe``)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (2+ characters), in order, without repeats."""
    found = (w for w in _SPLIT.split(normalize(text)) if len(w) >= MIN_WORD)
    return list(dict.fromkeys(found))


def _prefixes(word: str) -> Iterable[str]:
    for end in range(MIN_PREFIX, min(len(word), MAX_PREFIX) + 1):
        yield word[:end]


def tag_key(tag: str) -> str:
    return TAG_PREFIX + tag


def listing_keys(
    *, name: str, display_name: str | None, description: str, summary: str, tags: Iterable[str]
) -> list[str]:
    """The ``search_keys`` array stored on a listing."""
    tag_list = list(tags)
    keys: dict[str, None] = {tag_key(t): None for t in tag_list}
    short_words: list[str] = []
    for text in (name, display_name or "", summary, *tag_list):
        short_words.extend(words(text))
    for word in dict.fromkeys(short_words):
        keys[word] = None
        for prefix in _prefixes(word):
            keys[prefix] = None
    for word in words(description):
        keys[word] = None
    return list(keys)[:MAX_KEYS]


def query_words(q: str) -> list[str]:
    """The words a free-text query must all match, longest (most selective) first."""
    return sorted(words(q), key=lambda w: (-len(w), w))
