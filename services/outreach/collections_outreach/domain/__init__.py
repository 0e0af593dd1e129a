"""Outreach's domain: episodes, steps, windows, suppression, promises, arrangements, the trail chain.

Pure functions over frozen values: no I/O, no clock, no framework (architecture.md, Layers).
"""
