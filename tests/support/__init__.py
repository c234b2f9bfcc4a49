"""Helpers shared by the test suites: a live server on loopback, actions, signed calls."""
