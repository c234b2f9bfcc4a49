"""Policy ``regex`` matches: ECMAScript patterns run by a linear-time engine.

The only module of the project that imports a regular-expression engine for policies. A
backtracking engine lets one pattern such as ``^(a+)+$`` take exponential time on agent input;
RE2 (``google-re2``) matches in time linear in the input, whatever the pattern. The price is
that RE2 cannot run backreferences or lookaround: such a pattern is refused when the policy is
validated, with its place, instead of being run.

A pattern goes through three steps, once, when the policy is parsed:

1. ``regress``, an ECMAScript engine, only *reads* the pattern: what JavaScript would reject is
   not an error of the policy (the TypeScript server accepts it and the match is false).
2. The pattern is rewritten into RE2 syntax with JavaScript's meaning (no flags): ``.`` stops
   at every line terminator, ``\\s`` is JavaScript's white space, ``[^]`` is any character,
   ``\\a`` is a plain ``a``, named groups are plain groups.
3. RE2 compiles the result with a memory bound; what it cannot compile is refused.

Linear is not free: RE2's worst case costs about (input length x program size). Every search
is charged that much against a work budget (:func:`regex_budget`, one per decision); a
decision that would exceed it raises :class:`RegexBudgetError`, and the evaluator answers
DENY. The budget is a few hundred times what a realistic policy spends.

Text is searched as Unicode code points, not UTF-16 code units (see docs/compatibility.md).
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Final

import re2
import regress

#: Longer patterns are refused at validation: policy patterns are short, and RE2's work per
#: input character grows with the pattern.
MAX_PATTERN_CHARS: Final = 1_000
#: Work units (characters searched x compiled program size) one decision may spend on regular
#: expressions: about 50 ms of the worst patterns, hundreds of times a realistic policy's use.
WORK_BUDGET: Final = 25_000_000
# RE2's own bound on the memory of one compiled pattern (its default); bigger is refused.
_MAX_MEM: Final = 8 << 20

_LINE_TERMINATORS: Final = r"\n\r\x{2028}\x{2029}"
# ECMAScript WhiteSpace and LineTerminator, as `\s` means in JavaScript.
_JS_SPACE: Final = (
    r"\t\n\x0B\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
    r"\x{FEFF}"
)
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_CLASS_ESCAPES: Final = frozenset("dDwW")
_UNANCHORED: Final = re2._Anchor.UNANCHORED
_NO_MATCH: Final = (-1, -1)
_CONTROL: Final = {"n": r"\n", "r": r"\r", "t": r"\t", "f": r"\f", "v": r"\x0B"}


class RegexError(ValueError):
    """A pattern this module will not run; ``invalid_in_js`` when JavaScript rejects it too."""

    def __init__(self, message: str, *, invalid_in_js: bool = False) -> None:
        super().__init__(message)
        self.invalid_in_js = invalid_in_js


class RegexBudgetError(RuntimeError):
    """Regular expressions would take more work than one decision may spend; fail closed."""


# The units left in the current decision; None outside one (each search then stands alone).
_left: ContextVar[list[int] | None] = ContextVar("regex_work_left", default=None)


class regex_budget:  # noqa: N801 - used as a `with` statement, like contextlib's helpers
    """Searches inside the ``with`` block share ``units`` of work.

    A class rather than a generator: it is entered on every decision, and this is cheaper."""

    __slots__ = ("_token", "_units")

    def __init__(self, units: int = WORK_BUDGET) -> None:
        self._units = units
        self._token: Token[list[int] | None] | None = None

    def __enter__(self) -> None:
        self._token = _left.set([self._units])

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _left.reset(self._token)


def _charge(units: int) -> None:
    left = _left.get()
    if left is None:
        if units > WORK_BUDGET:
            raise RegexBudgetError("a regular expression search exceeds the work budget")
        return
    left[0] -= units
    if left[0] < 0:
        raise RegexBudgetError("regular expression searches exceed the work budget")


@dataclass(frozen=True, slots=True)
class JsRegex:
    """A pattern compiled once; :meth:`test` is JavaScript's ``regex.test(text)``."""

    source: str
    #: The engine's own compiled form (the extension object beneath ``re2.compile``, whose
    #: Python wrapper would build match objects that `test` never needs).
    _compiled: Any
    #: RE2's program size: the work of one input character in the worst case.
    _size: int

    def test(self, text: str) -> bool:
        """An unanchored search, in time linear in ``len(text)``, charged to the budget."""
        _charge((len(text) + 1) * self._size)
        try:
            encoded = text.encode("utf-8")
        except UnicodeError:
            # A lone surrogate cannot be searched as UTF-8; a failed test is the v1 answer.
            return False
        spans = self._compiled.Match(_UNANCHORED, encoded, 0, len(encoded))
        return bool(spans[0] != _NO_MATCH)


