"""The ledger's domain: an account's money as a pure fold over its dues, payments, reversals, waivers."""
