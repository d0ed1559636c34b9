"""Chat text rules: cleaning message content, blocked words, emote-only mode and reaction emoji.

Emoji are recognised with the ``emoji`` package (Unicode emoji data, including skin-tone modifiers and
ZWJ sequences such as 👩🏽‍💻), so a multi-codepoint emoji counts as one emoji and is never cut apart.
"""

from __future__ import annotations

import re
import unicodedata

import emoji

from livecast.domain.errors import ValidationFailed

MESSAGE_MAX = 500
"""Characters (code points) after cleaning and trimming."""
VARIATION_SELECTOR_16 = "\ufe0f"
DEFAULT_REACTIONS = ("👍", "❤️", "😂", "🔥", "🎉", "👏", "😮", "😢")


def _strip_invisible(text: str) -> str:
    """Drop control (Cc) and format (Cf: zero-width, bidi overrides, BOM) characters; newlines become spaces."""
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))


def clean_message(content: str) -> str:
    """The stored form of a chat message: invisible characters removed outside emoji, trimmed, 1-500 long.

    Zero-width joiners and variation selectors inside an emoji sequence are kept (they are part of it).
    Raises ``ValidationFailed`` (field ``content``) when nothing is left or it is too long.
    """
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


def blocked_word(text: str, blocked: list[str]) -> str | None:
    """The first blocked word or phrase found in ``text`` (case-insensitive, whole words), or ``None``."""
    folded = text.casefold()
    for word in blocked:
        if word and re.search(rf"(?<!\w){re.escape(word.casefold())}(?!\w)", folded):
            return word
    return None


def _key(value: str) -> str:
    return unicodedata.normalize("NFC", value).replace(VARIATION_SELECTOR_16, "")


def check_reaction(value: str, allowed: list[str] | tuple[str, ...]) -> str:
    """The allowed emoji ``value`` stands for (as configured), or ``ValidationFailed`` (field ``emoji``).

    ``value`` must be exactly one emoji (a skin-toned or ZWJ sequence counts as one) from ``allowed``;
    a missing or extra U+FE0F variation selector does not matter (``❤`` equals ``❤️``).
    """
    if not emoji.is_emoji(value):
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
