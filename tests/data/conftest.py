"""Fixtures for the data tests; the builders live in ``_data_fixtures`` (importable by tests)."""

from _data_fixtures import cifar, speech_commands, toycar, vww  # noqa: F401
