"""The skills vocabulary we ship, and finding its skills in free text.

Matching rules (each term of `data/skills.json` carries one; the default is "any"):

- any: whole token, any case. Symbols are part of the term, and a match must not touch a
  letter, digit, `_`, `+` or `#` on either side, nor a dot on its left or a dot-and-letter on
  its right. So "C++", "C#", ".NET" and "Node.js" match as written, "Python." can end a
  sentence, and there is no "Node" in "Node.js", "SQL" in "PostgreSQL", "Java" in
  "JavaScript", "C" in "C++" or "js" in "Node.js".
- case: as "any" but exact case, for terms that are ordinary English in lower case
  ("Swift", "Rust", "React", "Excel").
- context: exact case *and* a list-like context, for single letters and everyday words
  ("C", "R", "Go", "Spring"). Before the term: the line's start, a bullet, list punctuation
  (`, ; / | ( : &`), or "and", "or", "in", "using", "with". After it: the line's end, list
  punctuation, a full stop, or "and", "or", "&". Alternatively a word such as "programming",
  "language" or "developer" right after it is enough. So "Python, R, SQL", "services in Go."
  and "C programming" match; "Series C funding", "R&D", "John R. Smith", "Go to market" and
  "Spring 2019" do not.

Multi-word terms match across any whitespace, including line breaks. When matches overlap
the longest wins, so "React Native" is not also "React", and "GitLab CI/CD" not also "CI/CD".
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import re
from functools import cache
from pathlib import Path
from typing import Literal

MatchRule = Literal["any", "case", "context"]
_STRICT_RULES = ("case", "context")  # the rules a term must name in skills.json; "any" is implied
VOCABULARY_PATH = Path(__file__).resolve().parent.parent / "data" / "skills.json"

_LEFT = r"(?<![\w.+#])"
_RIGHT = r"(?![\w+#])(?!\.\w)"
# E-mail addresses and links are noise: "jane.go@example.com", "github.com/jane/vue-demo".
_ADDRESSES = re.compile(r"\S+@\S+|\bhttps?://\S+|\bwww\.\S+")
_WINDOW = 40
_LIST_PUNCTUATION = set(",;/|(:&")
_BULLETS = {"-", "*", "\u2022", "\u00b7"}
_WORD_BEFORE = re.compile(r"(?:^|\W)(?:and|or|in|using|with)$", re.IGNORECASE)
_AFTER = re.compile(r"[,;/|():]|\.(?!\w)|(?:and|or|&)\s", re.IGNORECASE)
_QUALIFIER = re.compile(
    r"(?:programming|programmer|language|lang|developer|engineer|code|scripts?)\b", re.IGNORECASE
)


@dataclasses.dataclass(frozen=True)
class Skill:
    name: str
    category: str
    aliases: tuple[str, ...]


class Vocabulary:
    """A set of skills with their spellings, ready to look up names and scan text."""

    def __init__(self, skills: list[Skill], rules: dict[str, MatchRule]) -> None:
        self.skills = tuple(skills)
        self._by_key: dict[str, str] = {}
        terms: dict[MatchRule, dict[str, str]] = {"any": {}, "case": {}, "context": {}}
        for skill in skills:
            for term in (skill.name, *skill.aliases):
                key = _key(term)
                if self._by_key.setdefault(key, skill.name) != skill.name:
                    raise ValueError(f"{term!r} is claimed by {self._by_key[key]} and {skill.name}")
                rule = rules.get(term, "any")
                terms[rule][key if rule == "any" else _squash(term)] = skill.name
        self._scanners = [
            (rule, _alternation(list(table), ignore_case=rule == "any"), table)
            for rule, table in terms.items()
            if table
        ]

    @classmethod
    def from_file(cls, path: Path) -> Vocabulary:
        raw = json.loads(path.read_text(encoding="utf-8"))
        skills, rules = [], {}
        for entry in raw["skills"]:
            skills.append(Skill(entry["name"], entry["category"], tuple(entry["aliases"])))
            for term, rule in entry.get("match", {}).items():
                if term not in (entry["name"], *entry["aliases"]) or rule not in _STRICT_RULES:
                    raise ValueError(f"bad match rule {term!r}: {rule!r} for {entry['name']}")
                rules[term] = rule
        return cls(skills, rules)

    def canonical(self, name: str) -> str | None:
        """The canonical name for any spelling of a known skill, in any case."""
        return self._by_key.get(_key(name))

    def find(self, text: str) -> list[str]:
        """Canonical names of the skills mentioned in `text`, sorted case-insensitively."""
        text = _ADDRESSES.sub(" ", text)
        found: list[tuple[int, int, str]] = []
        for rule, pattern, table in self._scanners:
            for match in pattern.finditer(text):
                if rule == "context" and not _in_list_context(text, match.start(), match.end()):
                    continue
                term = _squash(match.group())
                name = table.get(_key(term) if rule == "any" else term)
                if name:  # None only if a regex case-fold differs from str.casefold
                    found.append((match.start(), match.end(), name))
        return sorted({name for _, _, name in _longest_first(found)}, key=str.casefold)


@cache
def load_vocabulary() -> Vocabulary:
    """The shipped vocabulary, parsed once per process."""
    return Vocabulary.from_file(VOCABULARY_PATH)


def extract_skills(text: str) -> list[str]:
    """Canonical names of the known skills mentioned in `text`, sorted case-insensitively."""
    return load_vocabulary().find(text)


def canonical_skill(name: str) -> str | None:
    """The canonical name of a skill from any known spelling ("golang" -> "Go"), else None."""
    return load_vocabulary().canonical(name)


def _squash(term: str) -> str:
    return " ".join(term.split())


def _key(term: str) -> str:
    return _squash(term).casefold()


def _alternation(terms: list[str], *, ignore_case: bool) -> re.Pattern[str]:
    # Longest first, so at one position "React Native" is tried before "React".
    parts = [re.escape(t).replace(r"\ ", r"\s+") for t in sorted(terms, key=len, reverse=True)]
    flags = re.IGNORECASE if ignore_case else 0
    return re.compile(_LEFT + "(?:" + "|".join(parts) + ")" + _RIGHT, flags)


def _longest_first(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    kept: list[tuple[int, int, str]] = []  # non-overlapping, so sorted by start is sorted by end
    for match in sorted(found, key=lambda m: (m[0] - m[1], m[0])):
        index = bisect.bisect(kept, match)
        clear_before = index == 0 or kept[index - 1][1] <= match[0]
        clear_after = index == len(kept) or match[1] <= kept[index][0]
        if clear_before and clear_after:
            kept.insert(index, match)
    return kept


def _in_list_context(text: str, start: int, end: int) -> bool:
    # Look at most _WINDOW characters either side: resumes without line breaks exist, and
    # scanning to the line's ends for every match would make long texts quadratic.
    low, high = max(0, start - _WINDOW), min(len(text), end + _WINDOW)
    line_start, line_end = text.rfind("\n", low, start), text.find("\n", end, high)
    starts_line = line_start >= 0 or low == 0
    ends_line = line_end >= 0 or high == len(text)
    before = text[line_start + 1 if line_start >= 0 else low : start].rstrip(" \t")
    after = text[end : line_end if line_end >= 0 else high].lstrip(" \t")
    if _QUALIFIER.match(after):
        return True
    before_ok = (
        (starts_line and (not before or before in _BULLETS))
        or (before != "" and before[-1] in _LIST_PUNCTUATION)
        or bool(_WORD_BEFORE.search(before[-10:]))
    )
    after_ok = (ends_line and not after) or bool(_AFTER.match(after))
    return before_ok and after_ok
