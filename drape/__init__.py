"""Shared pieces used by every Drape process: settings, object storage, tokens, logging."""
