"""The OpenAPI document (flashsale/api/openapi.json) and the server agree.

The routes of the app are the document's paths; /openapi.json serves the
document; and schemathesis, against a real server, finds no 5xx, no status
code, content type or body the document does not name.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import falcon.asgi
import falcon.inspect
import jsonschema_rs
import jwt
import pytest
import requests

from flashsale.allocator.client import AllocatorClient
from flashsale.api.client_address import ClientAddress
from flashsale.api.events import EVENTS_PATH
from flashsale.api.guard import PurchaseGuard
from flashsale.api.identity import OpenIdentity
from flashsale.api.openapi import OPENAPI_PATH, openapi_document
from flashsale.api.problems import PROBLEMS
from flashsale.app import AppDeps, create_app
from flashsale.breaker import CircuitBreaker
from flashsale.config import Settings
from flashsale.journal import JournalReader
from flashsale.journal_sales import SalesReader
from flashsale.lookups import OrderLookups
from flashsale.metrics import MetricsRecorder
from flashsale.observe import ServerView
from flashsale.outcomes import REPORTED_OUTCOMES, Outcome
from flashsale.ratelimit import RateLimiter
from flashsale.shm.breaker_board import BreakerBoard
from flashsale.shm.file_lock import RangeLocks
from flashsale.shm.rate_table import NUM_STRIPES, RateTable
from flashsale.shm.sale_board import SaleBoard
from flashsale.shm.slots import ProcessSlots
from flashsale.shm.store_board import StoreBoard
from tests.support.command_line import command_line
from tests.support.openapi_schema import schema_problems
from tests.support.sse import open_stream

ADMIN_TOKEN = "schemathesis-admin-token"
OPERATOR_TOKEN = "schemathesis-operator-token"
JWT_SECRET = "schemathesis-jwt-secret-of-32-characters"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Schemathesis' whole budget; the run stops there, whatever phase it is in.
FUZZ_BUDGET_S = 45  # per mode: open and jwt
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


# The fuzzer pauses the sale (PATCH): a purchase is then refused by design with 503
# `sale-paused` (Retry-After, outcome `paused`), which is the document's, not a server error.
PAUSED_503 = (
    '[[operations]]\ninclude-name = "POST /flash-sale/purchase"\n'
    'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]\n'
)


def _document() -> dict:
    return json.loads(openapi_document())


def _app_paths(tmp_path: Path) -> set[str]:
    """The paths the app answers: Falcon's routes (not the UI sink) and the event stream.

    The app is wired as a worker wires it (flashsale.lifecycle.worker_app), from
    real parts that are not started: nothing here connects or serves."""
    settings = Settings.from_env({"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN})
    board, slots, store_board = SaleBoard(), ProcessSlots(), StoreBoard()
    view = ServerView(settings, board, slots, store_board)
    breaker = CircuitBreaker(
        BreakerBoard(),
        RangeLocks(tmp_path / "breaker.lock", 1),
        settings.breaker,
        allocator_silence_s=board.heartbeat_age_s,
        failures_since=lambda since, window: 0,
        store_failing=store_board.failing,
    )
    deps = AppDeps(
        view=view,
        allocator=AllocatorClient(
            str(tmp_path / "allocator.sock"),
            b"unused",
            slot=None,
            reply_timeout_s=settings.reply_timeout_s,
            commit_budget_s=settings.commit_budget_s,
        ),
        lookups=OrderLookups(JournalReader(tmp_path / "journal.db")),
        sales=SalesReader(tmp_path / "journal.db"),
        recorder=MetricsRecorder(None),
        identity=OpenIdentity(),
        auth_failures=RateLimiter(RateTable(64), RangeLocks(tmp_path / "auth.lock", NUM_STRIPES)),
        guard=PurchaseGuard(
            settings=settings,
            limiter=RateLimiter(RateTable(64), RangeLocks(tmp_path / "rates.lock", NUM_STRIPES)),
            breaker=breaker,
            queue_depth=view.queue_depth,
            addresses=ClientAddress(settings.forwarded_allow_ips),
            store=store_board,
        ),
    )
    streams = create_app(deps)
    assert isinstance(streams.app, falcon.asgi.App)  # what the event streams stand before
    routes = {route.path for route in falcon.inspect.inspect_routes(streams.app)}
    return routes | {EVENTS_PATH}


def test_the_documents_paths_are_the_apps_routes(tmp_path):
    paths = _app_paths(tmp_path)
    assert set(_document()["paths"]) == paths
    assert {OPENAPI_PATH, EVENTS_PATH} <= paths


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(document: dict, ref: str) -> object:
    assert ref.startswith("#/"), ref
    node: object = document
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"unresolved {ref}"
        node = node[part]
    return node


def _check_openapi_31_basics(document: dict) -> None:
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    schemes = document["components"]["securitySchemes"]
    for path, item in document["paths"].items():
        assert path.startswith("/"), path
        templated = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            if method not in METHODS:
                assert method in {"summary", "description", "parameters"}, (path, method)
                continue
            declared = {
                param["name"]
                for param in operation.get("parameters", [])
                if param.get("in") == "path" and param.get("required") is True
            }
            assert declared == templated, (path, method)
            assert operation["responses"], (path, method)
            for code in operation["responses"]:
                assert re.fullmatch(r"[1-5]\d\d", code), (path, method, code)
            for requirement in operation.get("security", []):
                assert set(requirement) <= set(schemes), (path, method)
    for ref in _refs(document):
        _resolve(document, ref)


def _responses(document: dict) -> list[tuple[str, dict]]:
    """Every response of every operation, its reference resolved, named for messages."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for code, response in operation["responses"].items():
                while "$ref" in response:
                    response = _resolve(document, response["$ref"])
                found.append((f"{method.upper()} {path} {code}", response))
    return found


