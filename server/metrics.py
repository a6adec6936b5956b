"""Prometheus metrics of the HTTP side (one registry per process; the Socket.IO side's are in
realtime/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "drape_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "drape_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
HTTP_IN_FLIGHT = Gauge("drape_http_requests_in_flight", "HTTP requests being served")
JOBS_ENQUEUED = Counter("drape_jobs_enqueued_total", "Background jobs enqueued", ["kind"])
RATE_LIMITED = Counter(
    "drape_rate_limited_total",
    "Actions refused by a rate limit, or let through unchecked while Redis was away",
    ["action", "scope"],  # scope: account, address, or unchecked
)
