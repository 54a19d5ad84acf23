"""What a caller said, made plain for matching: case, accents, apostrophes and contractions.

Pure: no Flask, no Twilio. Menu words match as whole words; crisis words match generously
(common endings, a few words between the words of a phrase), because missing a crisis costs
far more than a counselor hearing "crisis call" for a caller who only feared one.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

APOSTROPHES = "'\u2019\u2018\u02bc`\u00b4"
# Contractions as speech recognisers write them, with and without the apostrophe.
CONTRACTIONS = (
    (r"\bcan'?t\b", "can not"), (r"\bcannot\b", "can not"), (r"\bwon'?t\b", "will not"),
    (r"\bain'?t\b", "is not"), (r"n't\b", " not"), (r"'re\b", " are"), (r"'m\b", " am"),
    (r"'ve\b", " have"), (r"'ll\b", " will"), (r"'d\b", " would"), (r"\b(he|she|it|that|there|what)'s\b", r"\1 is"),
    (r"\bwanna\b", "want to"), (r"\bgonna\b", "going to"), (r"\bgotta\b", "got to"),
)
BARE = {"dont": "do not", "doesnt": "does not", "didnt": "did not", "isnt": "is not", "arent": "are not",
        "wasnt": "was not", "werent": "were not", "cant": "can not", "couldnt": "could not",
        "wouldnt": "would not", "shouldnt": "should not", "im": "i am", "ive": "i have", "hes": "he is",
        "shes": "she is", "theyre": "they are", "youre": "you are", "hasnt": "has not", "havent": "have not"}
# Endings a crisis word may carry and still be heard (overdose: overdosed, overdoses, overdosing).
ENDINGS = ("", "s", "es", "d", "ed", "ing", "al", "ly", "me", "se")
STEM_ENDINGS = ENDINGS + ("e",)  # and an "e" after a stem: the Spanish future, suicidar -> suicidaré
GAP = 2  # words that may come between the words of a crisis phrase ("want to just die")
_APOS = re.compile(f"[{APOSTROPHES}]")
_RULES = tuple((re.compile(pattern), repl) for pattern, repl in CONTRACTIONS)


def plain(text: str) -> str:
    """Lowercase words without accents, apostrophes or punctuation; contractions written out."""
    text = unicodedata.normalize("NFKD", str(text).lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOS.sub("'", text)
    for rule, repl in _RULES:
        text = rule.sub(repl, text)
    words = re.findall(r"[a-z0-9]+", text.replace("'", ""))
    return " ".join(w2 for w in words for w2 in BARE.get(w, w).split())


@lru_cache(maxsize=4096)
def _listed(word: str) -> str:
    """A word of the flow's lists, made plain once (never a caller's words: those are not kept)."""
    return plain(word)


def has(said: str, word: str) -> bool:
    """Whether plain speech contains a word (or words) as whole words, in a row."""
    word = _listed(word)
    return bool(word) and f" {word} " in f" {said} "


def heard(said: str, phrase: str) -> bool:
    """Whether plain speech holds a crisis word or phrase: each word with a common ending,
    and at most GAP other words between the words of a phrase."""
    wanted = _listed(phrase).split()
    if not wanted:
        return False
    words = said.split()
    for start, word in enumerate(words):
        if _same(word, wanted[0]) and _rest(words, start + 1, wanted[1:]):
            return True
    return False


def _rest(words: list, at: int, wanted: list) -> bool:
    """Whether the rest of a phrase follows from `at`, each word within GAP words of the last."""
    if not wanted:
        return True
    for i in range(at, min(at + GAP + 1, len(words))):
        if _same(words[i], wanted[0]) and _rest(words, i + 1, wanted[1:]):
            return True
    return False


def _same(said: str, word: str) -> bool:
    """Whether a spoken word is a listed word, or it with a common ending."""
    if said == word:
        return True
    if len(word) < 3 or not said.startswith(word[:-1]):
        return False  # short words ("od", "me") only as themselves
    stem = word[:-1] if word.endswith("e") else word
    if said.startswith(stem) and said[len(stem):] in STEM_ENDINGS:
        return True
    # Spanish gender and number: muerto -> muerta, muertos; demasiado -> demasiadas.
    if len(word) >= 5 and word.endswith("o") and said in {word[:-1] + end for end in ("a", "os", "as")}:
        return True
    # A doubled last letter: cut -> cutting, stop -> stopped.
    return said.startswith(word + word[-1]) and said[len(word) + 1:] in ("ing", "ed")
