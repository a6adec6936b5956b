"""Prometheus metrics of the Socket.IO side (the process's default registry, served by /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SOCKETS_CONNECTED = Gauge("drape_sockets_connected", "Socket.IO clients connected")
SOCKET_EVENTS = Counter(
    "drape_socket_events_total", "Socket.IO events received", ["event", "outcome"]
)
SOCKET_DELIVERIES = Counter(
    "drape_socket_deliveries_total",
    "Socket.IO broadcast deliveries, written directly or through the socket's queue",
    ["path"],
)
