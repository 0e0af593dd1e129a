"""Delinquency's domain: dpd, buckets and what a close or a balance change publishes (pure, no I/O)."""
