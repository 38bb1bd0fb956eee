"""A workload written by the tests, in plain Python, on the contract alone (no hook of the lab).

Module style (``wl_words``): the items are tuples of words, each result a ``dict`` (no
``result_layout``), and the answer a ``Tally``, which JSON cannot hold (the lab prints its repr).
The answer depends on the plan's order (``initials``, ``longest``): a backend or schedule that
combined results out of order would change it.

Object style (``wl_words:LETTERS``): an instance with ``plan``, ``kernel`` and ``combine``
methods, whose items are ``(place, word)`` tuples, results tuples, and answer a ``dict``;
``default_schedule = "cyclic"``.

No NumPy here: every backend, subinterpreters included, must run both.
"""

from __future__ import annotations

from typing import Any

TEXT = (
    "it was the best of times it was the worst of times it was the age of wisdom it was the "
    "age of foolishness it was the epoch of belief it was the epoch of incredulity it was the "
    "season of light it was the season of darkness it was the spring of hope it was the "
    "winter of despair"
)


class Tally:
    """Word counts, and what the order of the text decides: each item's first letter in plan
    order, and the first of the longest words."""

    def __init__(self, counts: dict[str, int], initials: str, longest: str) -> None:
        self.counts = counts
        self.initials = initials
        self.longest = longest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tally) and (self.counts, self.initials, self.longest) == (
            other.counts, other.initials, other.longest)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        counts = ", ".join(f"{word}={n}" for word, n in sorted(self.counts.items()))
        return f"Tally({counts}; initials={self.initials!r}; longest={self.longest!r})"


def plan(text: str = TEXT, per_item: int = 3, repeat: int = 1) -> list[tuple[str, ...]]:
    """The words of ``text`` (``repeat`` times), ``per_item`` to an item."""
    if per_item < 1:
        raise ValueError(f"per_item must be at least 1 (got {per_item})")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1 (got {repeat})")
    words = text.split() * repeat
    if not words:
        raise ValueError("text has no words")
    return [tuple(words[at : at + per_item]) for at in range(0, len(words), per_item)]


def kernel(words: tuple[str, ...]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return {"counts": counts, "first": words[0], "longest": max(words, key=len)}


def combine(results: list[dict[str, Any]]) -> Tally:
    """Every item's counts summed; the first letters, and the first longest word, in plan
    order."""
    counts: dict[str, int] = {}
    longest = ""
    for result in results:
        for word, n in result["counts"].items():
            counts[word] = counts.get(word, 0) + n
        if len(result["longest"]) > len(longest):
            longest = result["longest"]
    return Tally(counts, "".join(result["first"][0] for result in results), longest)


def show(answer: Tally, per_item: int = 3) -> str:
    return f"{sum(answer.counts.values())} words, {per_item} an item; longest {answer.longest}"


class LetterCount:
    """Object style: letters and vowels of each word, and the words' last letters in order."""

    default_schedule = "cyclic"
    vowels = "aeiou"

    def plan(self, text: str = TEXT, repeat: int = 1) -> list[tuple[int, str]]:
        if repeat < 1:
            raise ValueError(f"repeat must be at least 1 (got {repeat})")
        return list(enumerate(text.split() * repeat))

    def kernel(self, item: tuple[int, str]) -> tuple[int, int, int, str]:
        place, word = item
        return place, len(word), sum(letter in self.vowels for letter in word), word[-1]

    def combine(self, results: list[tuple[int, int, int, str]]) -> dict[str, Any]:
        return {
            "letters": sum(r[1] for r in results),
            "vowels": sum(r[2] for r in results),
            "in_order": all(r[0] == k for k, r in enumerate(results)),
            "last_letters": "".join(r[3] for r in results),
        }


LETTERS = LetterCount()
