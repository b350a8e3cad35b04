"""GET / without Flask's request handling: the one page every visit asks for.

At the stack's 0.1 CPU per replica the page is bound by the CPU each request
costs, and Flask's request and application contexts, routing and response
object cost about as much as counting the visit itself: served by gunicorn on
one core, GET / took 0.37 ms of CPU through Flask and 0.26 ms here
(docs/performance.md, section 2). The page is the same function's
(site.counter_page), with the headers Flask gives a view's string; every
other request, HEAD / included, goes to Flask unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from . import errors
from .site import counter_page
from .state import AppState

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
HTML = "text/html; charset=utf-8"


class CounterPage:
    """WSGI middleware that answers GET / itself and passes anything else to Flask."""

    def __init__(self, app: Flask, state: AppState) -> None:
        self.app = app
        self.state = state
        self.flask: WSGIApp = app.wsgi_app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/" or environ.get("REQUEST_METHOD") != "GET":
            return self.flask(environ, start_response)
        try:
            body = counter_page(self.state).encode()
        except Exception as err:  # as Flask's handler would: logged, a JSON 500
            with self.app.app_context():
                return errors.unexpected(err)(environ, start_response)
        start_response("200 OK", [("Content-Type", HTML), ("Content-Length", str(len(body)))])
        return [body]
