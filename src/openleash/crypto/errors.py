"""What the verifiers of this package raise.

A verifier either returns (the thing is genuine) or raises :class:`NotVerifiedError`; there is
no boolean to forget to check. Callers turn the failure into the wire error their route owes.
"""

from __future__ import annotations


class NotVerifiedError(ValueError):
    """A secret, passphrase or signature that does not verify. ``reason`` is safe to show: it
    never says which byte was wrong, nor anything of the secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
