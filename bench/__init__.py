"""Benchmarks that print figures (they are not tests): run them with `python -m bench.<name>`."""
