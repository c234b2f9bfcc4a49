"""Hand-written wire formats: PASETO v4.public and RFC 8785 / ``JSON.stringify`` JSON.

Everything here could come from a library (``pyseto`` for PASETO, ``rfc8785`` for canonical
JSON), and the runtime deliberately does not use them:

* **Speed.** Both run on every request. Signing and verifying straight on Ed25519, and
  serializing through orjson with a general path only for what orjson cannot write exactly, is
  measurably faster than the libraries' general code.
* **Byte-exact compatibility.** Action hashes, body hashes and token payloads are compared byte
  for byte with what the TypeScript OpenLeash and its SDKs produce. That means JavaScript's
  number printing for every double (``rfc8785`` refuses integers beyond 2^53, which JavaScript
  turns into doubles), no footer and no implicit assertion in tokens, and claims written in
  exactly the order given.
* **Small.** Each module is one idea in a few dozen lines, kept in one place so it can be read
  and audited as a whole.

Because it is hand-written it is checked from outside: the official test vectors
(``tests/vectors``) and property tests that compare random claims and random JSON with
``pyseto`` and ``rfc8785`` byte for byte (``tests/unit/crypto``). Those two libraries are
development dependencies only; nothing under ``src/`` imports them.

Outside :mod:`openleash.crypto`, use the names :mod:`openleash.crypto` exports, never these
modules (an import-linter contract keeps it so).

* :mod:`~openleash.crypto.hazmat.paseto`: v4.public sign and verify of raw payload bytes.
* :mod:`~openleash.crypto.hazmat.canonical`: canonical JSON, compact JSON and the action hash,
  with the orjson fast path.
* :mod:`~openleash.crypto.hazmat.jsjson`: the general path, JavaScript's serializer exactly.
"""
