"""Factor plugins; see base.py for the API."""
