"""YAML 1.2 text to plain data, remembering where each value came from.

The only module of the project that imports a YAML library. Scalars are resolved by the YAML
1.2 *core* schema, as the ``yaml`` package of the TypeScript server does: ``yes`` is a string,
``010`` is 10, ``1_000`` and ``2024-01-15`` stay strings. We resolve them ourselves from the
node tree rather than trusting a loader's resolver, so the rules cannot drift with a library
upgrade. Mapping keys become strings, as JavaScript object keys do.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from openleash.domain.jsonvalue import JsonObject, JsonOut, JsonValue, js_number

#: A place in a document: mapping keys and list indices from the root.
Path = tuple[str | int, ...]

# Aliases may share nodes; expanding them is what later stages pay for. A few thousand nodes
# of reuse is plenty for any honest policy and stops "billion laughs" documents.
MAX_ALIAS_EXPANSION = 10_000
#: Collections inside collections: deep enough for expressions nested 64 levels (two per
#: level), and well inside Python's recursion limit for every stage after this one.
MAX_DEPTH = 150
#: Characters in one string (a key or a value).
MAX_STRING_CHARS = 10_000
# Digits of a number literal: the largest double has 309 before the point, and a literal
# longer than this is refused before Python builds (and spends time on) a huge integer.
_MAX_NUMBER_CHARS = 400
_SAFE_INT = 2**53

_PLAIN = "openleash:plain"
_YAML_TAG = "tag:yaml.org,2002:"

# The core schema, spelled as the TypeScript server's YAML library spells it.
_NULL = re.compile(r"~|null|Null|NULL|")
_TRUE = re.compile(r"true|True|TRUE")
_FALSE = re.compile(r"false|False|FALSE")
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
)
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.nan|\.NaN|\.NAN")


class YamlError(ValueError):
    """Text that is not a single well-formed YAML document. ``line`` is 1-based when known."""

    def __init__(self, problem: str, line: int | None) -> None:
        where = f" (line {line})" if line is not None else ""
        super().__init__(f"{problem}{where}")
        self.problem = problem
        self.line = line


@dataclass(frozen=True, slots=True)
class Document:
    """Plain data plus the 1-based source line of every place in it."""

    data: JsonValue
    lines: Mapping[Path, int]

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None


def resolve_plain(text: str) -> JsonValue:
    """The value of an untagged plain scalar under the YAML 1.2 core schema."""
    if _NULL.fullmatch(text):
        return None
    if _TRUE.fullmatch(text):
        return True
    if _FALSE.fullmatch(text):
        return False
    if _INT.fullmatch(text):
        return _js_int(text, text, 10)
    if _OCT.fullmatch(text):
        return _js_int(text, text[2:], 8)
    if _HEX.fullmatch(text):
        return _js_int(text, text[2:], 16)
    if _FLOAT.fullmatch(text):
        return _js_float(_bounded(text, float(text[: _MAX_NUMBER_CHARS + 1])))
    if _INF.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.fullmatch(text):
        return math.nan
    return text


class NumberRangeError(ValueError):
    """A number literal beyond what a JavaScript number can hold (a double)."""


def _js_int(text: str, digits: str, base: int) -> int | float:
    _bounded(text, 0.0)
    value = int(digits, base)
    try:
        return js_number(value) if abs(value) <= _SAFE_INT else _bounded(text, float(value))
    except OverflowError:
        raise NumberRangeError(f"number `{text[:20]}...` is out of range") from None


def _bounded(text: str, value: float) -> float:
    """``value`` unless ``text`` is too long or overflows to infinity (write `.inf` for that)."""
    if len(text) > _MAX_NUMBER_CHARS or math.isinf(value):
        shown = text if len(text) <= 20 else f"{text[:20]}..."
        raise NumberRangeError(f"number `{shown}` is out of range (at most about 1.8e308)")
    return value


def _js_float(value: float) -> int | float:
    # JavaScript has one number type: 1.0 is 1, and should look like 1 wherever it is echoed.
    if value.is_integer() and abs(value) <= _SAFE_INT:
        return int(value)
    return value


class _MarkingResolver(VersionedResolver):
    """Tags untagged plain scalars with a private marker so that we resolve them ourselves."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return Tag(suffix=_PLAIN)
        return super().resolve(kind, None if kind is ScalarNode else value, (False, False))


def _composer() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.Resolver = _MarkingResolver
    yaml.max_depth = MAX_DEPTH
    return yaml


def load_document(text: str) -> Document:
    """Parse one YAML document; raise :class:`YamlError` with a line on any syntax problem."""
    root = _compose(text)
    if root is None:
        return Document(None, {(): 1})
    builder = _Builder()
    try:
        data = builder.value(root, ())
    except RecursionError:
        raise YamlError("document is nested too deeply", None) from None
    return Document(data, builder.lines)


