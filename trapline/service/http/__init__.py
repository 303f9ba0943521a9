"""The HTTP face of ``trapline serve``: the CyberTrace-compatible lookup and management
API, trapline's own API (``/api/v1``), health, metrics, the OpenAPI document.

    context = build_app_context(settings, store, matcher.lookup_many, stats, version, worker)
    app = create_app(context)                      # any ASGI server, or tests
    server = await start_http(settings, context)   # inside a worker: shared port, TLS
    await server.stop()

docs/http-api.md describes the routes, their permissions, answers and errors, limits, TLS.
"""

from trapline.service.http.app import create_app
from trapline.service.http.auth import refuse_everyone
from trapline.service.http.context import AppContext, Principal
from trapline.service.http.errors import ApiError
from trapline.service.http.serve import HttpServer, start_http
from trapline.service.http.tls import tls_files
from trapline.service.http.wiring import build_app_context

__all__ = ["ApiError", "AppContext", "HttpServer", "Principal", "build_app_context",
           "create_app", "refuse_everyone", "start_http", "tls_files"]
