"""The local mirror of every Cloud account's sandboxes (written by apps.sync)."""