def test_every_answer_with_a_body_has_examples_that_match_its_schema():
    document = _document()
    problems = []
    for name, response in _responses(document):
        for media_type, media in response.get("content", {}).items():
            examples = (
                [media["example"]]
                if "example" in media
                else [each["value"] for each in media.get("examples", {}).values()]
            )
            if not examples:
                problems.append(f"{name} {media_type}: no example")
            validator = jsonschema_rs.Draft202012Validator(
                {**media["schema"], "components": document["components"]}
            )
            problems += [
                f"{name} {media_type}: {error.message}"
                for example in examples
                for error in validator.iter_errors(example)
            ]
    assert problems == []


def test_the_document_names_its_servers_tags_and_license_and_every_problem_type():
    document = _document()
    assert document["servers"] == [
        {"url": "/", "description": document["servers"][0]["description"]}
    ]
    assert document["info"]["license"] == {"name": "Apache-2.0", "identifier": "Apache-2.0"}
    assert document["info"]["version"] == version("flashsale")  # as flashsale_build_info says
    declared = {tag["name"] for tag in document["tags"]}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                assert operation["tags"] and set(operation["tags"]) <= declared, (path, method)
    problem_types = document["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
    assert problem_types == [problem.uri for problem in PROBLEMS]
    outcomes = document["components"]["schemas"]["Outcome"]["enum"]
    assert outcomes == [
        outcome.word for outcome in REPORTED_OUTCOMES if outcome is not Outcome.INVALID
    ]


def test_openapi_json_is_served_and_is_openapi_31(start_server):
    server = start_server(workers=1)
    answer = requests.get(f"{server.url}{OPENAPI_PATH}", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-cache"
    assert answer.content == openapi_document()
    _check_openapi_31_basics(answer.json())


def test_the_answers_the_ui_reads_match_the_schemas_its_types_come_from(start_server):
    """webui/src/lib/types.ts aliases these schemas: each answer the shop and the dashboard
    read, as a real server sends it, matches the schema the UI is typed by. The event
    stream, which schemathesis leaves out, included."""
    server = start_server(workers=1, env={"FLASHSALE_OPERATOR_TOKEN": OPERATOR_TOKEN})
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    stream = open_stream(server.url)
    try:
        pushed = stream.next_status()
    finally:
        stream.close()
    bought = requests.post(
        f"{server.url}/flash-sale/purchase", json={"userId": "typed-buyer"}, timeout=10
    )
    assert bought.status_code == 201, bought.text
    answers = {
        "Status": [pushed, requests.get(f"{server.url}/flash-sale/status", timeout=5).json()],
        "PurchaseConfirmed": [bought.json()],
        "Lookup": [requests.get(f"{server.url}/flash-sale/purchase/typed-buyer", timeout=5).json()],
        "Metrics": [
            requests.get(f"{server.url}/flash-sale/metrics", headers=operator, timeout=5).json()
        ],
        "Health": [
            requests.get(f"{server.url}/flash-sale/health", headers=operator, timeout=5).json(),
            requests.get(f"{server.url}/flash-sale/health", timeout=5).json(),  # status alone
        ],
    }
    problems = [
        (name, found)
        for name, bodies in answers.items()
        for body in bodies
        if (found := schema_problems(body, name))
    ]
    assert problems == []


@pytest.mark.parametrize("auth", ["open", "jwt"])
def test_schemathesis_finds_the_server_and_the_document_agree(
    start_server, tmp_path: Path, auth: str
):
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN, "FLASHSALE_OPERATOR_TOKEN": OPERATOR_TOKEN}
    auth_config = ""
    if auth == "jwt":  # the shopper endpoints with a valid token of one shopper
        env |= {"FLASHSALE_AUTH": "jwt", "FLASHSALE_JWT_SECRET": JWT_SECRET}
        token = jwt.encode(
            {"sub": "schemathesis", "exp": int(time.time()) + 3600}, JWT_SECRET, algorithm="HS256"
        )
        auth_config = f'[auth.openapi.shopperToken]\nbearer = "{token}"\n'
    server = start_server(workers=2, env=env)
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[auth.openapi.adminToken]\nbearer = "{ADMIN_TOKEN}"\n'
        f'[auth.openapi.operatorToken]\nbearer = "{OPERATOR_TOKEN}"\n' + auth_config + PAUSED_503
    )
    st = str(Path(sys.executable).with_name("st"))
    options = {
        "--checks": ",".join(CHECKS),
        "--mode": "all",  # positive and negative data
        "--exclude-path": EVENTS_PATH,  # a stream that never ends
        "--max-time": FUZZ_BUDGET_S,
        "--max-examples": 50,
        "--request-timeout": 10,
        "--continue-on-failure": None,
        "--generation-database": "none",
        "--seed": 20261201,
    }
    command = command_line(
        [st, "--config-file", str(config), "--no-color", "run", f"{server.url}{OPENAPI_PATH}"],
        options,
    )
    started = time.monotonic()
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=FUZZ_BUDGET_S + 60, cwd=tmp_path
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"{output[-20000:]}\n--- server log ---\n{server.log()}"
    operations = sum(method in METHODS for item in _document()["paths"].values() for method in item)
    # All but the event stream and /openapi.json, which schemathesis leaves out when it
    # loaded the document from there (the test above checks it).
    assert f"Tested: {operations - 2}" in output, output[-5000:]
    assert time.monotonic() - started < FUZZ_BUDGET_S + 30
