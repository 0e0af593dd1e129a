"""What every service runs: its definition, the handling of deliveries, and the outbox relay."""
