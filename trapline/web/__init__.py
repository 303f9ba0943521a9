"""The web interface: server-rendered pages on the HTTP face of ``trapline serve``.

    pages = WebPages(context, auth)        # mounted by trapline.service.http.app
    if pages.handles(scope): await pages(scope, receive, send)

Jinja2 templates (autoescaped) and one CSS and one JS file, no build step. Every
page is an ``Operation`` of the same route table as the API, so it declares its
access rule (``trapline.service.http.operations.needs``); the page guard
(``trapline.web.guard``) signs in through the session cookie, redirects an
anonymous browser to the sign-in page, checks the form's CSRF token, and adds
the security headers (CSP, frame-ancestors from ``http.allowed_frame_hosts``)
to every answer. docs/web.md lists the pages.
"""

from trapline.web.app import WebPages, embedding_cookie_policy

__all__ = ["WebPages", "embedding_cookie_policy"]
