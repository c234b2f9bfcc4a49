"""Hostile inputs: bodies, path segments, query strings and headers.

Bodies mix random JSON of random shapes (keyed, often, by the field names the API documents),
deep nesting (up to 1,000 levels), lone surrogates (escaped and as raw bytes), 5,000-digit
integers (also inside policy YAML), huge strings, UTF-16 and BOM-prefixed JSON, forms, raw
bytes and nothing at all, sent under right and wrong content types.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

#: Field names the API reads, in bodies and forms (and a few it must ignore).
FIELDS = (
    "action", "action_id", "action_type", "agent_attributes_json", "agent_id",
    "agent_principal_id", "amount_minor", "applies_to_agent_principal_id", "approval_request_id",
    "approval_token", "challenge_id", "code", "confirm", "context", "csrf_token", "currency",
    "decision_id", "description", "display_name", "domain", "evaluations",
    "evaluations_semantic", "expected_action_hash", "expected_agent_id", "id", "invite_id",
    "invite_token", "justification", "merchant_domain", "mode", "name", "options",
    "ordered_policy_ids", "owner_id", "owner_type", "passphrase", "payload", "policy_id",
    "policy_yaml", "principal", "principal_id", "properties", "proof_token", "public_key_b64",
    "reason", "relying_party", "requested_at", "resource", "returnTo", "signature_b64",
    "status", "subject", "target", "tier", "token", "totp_code", "trust_profile", "type",
    "user_principal_id", "yaml", "__proto__", "constructor",
)  # fmt: skip
#: Query parameter names the routes read, and some they do not.
QUERY = (
    "status", "limit", "cursor", "owner_id", "agent_id", "since", "event_type", "returnTo",
    "done", "before", "after", "type", "q", "offset", "page", "format", "__proto__",
)  # fmt: skip
CONTENT_TYPES = (
    "application/json", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz", "application/json; charset=utf-16",
    "application/json; charset=latin-1", "application/JSON", "application/problem+json",
    "*/*", "", "application/json;;;", "text/html", "application/octet-stream",
)  # fmt: skip

HUGE_INT = "9" * 5000
DEEP = 1000
LONE_SURROGATES = ("\ud800", "\udfff", "a\udc00b", "\ud83d")


def _deep_json(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


#: A valid action, for the bodies that must carry one to get as far as their policy.
_ACTION = {
    "action_id": "00000000-0000-4000-8000-000000000001",
    "action_type": "purchase",
    "requested_at": "2026-01-01T00:00:00.000Z",
    "principal": {"agent_id": "agent-1"},
    "subject": {"principal_id": "00000000-0000-4000-8000-000000000002"},
    "payload": {"amount_minor": 1},
}
_HUGE_YAML = (
    "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: purchase\n"
)

#: Bodies known to have broken JSON services, each tried on every route.
SAMPLES: tuple[bytes, ...] = (
    b"",
    b"null",
    b"{}",
    b"[]",
    b'"text"',
    b"{",
    HUGE_INT.encode(),
    b"-" + HUGE_INT.encode(),
    b"1e999999",
    b"NaN",
    b'{"amount_minor":' + HUGE_INT.encode() + b"}",
    b'{"payload":{"amount_minor":-' + HUGE_INT.encode() + b'},"limit":' + HUGE_INT.encode() + b"}",
    b'{"ordered_policy_ids":[' + HUGE_INT.encode() + b"]}",
    _deep_json(DEEP, "array").encode(),
    _deep_json(DEEP, "object").encode(),
    _deep_json(DEEP - 1, "array").encode(),
    ('{"payload":' + _deep_json(DEEP, "object") + "}").encode(),
    ('{"action":' + _deep_json(DEEP, "array") + "}").encode(),
    b'{"action_type":"\\ud800"}',
    b'{"name":"\\udfff","payload":{"\\ud800":1}}',
    b'{"name":"\xed\xa0\x80"}',
    b'{"a":1,"a":2}',
    b"\xef\xbb\xbf{}",
    json.dumps({"name": "x"}).encode("utf-16"),
    json.dumps({"policy_yaml": "version: 1"}).encode("utf-16-le"),
    b'{"policy_yaml":"version: 1\\ndefault: deny\\nrules: []\\nx: ' + HUGE_INT.encode() + b'"}',
    b'{"policy_yaml":"version: ' + HUGE_INT.encode() + b'\\ndefault: deny\\nrules: []"}',
    b'{"yaml":"' + b"[" * DEEP + b'"}',
    json.dumps(
        {
            "policy_yaml": _HUGE_YAML + "    constraints: { amount_max: " + HUGE_INT + " }\n",
            "action": _ACTION,
        }
    ).encode(),
    json.dumps({"policy_yaml": "version: " + HUGE_INT, "action": _ACTION}).encode(),
    b'{"policy_yaml":"' + b"a: " * DEEP + b'1"}',
    b'{"evaluations":' + json.dumps([{}] * 101).encode() + b"}",
    b"\x00\x01\x02\xff",
    b"a=1&b=2&csrf_token=x",
    b"x" * ((1 << 20) + 1),
)

_text = st.text(max_size=40)
_hostile_text = st.one_of(
    _text,
    st.sampled_from(LONE_SURROGATES),
    st.sampled_from(("", " ", "\x00", "../..", "%00", "null", "true", "-1", "1e309", HUGE_INT)),
    st.integers(min_value=1000, max_value=200_000).map(lambda n: "x" * n),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    # Beyond 4,300 digits Python will not print them (hypothesis does); SAMPLES go to 5,000.
    st.integers(min_value=10**4000, max_value=10**4200),
    st.floats(allow_nan=False, allow_infinity=False),
    _hostile_text,
)
_keys = st.one_of(st.sampled_from(FIELDS), _text)


def _json_values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5), st.dictionaries(_keys, inner, max_size=6)
        ),
        max_leaves=20,
    )


def _documented_objects() -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the API's field names, each holding anything."""
    return st.dictionaries(st.sampled_from(FIELDS), _json_values(_scalars), max_size=8)


