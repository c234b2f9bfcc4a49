"""The wire: typed models of every request and response the API documents.

The models are the contract clients are generated from (``/reference/openapi.json``). Routes
declare them with :func:`openleash.api.wire.common.operation`; bodies are read by the one body
reader in :mod:`openleash.api.http` and then validated by the model.
"""
