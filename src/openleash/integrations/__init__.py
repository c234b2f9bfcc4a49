"""Adapters that put OpenLeash in front of agent frameworks and protocols."""