def _encode(value: Any, how: str) -> bytes:
    if how == "ascii":  # lone surrogates become \\ud800 escapes
        return json.dumps(value, ensure_ascii=True).encode()
    text = json.dumps(value, ensure_ascii=False)
    if how == "utf-8":  # lone surrogates become raw (invalid) UTF-8 bytes
        return text.encode("utf-8", "surrogatepass")
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    return text.encode(how, "surrogatepass")


def json_bodies(template: dict[str, Any] | None = None) -> st.SearchStrategy[bytes]:
    """Random JSON, as the API's own objects and as anything, in several encodings; with a
    ``template`` (a valid request body), also that body with one field replaced."""
    values: list[st.SearchStrategy[Any]] = [_documented_objects(), _json_values(_scalars)]
    if template:
        values.append(
            st.tuples(st.sampled_from(sorted(template)), _json_values(_scalars)).map(
                lambda kv: {**template, kv[0]: kv[1]}
            )
        )
    encodings = st.sampled_from(("ascii", "utf-8", "bom", "utf-16", "utf-16-le", "utf-32"))
    return st.builds(_encode, st.one_of(*values), encodings)


def forms() -> st.SearchStrategy[bytes]:
    pairs = st.lists(st.tuples(_keys, _hostile_text), max_size=8)
    return pairs.map(
        lambda items: "&".join(
            f"{quote(k.encode('utf-8', 'surrogatepass'))}="
            f"{quote(v.encode('utf-8', 'surrogatepass'))}"
            for k, v in items
        ).encode()
    )


def bodies(template: dict[str, Any] | None = None) -> st.SearchStrategy[bytes]:
    as_json = json_bodies(template)
    return st.one_of(as_json, st.sampled_from(SAMPLES), as_json, forms(), st.binary(max_size=300))


def segments(known: list[str]) -> st.SearchStrategy[bytes]:
    """One path segment, percent-encoded as a client would send it (or not quite)."""
    hostile = _hostile_text.map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe=""))
    raw = st.sampled_from(("%", "%zz", "%ff%fe", "a/b", "..", ".", "%2F", "%00", "~", "a b"))
    choices = [hostile, raw]
    if known:
        choices.insert(0, st.sampled_from(known).map(lambda k: quote(k, safe="")))
    return st.one_of(*choices).map(lambda s: s.replace(" ", "%20").encode("latin-1"))


def queries(documented: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    names = st.one_of(st.sampled_from(sorted({*documented, *QUERY})), _text)
    pair = st.tuples(names, _hostile_text).map(
        lambda kv: (
            quote(kv[0].encode("utf-8", "surrogatepass"), safe="")
            + "="
            + quote(kv[1].encode("utf-8", "surrogatepass"), safe="")
        )
    )
    raw = st.sampled_from(("&&&", "=", "a", "a=%ff", "a=%", "a=1&a=2&a=3", "x" * 10_000))
    return st.lists(st.one_of(pair, raw), max_size=5).map(lambda ps: "&".join(ps).encode())


_header_value = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
    st.binary(max_size=40).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F)),
    st.sampled_from(("", "x" * 8000, "Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "v4.public.x")),
)
ODD_HEADERS = (
    "host", "accept", "accept-encoding", "cookie", "x-request-id", "x-forwarded-for",
    "x-forwarded-host", "origin", "referer", "x-csrf-token", "authorization", "x-agent-id",
    "x-timestamp", "x-nonce", "x-body-sha256", "x-signature", "last-event-id", "user-agent",
    "transfer-encoding", "expect",
)  # fmt: skip


def odd_headers() -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    def encode(value: str | bytes) -> bytes:
        return value if isinstance(value, bytes) else value.encode("latin-1")

    pair = st.tuples(st.sampled_from(ODD_HEADERS).map(str.encode), _header_value.map(encode))
    return st.lists(pair, max_size=4)


def content_types() -> st.SearchStrategy[str | None]:
    json_type = st.just("application/json")
    return st.one_of(json_type, st.sampled_from(CONTENT_TYPES), json_type, st.none())
