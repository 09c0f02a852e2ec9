"""The migcompat CLI: one cliff command per verb."""