def compile_js_regex(pattern: str) -> JsRegex:
    """``new RegExp(pattern)`` with no flags; raise :class:`RegexError` saying why not."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise RegexError(f"is longer than {MAX_PATTERN_CHARS} characters")
    try:
        regress.Regex(pattern)
    except (regress.RegressError, UnicodeError, ValueError):
        raise RegexError("is not a valid regular expression", invalid_in_js=True) from None
    translated = _Translator(pattern).run()
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _MAX_MEM
    options.never_capture = True  # `test` asks only whether there is a match
    try:
        compiled = re2.compile(translated, options)
    except re2.error as exc:
        raise RegexError(f"cannot be run by the linear-time engine ({_reason(exc)})") from None
    return JsRegex(pattern, compiled._regexp, max(1, int(compiled.programsize)))


def _reason(exc: Exception) -> str:
    text = str(exc.args[0] if exc.args else exc)
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text.split(":", 1)[0]


class _Translator:
    """Rewrites a pattern that JavaScript accepts into RE2 syntax, one token at a time."""

    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.i = 0
        self.out: list[str] = []

    def run(self) -> str:
        while self.i < len(self.src):
            char = self.src[self.i]
            self.i += 1
            if char == "\\":
                self.out.append(self._escape(in_class=False))
            elif char == "[":
                self._char_class()
            elif char == "(":
                self._group()
            elif char == ".":
                self.out.append(f"[^{_LINE_TERMINATORS}]")
            else:
                self.out.append(char)
        return "".join(self.out)

    def _group(self) -> None:
        rest = self.src[self.i :]
        if rest.startswith(("?=", "?!", "?<=", "?<!")):
            raise RegexError("uses lookahead or lookbehind, which the linear-time engine lacks")
        if rest.startswith("?<"):
            # Only `test` is asked of a pattern, so a name changes nothing: a plain group.
            self.i = self.src.index(">", self.i) + 1
        self.out.append("(")

    def _char_class(self) -> None:
        negated = self.src.startswith("^", self.i)
        self.i += int(negated)
        if self.src.startswith("]", self.i):
            self.i += 1
            # JavaScript's `[]` matches nothing and `[^]` matches any character.
            self.out.append(r"[\x00-\x{10FFFF}]" if negated else r"[^\x00-\x{10FFFF}]")
            return
        parts = ["[^" if negated else "["]
        while self.src[self.i] != "]":
            char = self.src[self.i]
            self.i += 1
            if char == "\\":
                parts.append(self._escape(in_class=True))
            elif char == "[":
                parts.append(r"\[")  # RE2 would read `[:alpha:]` as a POSIX class
            else:
                parts.append(char)
        self.i += 1
        parts.append("]")
        self.out.append("".join(parts))

    def _escape(self, *, in_class: bool) -> str:
        char = self.src[self.i]
        self.i += 1
        if char in _CONTROL:
            return _CONTROL[char]
        if char in _CLASS_ESCAPES:
            return "\\" + char
        if char in "sS":
            return self._space(negated=char == "S", in_class=in_class)
        if char in "bB":
            return r"\x08" if in_class else "\\" + char
        if char.isdigit():
            return self._digit(char)
        if char == "k" and self.src.startswith("<", self.i):
            raise RegexError("uses a backreference, which the linear-time engine lacks")
        if char in "xuc":
            return self._code_escape(char)
        return _literal(char)

    def _space(self, *, negated: bool, in_class: bool) -> str:
        if not in_class:
            return f"[{'^' if negated else ''}{_JS_SPACE}]"
        if negated:
            raise RegexError(r"uses `\S` inside a character class; write it outside the class")
        return _JS_SPACE

    def _digit(self, char: str) -> str:
        if char == "0" and not self.src[self.i : self.i + 1].isdigit():
            return r"\x00"
        if char in "89":
            return char  # JavaScript reads `\8` and `\9` as the digits themselves
        raise RegexError(
            "uses a backreference or an octal escape, which the linear-time engine lacks"
            r" (write a character as `\xHH`)"
        )

    def _code_escape(self, char: str) -> str:
        if char == "c":
            letter = self.src[self.i : self.i + 1]
            if letter.isascii() and letter.isalpha():
                self.i += 1
                return _code_point(ord(letter) % 32)
            return r"\\c"  # JavaScript reads a bare `\c` as a backslash and a `c`
        width = 2 if char == "x" else 4
        digits = self.src[self.i : self.i + width]
        if len(digits) < width or not set(digits) <= _HEX:
            return _literal(char)  # `\x` or `\u` without hex digits is the letter itself
        self.i += width
        value = int(digits, 16)
        if 0xD800 <= value <= 0xDBFF:
            return self._surrogate_pair(value)
        if 0xDC00 <= value <= 0xDFFF:
            raise RegexError("escapes a lone surrogate, which Unicode text cannot contain")
        return _code_point(value)

    def _surrogate_pair(self, high: int) -> str:
        rest = self.src[self.i : self.i + 6]
        if len(rest) == 6 and rest.startswith("\\u") and set(rest[2:]) <= _HEX:
            low = int(rest[2:], 16)
            if 0xDC00 <= low <= 0xDFFF:
                self.i += 6
                return _code_point(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        raise RegexError("escapes a lone surrogate, which Unicode text cannot contain")


def _code_point(value: int) -> str:
    return f"\\x{{{value:X}}}"


def _literal(char: str) -> str:
    """A character JavaScript takes literally after a backslash (`\\/`, `\\a`, `\\p`)."""
    if char.isascii() and not char.isalnum():
        return "\\" + char
    return _code_point(ord(char))
