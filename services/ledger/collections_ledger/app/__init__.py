"""The ledger's handlers: load an account's stream, decide with the domain, append and publish."""
