"""`collections whatif`: one input replayed under several configurations, compared (issue 17)."""
