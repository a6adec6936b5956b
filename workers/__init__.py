"""The arq side: background jobs computed away from the request path."""
