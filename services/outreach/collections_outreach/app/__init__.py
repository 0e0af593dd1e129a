"""Outreach's handlers: load an account's snapshot, decide with the domain, record and publish."""
