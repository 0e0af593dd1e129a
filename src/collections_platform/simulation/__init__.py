"""The `make run` simulation: a seeded lender portfolio and channel providers, outside the services."""
