"""Chat text rules: cleaning message content, blocked words, emote-only mode and reaction emoji.

Emoji are recognised with the ``emoji`` package (Unicode emoji data, including skin-tone modifiers and
ZWJ sequences such as 👩🏽‍💻), so a multi-codepoint emoji counts as one emoji and is never cut apart.

Every input is first held to a bound that costs nothing to check (its length): emoji parsing costs ~1-2 µs
per code point (a 5 MB message took 4 s of CPU before it was refused as too long), so text longer than any
valid value could be after cleaning is refused before it is parsed.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import emoji

from livecast.domain.errors import ValidationFailed

MESSAGE_MAX = 500
"""Characters (code points) after cleaning and trimming."""
MESSAGE_INPUT_MAX = 4 * MESSAGE_MAX
"""Code points of a message as sent, before cleaning: room for whitespace and invisible characters that
cleaning removes; anything longer is refused unread."""
REACTION_INPUT_MAX = 32
"""Code points of a reaction as sent (the longest emoji ZWJ sequences have about 10)."""
BLOCKED_WORDS_MAX = 500
"""Entries in a chat's blocked-word list."""
BLOCKED_WORD_MAX = 100
"""Characters of one blocked word or phrase, after trimming."""
BLOCKED_CHARS_MAX = 5000
"""Characters of a whole blocked-word list (after trimming): what the list's pattern costs to build (~4-20 ms,
once per list and process) is bounded by it."""
VARIATION_SELECTOR_16 = "\ufe0f"
DEFAULT_REACTIONS = ("👍", "❤️", "😂", "🔥", "🎉", "👏", "😮", "😢")


def _strip_invisible(text: str) -> str:
    """Drop control (Cc) and format (Cf: zero-width, bidi overrides, BOM) characters; newlines become spaces."""
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))


def clean_message(content: str) -> str:
    """The stored form of a chat message: invisible characters removed outside emoji, trimmed, 1-500 long.

    Zero-width joiners and variation selectors inside an emoji sequence are kept (they are part of it).
    Raises ``ValidationFailed`` (field ``content``) when nothing is left or it is too long: before any
    processing if ``content`` is over :data:`MESSAGE_INPUT_MAX` code points, else after cleaning.
    """
    if len(content) > MESSAGE_INPUT_MAX:
        raise ValidationFailed(f"message is {len(content)} characters; at most {MESSAGE_MAX}", field="content")
    parts: list[str] = []
    last = 0
    for match in emoji.emoji_list(content):
        parts.append(_strip_invisible(content[last : match["match_start"]]))
        parts.append(match["emoji"])
        last = match["match_end"]
    parts.append(_strip_invisible(content[last:]))
    cleaned = re.sub(r"\s+", " ", "".join(parts)).strip()
    if not cleaned:
        raise ValidationFailed("message is empty", field="content")
    if len(cleaned) > MESSAGE_MAX:
        raise ValidationFailed(f"message is {len(cleaned)} characters; at most {MESSAGE_MAX}", field="content")
    return cleaned


def only_emoji(text: str) -> bool:
    """Whether ``text`` consists of emoji and spaces only (emote-only mode)."""
    return bool(text.strip()) and not emoji.replace_emoji(text, replace="").strip()


def clean_blocked_words(words: list[str]) -> list[str]:
    """A chat's blocked-word list as stored: entries trimmed, blanks and duplicates dropped, sorted.

    Raises ``ValidationFailed`` (field ``blockedWords``) for more than :data:`BLOCKED_WORDS_MAX` entries, an
    entry over :data:`BLOCKED_WORD_MAX` characters or more than :data:`BLOCKED_CHARS_MAX` in all; the count
    and raw lengths are checked before the entries are read. The bounds keep :func:`blocked_word` cheap.
    """
    message = (
        f"at most {BLOCKED_WORDS_MAX} blocked words or phrases of at most {BLOCKED_WORD_MAX} characters, "
        f"{BLOCKED_CHARS_MAX} characters in all"
    )
    if len(words) > BLOCKED_WORDS_MAX or any(len(w) > MESSAGE_INPUT_MAX for w in words):
        raise ValidationFailed(message, field="blockedWords")
    cleaned = sorted({w.strip() for w in words if w.strip()})
    if any(len(w) > BLOCKED_WORD_MAX for w in cleaned) or sum(map(len, cleaned)) > BLOCKED_CHARS_MAX:
        raise ValidationFailed(message, field="blockedWords")
    return cleaned


def blocked_word(text: str, blocked: list[str]) -> str | None:
    """The first blocked word or phrase found in ``text`` (case-insensitive, whole words), or ``None``.

    One compiled pattern per list (cached): at most ~0.2 ms for a 500-character message against a list at the
    bounds of :func:`clean_blocked_words`, crafted words included (a pattern per word cost ~14 ms a message).
    """
    matcher = _blocked_pattern(tuple(blocked))
    if matcher is None:
        return None
    found = matcher[0].search(text.casefold())
    return None if found is None else matcher[1].get(found.group(0), found.group(0))


@functools.lru_cache(maxsize=256)
def _blocked_pattern(blocked: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, str]] | None:
    """The list's casefolded words as one regular expression shaped like a trie (``ab(?:c|d)``: shared
    prefixes are matched once), so the search at each position of a message walks at most one word's length
    instead of trying every word; plus each casefolded word's original spelling. ``None`` for no words."""
    trie: dict[str, dict] = {}
    spelled: dict[str, str] = {}
    for word in blocked:
        folded = word.casefold()
        if not folded:
            continue
        spelled.setdefault(folded, word)
        node = trie
        for ch in folded:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here
    if not trie:
        return None
    return re.compile(rf"(?<!\w)(?:{_trie_pattern(trie)})(?!\w)"), spelled


def _trie_pattern(node: dict[str, dict]) -> str:
    """The pattern of the rest of the words below ``node``: longer words first, then the one ending here."""
    branches = [re.escape(ch) + _trie_pattern(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    ends = "" in node
    body = branches[0] if len(branches) == 1 and not ends else "(?:" + "|".join(branches) + ")"
    return body + "?" if ends else body


def _key(value: str) -> str:
    return unicodedata.normalize("NFC", value).replace(VARIATION_SELECTOR_16, "")


def check_reaction(value: str, allowed: list[str] | tuple[str, ...]) -> str:
    """The allowed emoji ``value`` stands for (as configured), or ``ValidationFailed`` (field ``emoji``).

    ``value`` must be exactly one emoji (a skin-toned or ZWJ sequence counts as one) from ``allowed``;
    a missing or extra U+FE0F variation selector does not matter (``❤`` equals ``❤️``). Over
    :data:`REACTION_INPUT_MAX` code points is refused before it is looked at.
    """
    if len(value) > REACTION_INPUT_MAX or not emoji.is_emoji(value):
        raise ValidationFailed("emoji must be exactly one emoji", field="emoji")
    by_key = {_key(a): a for a in allowed}
    match = by_key.get(_key(value))
    if match is None:
        raise ValidationFailed(f"emoji {value} is not allowed here; allowed: {' '.join(allowed)}", field="emoji")
    return match


def check_position(value: float, field: str) -> float:
    """A reaction's screen position in percent: 0-100 (raises ``ValidationFailed`` naming ``field``)."""
    if not 0 <= value <= 100 or value != value:  # NaN fails both comparisons
        raise ValidationFailed(f"{field} must be between 0 and 100 (percent)", field=field)
    return float(value)