def _compose(text: str) -> Node | None:
    try:
        root: Node | None = _composer().compose(text)
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlError(f"collections nest deeper than {MAX_DEPTH} levels", line) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlError(str(exc.problem or exc.context or "invalid YAML"), line) from None
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        code = f" #x{exc.character:04x}" if isinstance(exc.character, int) else ""
        raise YamlError(f"character{code} is not allowed", line) from None
    except RecursionError:
        raise YamlError("document is nested too deeply", None) from None
    except (YAMLError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        # The pure-Python reader raises a handful of plain errors on malformed input.
        raise YamlError(f"unreadable YAML ({type(exc).__name__})", None) from None
    return root


def load_yaml(text: str) -> JsonValue:
    """Parse one YAML 1.2 document to plain data; raise :class:`YamlError` on bad syntax."""
    return load_document(text).data


class _Builder:
    """Walks composed nodes once, building plain values and recording their lines."""

    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}
        self._done: dict[int, tuple[JsonValue, int]] = {}
        self._open: set[int] = set()
        self._nodes = 0
        self._reused = 0

    def value(self, node: Node, path: Path) -> JsonValue:
        self.lines.setdefault(path, node.start_mark.line + 1)
        key = id(node)
        if key in self._done:
            return self._reuse(node, key)
        if key in self._open:
            raise YamlError("an alias refers to the node that contains it", _line(node))
        self._open.add(key)
        before = self._nodes
        built = self._build(node, path)
        self._open.discard(key)
        self._done[key] = (built, self._nodes - before)
        return built

    def _reuse(self, node: Node, key: int) -> JsonValue:
        built, size = self._done[key]
        # Count the expanded size, so that aliases of aliases add up as their copies would.
        self._nodes += size
        self._reused += size
        if self._reused > MAX_ALIAS_EXPANSION:
            raise YamlError("aliases expand to too many nodes", _line(node))
        return built

    def _build(self, node: Node, path: Path) -> JsonValue:
        self._nodes += 1
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        return _scalar(node)

    def _mapping(self, node: MappingNode, path: Path) -> JsonObject:
        out: JsonObject = {}
        seen: set[tuple[str, JsonValue]] = set()
        for key_node, value_node in node.value:
            key_value = self._key(key_node)
            identity = (type(key_value).__name__, key_value)
            if identity in seen:
                raise YamlError(f"duplicate key `{_js_string(key_value)}`", _line(key_node))
            seen.add(identity)
            key = _js_string(key_value)
            self.lines[(*path, key)] = _line(key_node)
            out[key] = self.value(value_node, (*path, key))
        return out

    def _key(self, node: Node) -> JsonValue:
        if not isinstance(node, ScalarNode):
            raise YamlError("only scalar mapping keys are supported", _line(node))
        self._nodes += 1
        return _scalar(node)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _scalar(node: Node) -> JsonValue:
    tag = str(node.tag)
    text = str(node.value)
    if len(text) > MAX_STRING_CHARS:
        raise YamlError(f"a value is longer than {MAX_STRING_CHARS} characters", _line(node))
    # Unknown tags are ignored, as the TypeScript server's YAML library does with a warning.
    handler = resolve_plain if tag == _PLAIN else _EXPLICIT.get(tag, str)
    try:
        return handler(text)
    except NumberRangeError as exc:
        raise YamlError(str(exc), _line(node)) from None


def _typed(kind: type | tuple[type, ...]) -> Callable[[str], JsonValue]:
    def resolve(text: str) -> JsonValue:
        value = resolve_plain(text)
        return value if isinstance(value, kind) and type(value) is not bool else text

    return resolve


def _boolean(text: str) -> JsonValue:
    value = resolve_plain(text)
    return value if type(value) is bool else text


def _null(text: str) -> JsonValue:
    value = resolve_plain(text)
    return None if value is None else text


_EXPLICIT: dict[str, Callable[[str], JsonValue]] = {
    _YAML_TAG + "str": str,
    _YAML_TAG + "int": _typed(int),
    _YAML_TAG + "float": _typed((int, float)),
    _YAML_TAG + "bool": _boolean,
    _YAML_TAG + "null": _null,
}


def _js_string(value: JsonValue) -> str:
    """``String(value)`` for the scalars YAML can produce."""
    if value is None:
        return ""
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, int | float):  # not a bool: that was the case above
        return js_number_text(value)
    return str(value)


def js_number_text(value: float) -> str:
    """The decimal text JavaScript gives a number (``String(n)``, ECMA-262 Number::toString)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, as JavaScript uses.
    shortest = Decimal(repr(abs(float(value)))).as_tuple()
    digits = "".join(map(str, shortest.digits)).rstrip("0") or "0"
    point = len(shortest.digits) + int(shortest.exponent)  # decimal point after `point` digits
    return sign + _place_point(digits, point)


def _place_point(digits: str, point: int) -> str:
    k = len(digits)
    if k <= point <= 21:
        return digits + "0" * (point - k)
    if 0 < point <= 21:
        return f"{digits[:point]}.{digits[point:]}"
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    exponent = point - 1
    mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{mantissa}e{'+' if exponent > 0 else '-'}{abs(exponent)}"


# Words YAML 1.1 readers take as booleans; quoting them costs nothing and avoids surprises for
# anyone who opens our output with an older tool.
_YAML11_WORDS = re.compile(r"y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF")


def _reads_as_string(data: str) -> bool:
    try:
        return isinstance(resolve_plain(data), str)
    except NumberRangeError:
        return False  # digits that would be refused as a number: quote them


class _Representer(RoundTripRepresenter):
    """Quotes every string that would read back as something else under the core schema."""

    def represent_str(self, data: str) -> Any:
        if (
            not _reads_as_string(data)
            or data != data.strip()
            or _YAML11_WORDS.fullmatch(data)
            or not data.isprintable()  # line breaks such as U+0085 would fold in other styles
        ):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return super().represent_str(data)

    def represent_none(self, data: None) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:null", "null")


_Representer.add_representer(str, _Representer.represent_str)
_Representer.add_representer(type(None), _Representer.represent_none)


def dump_yaml(data: JsonOut) -> str:
    """Plain data as block-style YAML 1.2 that :func:`load_yaml` reads back unchanged."""
    yaml = YAML(typ="rt", pure=True)
    yaml.Representer = _Representer
    yaml.default_flow_style = False
    yaml.width = 1_000_000
    yaml.allow_unicode = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()
