"""serve's limits on hostile input come from `[web]` of the TOML file, and reach the endpoints and
uvicorn: a tighter file tightens the live app (over real HTTP); no file keeps the code's defaults."""

from __future__ import annotations

import json
from pathlib import Path

from crmsync.settings import load_settings
from crmsync.settings_groups import WebSettings
from crmsync.web.limits import uvicorn_limits
from crmsync.web.webhooks import Ingress
from tests.serve.databases import intake_database
from tests.serve.signing import outbound_message
from tests.web.conftest import HUBSPOT_SECRET, OPS_TOKEN, ORG, SCHEMATIC_SECRET, serving

TIGHT = """\
[web]
body_timeout = 2.5
max_slow_bodies = 3
keep_alive = 7
max_connections = 500
max_json_depth = 4
max_notifications = 5
notifications_per_minute = 600
failed_tokens_per_minute = 2
"""


def tight_settings(tmp_path: Path) -> WebSettings:
    """The web settings of a config file with TIGHT limits and every endpoint's secret set."""
    path = tmp_path / "crmsync.toml"
    path.write_text(TIGHT)
    env = {
        "CRMSYNC_CONFIG": str(path),
        "HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
        "SCHEMATIC_WEBHOOK_SECRET": SCHEMATIC_SECRET,
        "SALESFORCE_ORGANIZATION_ID": ORG,
        "CRMSYNC_OPS_TOKEN": OPS_TOKEN,
    }
    return load_settings(env).web


def test_without_a_web_table_the_limits_are_the_defaults(tmp_path: Path) -> None:
    """No `[web]` (or no file at all): the limits the code has always had."""
    path = tmp_path / "crmsync.toml"
    path.write_text("[serve]\npoll_interval = 30\n")
    for web in (load_settings({"CRMSYNC_CONFIG": str(path)}).web, load_settings({}).web):
        assert web == WebSettings()
        assert (web.body_timeout, web.max_slow_bodies, web.max_notifications) == (10.0, 64, 100)
        assert (web.notifications_per_minute, web.failed_tokens_per_minute, web.max_json_depth) == (2000.0, 10.0, 32)


def test_the_web_table_sets_each_limit_with_its_type(tmp_path: Path) -> None:
    """Every key of TIGHT lands on its WebSettings field, counts as ints; the secrets stay the environment's."""
    web = tight_settings(tmp_path)
    assert (web.body_timeout, web.max_slow_bodies, web.keep_alive, web.max_connections) == (2.5, 3, 7, 500)
    assert (web.max_json_depth, web.max_notifications) == (4, 5)
    assert (web.notifications_per_minute, web.failed_tokens_per_minute) == (600.0, 2.0)
    assert isinstance(web.max_slow_bodies, int) and isinstance(web.notifications_per_minute, float)
    assert web.ops_token == OPS_TOKEN and web.max_body == WebSettings().max_body


def test_the_body_deadline_and_caps_reach_the_reader_and_uvicorn(tmp_path: Path) -> None:
    """body_timeout and max_slow_bodies bound the body reader; keep_alive and max_connections uvicorn."""
    web = tight_settings(tmp_path)
    with intake_database("sqlite", tmp_path) as (_store, intake):
        ingress = Ingress(intake, web)
    assert (ingress.bodies.timeout, ingress.bodies.max_in_flight) == (2.5, 3)
    limits = uvicorn_limits(web)
    assert limits["timeout_keep_alive"] == 7 and limits["limit_concurrency"] <= 500


def test_a_tighter_file_tightens_the_live_endpoints(tmp_path: Path) -> None:
    """Over real HTTP: 6 notifications past a cap of 5, JSON 5 deep past 4, and the 3rd token try past 2 a minute."""
    with serving(tmp_path, tight_settings(tmp_path)) as served:
        many = outbound_message(ORG, [(f"04l{n:015d}", f"006{n:015d}", None) for n in range(6)])
        answer = served.client.post("/webhooks/salesforce", content=many, headers={"content-type": "text/xml"})
        assert answer.status_code == 400 and "at most 5" in answer.json()["error"]
        auth = {"authorization": f"Bearer {OPS_TOKEN}"}
        deep = json.dumps({"companies": ["comp_1"], "x": [[[[1]]]]}).encode()
        answer = served.client.post("/reconcile", content=deep, headers=auth)
        assert answer.status_code == 400 and "at most 4" in answer.json()["error"]
        wrong = [served.client.post("/reconcile", headers={"authorization": f"Bearer guess{n}"}) for n in range(2)]
        assert [a.status_code for a in wrong] == [401, 401]
        assert served.client.post("/reconcile", headers=auth).status_code == 429
        assert served.stored() == 0 and served.intake.depth().companies == 0
