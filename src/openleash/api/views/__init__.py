"""The JSON bodies of the use cases' results, built exactly as the wire models in
:mod:`openleash.api.wire` document them (key order, null versus absent)."""
