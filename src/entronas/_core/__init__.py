"""Shared kernel: values, errors, registries, seeding, validation and optional imports.

Nothing in here imports any other part of entronas.
"""
