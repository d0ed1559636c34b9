"""Chat text rules as functions: input bounds checked before any costly processing (CPU time measured with
``time.process_time``, so other load on the machine does not count), and the blocked-word matcher (same
answers as one regular expression per word, bounded cost for crafted lists)."""

from __future__ import annotations

import random
import re
import string
import time
from collections.abc import Callable

import pytest

from livecast.domain.chat_text import (
    BLOCKED_CHARS_MAX,
    BLOCKED_WORD_MAX,
    BLOCKED_WORDS_MAX,
    MESSAGE_INPUT_MAX,
    blocked_word,
    check_reaction,
    clean_blocked_words,
    clean_message,
)
from livecast.domain.errors import ValidationFailed


def cpu_seconds(call: Callable[[], object], repeat: int = 1) -> float:
    """CPU time of this process per call (exceptions of ``call`` are part of the call)."""
    started = time.process_time()
    for _ in range(repeat):
        try:
            call()
        except ValidationFailed:
            pass
    return (time.process_time() - started) / repeat


def refused(call: Callable[[], object]) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as e:
        call()
    return e.value


@pytest.mark.parametrize("unit", ["a", "a ", "😀a", "a\u200b", "漢"])
def test_a_huge_message_is_refused_before_it_is_parsed(unit: str) -> None:
    content = unit * (5_000_000 // len(unit.encode()))  # ~5 MB of UTF-8: took 4 s of CPU to refuse before
    assert refused(lambda: clean_message(content)).field == "content"
    assert cpu_seconds(lambda: clean_message(content)) < 0.01


def test_the_bound_leaves_room_for_what_cleaning_removes() -> None:
    padded = " " * (MESSAGE_INPUT_MAX - 2) + "hi"
    assert clean_message(padded) == "hi"
    assert clean_message("\u200b" * 1500 + "é" * 500) == "é" * 500
    assert refused(lambda: clean_message(padded + " ")).field == "content"
    assert refused(lambda: clean_message("x" * 501)).field == "content", "500 characters after cleaning, as before"


def test_reactions_are_bounded_before_they_are_looked_at() -> None:
    family = "👨🏻\u200d❤️\u200d💋\u200d👨🏼"  # one of the longest RGI emoji (10 code points)
    assert check_reaction(family, [family]) == family
    assert refused(lambda: check_reaction("🔥" * 33, ["🔥"])).field == "emoji"
    huge = "🔥" * 1_000_000
    assert cpu_seconds(lambda: check_reaction(huge, ["🔥"])) < 0.001


def per_word(text: str, blocked: list[str]) -> bool:
    """What the matcher replaced: one regular expression per word."""
    folded = text.casefold()
    return any(w and re.search(rf"(?<!\w){re.escape(w.casefold())}(?!\w)", folded) for w in blocked)


def test_blocked_words_match_whole_words_and_phrases_case_insensitively() -> None:
    words = ["Spoiler", "bad phrase", "straße", "-x-", "a+b", "🔥"]
    assert blocked_word("big SPOILER ahead", words) == "Spoiler"
    assert blocked_word("spoilers are words too", words) is None
    assert blocked_word("a Bad  phrase", words) is None and blocked_word("a Bad phrase!", words) == "bad phrase"
    assert blocked_word("STRASSE", words) == "straße", "casefolded on both sides"
    assert blocked_word("a -x- b", words) == "-x-" and blocked_word("a-x-b", words) is None
    assert blocked_word("1 a+b 2", words) == "a+b", "regex characters are literal"
    assert blocked_word("hot 🔥", words) == "🔥"
    assert blocked_word("anything", []) is None and blocked_word("anything", [""]) is None


def test_blocked_words_answer_as_a_pattern_per_word_did() -> None:
    rng = random.Random(10)
    alphabet = "ab ßS-_é1"
    for _ in range(5000):
        words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(0, 6))]
        text = "".join(rng.choice(alphabet + "x") for _ in range(rng.randint(0, 20)))
        assert (blocked_word(text, words) is not None) == per_word(text, words), (text, words)


def crafted_lists() -> dict[str, tuple[str, list[str]]]:
    """Lists at the bounds whose words share long stretches with the message but never match."""
    rng = random.Random(7)

    def capped(words: list[str]) -> list[str]:
        out: list[str] = []
        for word in words:
            if len(out) == BLOCKED_WORDS_MAX or sum(map(len, out)) + len(word) > BLOCKED_CHARS_MAX:
                break
            out.append(word)
        return clean_blocked_words(out)

    phrases = [("a " * k)[: BLOCKED_WORD_MAX - 1] + c for k in range(1, 50) for c in "bcdefghij"]
    rng.shuffle(phrases)
    return {
        "phrases": ("a " * 250, capped(phrases)),
        "runs": ("a" * 500, capped(["a" * k + c for k in range(1, 99) for c in "bcdefg"])),
        "dashes": ("a-" * 250, capped(["-a" * k + "x" for k in range(1, 50)] + ["a-" * k + "y" for k in range(1, 50)])),
        "random": (
            "hello world " * 41,
            capped(["".join(rng.choices(string.ascii_lowercase, k=10)) for _ in range(500)]),
        ),
    }


@pytest.mark.parametrize("name", ["phrases", "runs", "dashes", "random"])
def test_blocked_words_cost_is_bounded_for_crafted_lists(name: str) -> None:
    text, words = crafted_lists()[name]
    assert blocked_word(text, words) is None  # the first call builds the list's pattern
    assert cpu_seconds(lambda: blocked_word(text, words), repeat=20) < 0.002  # ~0.2 ms; a pattern per word: 1-25 ms


def test_blocked_word_lists_are_bounded() -> None:
    assert clean_blocked_words([" b ", "a", "b", "  "]) == ["a", "b"]
    assert clean_blocked_words(["x" * BLOCKED_WORD_MAX]) == ["x" * BLOCKED_WORD_MAX]
    for words in (
        [f"w{n}" for n in range(BLOCKED_WORDS_MAX + 1)],
        ["x" * (BLOCKED_WORD_MAX + 1)],
        [f"{n:03d}" + "x" * 97 for n in range(BLOCKED_CHARS_MAX // 100 + 1)],
    ):
        assert refused(lambda words=words: clean_blocked_words(words)).field == "blockedWords"
    huge = ["x" * 10_000_000]
    assert cpu_seconds(lambda: clean_blocked_words(huge)) < 0.001, "refused on its length, not read"
