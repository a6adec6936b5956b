"""Every route of the HTTP API, registered in one place."""

from __future__ import annotations

from aiohttp import web

from server.routes import jobs, objects, service


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/healthz", service.healthz, name="healthz")
    r.add_get("/readyz", service.readyz, name="readyz")
    r.add_get("/metrics", service.metrics, name="metrics")
    r.add_get("/openapi.json", service.openapi, name="openapi")

    r.add_post("/objects", objects.upload, name="objects_upload")
    r.add_get("/objects/{key:.+}", objects.download, name="objects_download")

    r.add_get("/v1/jobs/{id}", jobs.get_job, name="job")

    service.setup_docs(app)
