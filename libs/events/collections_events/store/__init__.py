"""Each service's own store: event table, outbox, inbox, snapshots (architecture.md, Layers)."""
