"""`schedsight serve-api`: the HTTP API for portals (`api/`), over the live cluster and the
store. Wiring only: settings give the token, the trusted user header and the admins;
`schedsight.live` answers the questions. Binds to localhost unless told otherwise."""

from __future__ import annotations

import argparse
import sys

from schedsight.arguments import MAX_ID, int_in
from schedsight.wiring import wiring_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve-api", help="the HTTP API for portals (read-only)")
    p.add_argument("--host", help="bind address (default: SCHEDSIGHT_BIND_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int_in(1, 65535),
                   help="port (default: SCHEDSIGHT_API_PORT, 8742)")  # fmt: skip
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="serve without SCHEDSIGHT_API_TOKEN (a loopback address only)",
    )
    p.add_argument("--workload", type=int_in(1, MAX_ID),
                   help="learn from this stored workload (default: the newest)")  # fmt: skip
    p.set_defaults(run=cmd_serve_api)


def cmd_serve_api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.auth import ApiAuth, check_exposure

    wiring = wiring_of(args)
    s = wiring.settings
    host, port = args.host or s.bind_host, args.port or s.api_port
    auth = ApiAuth(
        token=s.api_token.get_secret_value() or None,
        user_header=s.api_user_header or None,
        admins=frozenset(s.api_admins),
    )
    check_exposure(host, auth, no_auth=args.no_auth)
    store = wiring.open_store()
    app = create_app(
        wiring.live_source(workload_id=args.workload, store=store, asked_by="api"), store, auth
    )
    who = f"identity from the {auth.user_header} header" if auth.user_header else "no identity"
    print(
        f"schedsight: portal API on http://{host}:{port} ({'token' if auth.token else 'no'} "
        f"auth, {who}); OpenAPI at /openapi.json",
        file=sys.stderr,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
