"""The local mirror of every Cloud account's conversations (written by apps.sync)."""
