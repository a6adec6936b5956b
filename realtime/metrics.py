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
BUS_CHANNELS = Gauge("drape_bus_channels", "Room channels this process is subscribed to")
BUS_GAPS = Counter(
    "drape_bus_gaps_total", "Bus connections lost or gone deaf, then subscribed again"
)
BUS_MESSAGES = Counter(
    "drape_bus_messages_total", "Messages this process received on its room and shared channels"
)
