"""``GET /api/openapi.json``: an OpenAPI 3.1 document made from the route table.

Every operation of the table is described: its path and query parameters,
its body and answer schemas (``msgspec.json.schema_components`` over the
structs of ``schemas.py``), the permission it needs (``x-permission``), its
security schemes (Basic, Bearer token, session cookie) and its error answers,
all in the vendor's shape ``[{"status": "error", "reason": "..."}]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec

from trapline.service.http.errors import ErrorEntry
from trapline.service.http.operations import Operation, openapi_path
from trapline.service.http.vendor_api import VERSIONS

REF = "#/components/schemas/{name}"
ERRORS = {
    400: "Malformed request: not JSON, a wrong type (the reason names the field), a value "
         "the store refuses",
    401: "No credentials, or wrong ones (a disabled user too)",
    403: "The role lacks the permission, another tenant, or a failed CSRF check",
    404: "No such object (or tenant)",
    405: "Method not allowed",
    409: "Conflict: the name is taken, a built-in supplier, busy",
    413: "The body is over the size limit",
    429: "Too many failed logins: wait Retry-After seconds",
    503: "The store, the snapshot or the login ledger is unavailable",
}
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "version": {"type": "string", "enum": list(VERSIONS)},
    "tenant": {"type": "string", "minLength": 1, "examples": ["General"]},
}


def document(operations: Sequence[Operation], *, title: str = "trapline",
             version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``."""
    types: list[Any] = [list[ErrorEntry]]
    for op in operations:
        types += [t for t in (op.body, op.response) if t is not None]
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    by_type = {repr(t): s for t, s in zip(types, schemas, strict=True)}
    error_schema = schemas[0]
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = openapi_path(op.path)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, path, by_type,
                                                                    error_schema)
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{title} API", "version": version,
                 "description": "The CyberTrace-compatible lookup and management API and "
                                "trapline's own (docs/http-api.md). Errors are "
                                "[{\"status\": \"error\", \"reason\": \"...\"}]."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An API token, tl_..."},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "__Host-trapline_session",
                           "description": "A browser session (trapline_session over plain "
                                          "HTTP); changes also need X-CSRF-Token"},
            },
        },
    }


def _operation(op: Operation, path: str, by_type: dict[str, Any],
               error_schema: dict[str, Any]) -> dict[str, Any]:
    access = op.access
    parameters: list[dict[str, Any]] = []
    for name in re.findall(r"\{(\w+)\}", path):
        schema = PATH_PARAMS.get(name, {"type": "string", "minLength": 1})
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    declared = {p.name for p in op.query}
    if access.tenant and "tenant" not in re.findall(r"\{(\w+)\}", path) \
            and "tenant" not in declared:
        parameters.append({"name": "tenant", "in": "query", "required": False,
                           "schema": {"type": "string"},
                           "description": "act in this tenant (Administrators; an Analyst "
                                          "only their own)"})
    for param in op.query:
        parameters.append({"name": param.name, "in": "query", "required": param.required,
                           "schema": param.schema, "description": param.description})
    description = op.description
    if not access.public:
        description = (description + "\n\n" if description else "") + \
            f"Needs: {access.describe()}."
    out: dict[str, Any] = {
        "operationId": _operation_id(op.method, path),
        "summary": op.summary,
        "tags": [op.group],
        "x-permission": access.permission.value if access.permission else
        ("public" if access.public else "signed in"),
        "security": [] if access.public else
        [{"basic": []}, {"bearer": []}, *([{"cookie": []}] if access.session else [])],
        "parameters": parameters,
        "responses": _responses(op, path, by_type, error_schema),
    }
    if description:
        out["description"] = description
    if op.body is not None:
        content: dict[str, Any] = {"application/json": {"schema": by_type[repr(op.body)]}}
        if op.example is not None:
            content["application/json"]["example"] = op.example
        if op.form:
            content["application/x-www-form-urlencoded"] = {"schema": by_type[repr(op.body)]}
        out["requestBody"] = {"required": True, "content": content}
    return out


def _responses(op: Operation, path: str, by_type: dict[str, Any],
               error_schema: dict[str, Any]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "OK" if op.status < 300 else "Done"}
    if op.response is not None:
        success["content"] = {op.media_type: {"schema": by_type[repr(op.response)]}}
    elif op.media_type != "application/json":
        success["content"] = {op.media_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): success}
    if op.unavailable_body:
        responses["503"] = {**success, "description": ERRORS[503]}
    codes = set(op.errors) | ({503} if not op.unavailable_body else set())
    if op.body is not None or op.query or "{" in path:
        codes |= {400}
    if op.body is not None:
        codes.add(413)
    if not op.access.public:
        codes |= {400, 401, 403, 404, 429}
    for code in sorted(codes):
        responses[str(code)] = {"description": ERRORS[code],
                                "content": {"application/json": {"schema": error_schema}}}
    return responses


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path).strip("/").replace(".", "_").split("/")
    return method.lower() + "_" + "_".join(w.replace("-", "_") for w in words if w)
