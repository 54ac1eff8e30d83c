"""The console: pages for people over crmsync's state (runs, companies explained, problems, the
ledger, mappings), served under `/ui/` by `crmsync serve` and alone by `crmsync ui`.

`make_console(console)` is one Starlette app: the route table, the security layer (cross-site
refusal, headers), and the gate that resolves the actor once per request (proxy header from a
trusted peer, session cookie, or the local person) and sends anyone else to the login form.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from crmsync.web.console.pages import Console, error_page
from crmsync.web.console.permissions import Forbidden
from crmsync.web.console.security import SecurityLayer
from crmsync.web.console.views import actions, companies, history, ledger, login, mappings

MAX_FORM = 2 * 1024 * 1024  # a POSTed form: a mapping file (1 MiB at most) and a few fields
OPEN = ("/login", "/static/")  # what someone not logged in may reach


def make_console(console: Console) -> Starlette:
    """The console app (mount it at `/ui`)."""
    post = {"methods": ["POST"], "max_body_size": MAX_FORM}
    routes = [
        Route("/", history.overview),
        Route("/runs", history.runs),
        Route("/runs/{run_id:int}", history.run),
        Route("/companies", companies.companies),
        Route("/companies/{company_id}", companies.company),
        Route("/problems", ledger.problems),
        Route("/owned", ledger.owned),
        Route("/owned.csv", ledger.owned_csv),
        Route("/mappings", mappings.mappings),
        Route("/mappings/check", mappings.check, **post),  # type: ignore[arg-type]
        Route("/mappings/download", mappings.download, **post),  # type: ignore[arg-type]
        Route("/actions/{kind}", actions.confirm, methods=["GET"]),
        Route("/actions/{kind}", actions.act, **post),  # type: ignore[arg-type]
        Route("/login", login.login_form, methods=["GET"]),
        Route("/login", login.login, **post),  # type: ignore[arg-type]
        Route("/logout", login.logout_form, methods=["GET"]),
        Route("/logout", login.logout, **post),  # type: ignore[arg-type]
        Mount("/static", StaticFiles(packages=[("crmsync.web.console", "static")]), name="static"),
    ]
    layers = [Middleware(SecurityLayer), Middleware(Gate, console=console)]  # outermost first
    app = Starlette(routes=routes, middleware=layers, exception_handlers={Forbidden: _forbidden, 404: _not_found})
    app.state.console = console
    return app


class Gate:
    """Resolves the actor once (into `scope["actor"]`); someone unknown is sent to the login form
    (a GET) or refused (anything else), except for the login form and the static files."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app, self.console = app, console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        actor = self.console.identity.actor(request)
        scope["actor"] = actor
        path = scope["path"][len(scope.get("root_path", "")) :] or "/"
        if actor is None and not path.startswith(OPEN):
            base = str(scope.get("root_path", "")).rstrip("/")
            if scope["method"] in ("GET", "HEAD") and self.console.identity.token_login:
                response: Response = RedirectResponse(f"{base}/login?next={path}", status_code=303)
            else:
                response = Response("Log in first (the console needs a login token or the SSO proxy's header).",
                                    status_code=401 if self.console.identity.token_login else 403)  # fmt: skip
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _forbidden(request: Request, exc: Exception) -> Response:
    what = exc.action.value if isinstance(exc, Forbidden) else "this"
    return error_page(request, 403, "Not allowed", f"Only an operator may {what}. You can read every page as a viewer.")


async def _not_found(request: Request, _exc: Exception) -> Response:
    return error_page(request, 404, "Not found", "There is no such page in the console.")


__all__ = ["Console", "make_console"]
