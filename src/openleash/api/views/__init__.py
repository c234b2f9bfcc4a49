"""The JSON bodies of the routes, built from the typed results of the use cases exactly as
the wire models in :mod:`openleash.api.wire` document them (key order, null versus absent)."""
