"""The HTTP face of ``trapline serve``: the CyberTrace-compatible lookup API, health, metrics.

    context = AppContext(lookup_many=matcher.lookup_many, authenticate_basic=check)
    app = create_app(context)                      # any ASGI server, or tests
    server = await start_http(settings, context)   # inside a worker: shared port, TLS
    await server.stop()

docs/http-api.md describes the routes, their answers and errors, limits and TLS.
"""

from trapline.service.http.app import create_app
from trapline.service.http.auth import refuse_everyone
from trapline.service.http.context import AppContext, Principal
from trapline.service.http.errors import ApiError
from trapline.service.http.serve import HttpServer, start_http
from trapline.service.http.tls import tls_files

__all__ = ["ApiError", "AppContext", "HttpServer", "Principal", "create_app",
           "refuse_everyone", "start_http", "tls_files"]
