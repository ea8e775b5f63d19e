"""Live updates through the gateway: caseUpdated and activityUpdated over graphql-transport-ws, fed from NATS,
each subscriber seeing only its own jurisdiction's subtree."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from dudao_cli.servers import free_port
from gateway.app import build as build_gateway
from services.accountability.app import build as build_accountability
from services.inspection.app import build as build_inspection
from services.registry.app import build as build_registry
from tests.conftest import eventually
from tests.factories import activity, open_case, ready

pytestmark = pytest.mark.integration

ACTIVITY_UPDATES = "subscription($j: String) { activityUpdated(jurisdiction: $j) { activityId event at jurisdiction { code } activity { title } } }"
CASE_UPDATES = "subscription { caseUpdated { caseId event jurisdiction { code } case { unitName } } }"


class Subscriber:
    """A graphql-transport-ws client holding one subscription."""

    def __init__(self, gateway, token: str | None, *, header_token: str | None = None):
        headers = {"Authorization": f"Bearer {header_token}"} if header_token else None
        self.ws: ClientConnection = connect(
            f"ws://127.0.0.1:{gateway.port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
            additional_headers=headers,
            open_timeout=10,
        )
        init = {"Authorization": f"Bearer {token}"} if token else {}
        self.ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert self.receive()["type"] == "connection_ack"

    def subscribe(self, query: str, **variables) -> Subscriber:
        self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
        return self

    def receive(self, timeout: float = 10) -> dict:
        while True:
            message = json.loads(self.ws.recv(timeout=timeout))
            if message["type"] == "ping":
                self.ws.send(json.dumps({"type": "pong"}))
                continue
            return message

    def next(self, timeout: float = 30) -> dict:
        """The next update's data; fails on an error or after `timeout` seconds (generous: the first update after the
        gateway starts waits for its first calls to the services, slow on a loaded 2-core machine)."""
        message = self.receive(timeout)
        assert message["type"] == "next" and not message["payload"].get("errors"), message
        return message["payload"]["data"]

    def errors(self) -> list[dict]:
        message = self.receive()
        assert message["type"] in ("next", "error"), message
        return message["payload"]["errors"] if message["type"] == "next" else message["payload"]

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def subscriber(serve) -> Iterator[Callable[..., Subscriber]]:
    """Opens graphql-transport-ws connections to a gateway; all are closed after the test, before the gateway stops."""
    opened: list[Subscriber] = []

    def open_(gateway, token: str | None, *, header_token: str | None = None) -> Subscriber:
        opened.append(Subscriber(gateway, token, header_token=header_token))
        return opened[-1]

    yield open_
    for subscriber in opened:
        subscriber.close()


@pytest.fixture
def chongqing(settings, serve):
    """The registry at Chongqing's instance: schools and inspectors of two of its districts."""
    return serve(build_registry(replace(settings, jurisdiction="500000")))


@pytest.fixture
def inspection(settings, serve, chongqing):
    """Inspection at Chongqing's instance: activities of two of its districts (an instance writes only inside itself)."""
    return serve(build_inspection(replace(settings, jurisdiction="500000")))


def start_gateway(settings, serve, **services):
    """The gateway in front of `services` (name=served app), once it follows NATS."""
    gateway = serve(build_gateway(replace(settings, ports=settings.ports | {k: s.port for k, s in services.items()})))
    eventually(lambda: gateway.app.state.live.following, what="the gateway to follow NATS")
    return gateway


def listening(gateway, kind: str, count: int) -> None:
    live = gateway.app.state.live  # following NATS (what is published before that is not live news) and subscribed to
    eventually(lambda: live.following and live.subscribers(kind) == count, what=f"{count} {kind} subscriber(s)")


def test_an_activity_change_reaches_a_subscriber_in_its_jurisdiction_with_the_activity(
    settings, serve, chongqing, inspection, token, subscriber
):
    school_id, leader = ready(chongqing, token, settings)
    theirs_id, _ = ready(chongqing, token, settings, "綦江区古南小学", "500110")
    planned = activity(target_id=school_id, title="青岚小学秋季经常性督导")
    with inspection.client(token()) as client:  # planned before the gateway starts: the feed never saw where it is
        location = client.post("/v1/activities", json=planned).headers["Location"]
        eventually(lambda: client.get(location).status_code == 200, what="the activity in the read model")
    gateway = start_gateway(settings, serve, inspection=inspection)
    here = subscriber(gateway, token(jur="500120")).subscribe(ACTIVITY_UPDATES)
    sibling = subscriber(gateway, token(jur="500110")).subscribe(ACTIVITY_UPDATES)
    listening(gateway, "activity", 2)

    with inspection.client(token()) as client:
        assert client.post(f"{location}/team", json={"leader_id": leader}).status_code == 200
    update = here.next()["activityUpdated"]
    assert update["activityId"] == location.rsplit("/", 1)[1] and update["event"] == "TeamAssigned" and update["at"]
    assert update["jurisdiction"] == {"code": "500120"} and update["activity"] == {"title": "青岚小学秋季经常性督导"}

    with inspection.client(token(jur="500100")) as city:  # the sibling's own activity comes next: the first it gets
        theirs = city.post(
            "/v1/activities", json=activity(jurisdiction="500110", target_id=theirs_id, title="綦江区经常性督导")
        )
        assert theirs.status_code == 201, theirs.text
    first = sibling.next()["activityUpdated"]  # a new activity: the read model may not have it yet, so no title here
    assert first["activityId"] == theirs.headers["Location"].rsplit("/", 1)[1]
    assert first["jurisdiction"] == {"code": "500110"}


def test_a_subscriber_never_gets_another_jurisdictions_activities(
    settings, serve, chongqing, inspection, token, subscriber
):
    ours, _ = ready(chongqing, token, settings)
    theirs, _ = ready(chongqing, token, settings, "綦江区古南小学", "500110")
    gateway = start_gateway(settings, serve, inspection=inspection)
    here = subscriber(gateway, token(jur="500120")).subscribe(ACTIVITY_UPDATES)
    sibling = subscriber(gateway, token(jur="500110")).subscribe(ACTIVITY_UPDATES)
    city = subscriber(gateway, token(jur="500100")).subscribe(ACTIVITY_UPDATES, j="500120")
    listening(gateway, "activity", 3)

    with inspection.client(token(jur="500100")) as client:
        for body in (
            activity(target_id=ours, title="璧山区专项督导"),
            activity(jurisdiction="500110", target_id=theirs),
        ):
            assert client.post("/v1/activities", json=body).status_code == 201
    assert here.next()["activityUpdated"]["jurisdiction"] == {"code": "500120"}
    assert city.next()["activityUpdated"]["jurisdiction"] == {"code": "500120"}  # asked for 500120 only
    first = sibling.next()["activityUpdated"]  # 500120's activity came first on NATS; had it leaked, it would be here
    assert first["jurisdiction"] == {"code": "500110"} and first["event"] == "Planned"
    for subscriber in (here, sibling, city):
        subscriber.close()
    listening(gateway, "activity", 0)


def test_a_case_change_reaches_a_subscriber_with_the_case(settings, registry, serve, token, subscriber):
    accountability = serve(build_accountability(settings))
    gateway = start_gateway(settings, serve, accountability=accountability)
    case = open_case(settings, serve, token, registry, accountability, target_name="璧山区南门小学")
    watcher = subscriber(gateway, token()).subscribe(CASE_UPDATES)
    listening(gateway, "case", 1)

    with accountability.client(token()) as office:
        given = office.post(
            f"/v1/cases/{case['id']}/feedback",
            json={"mode": "written", "decision": "限期整改", "requirements": "清理", "given_on": "2026-11-01"},
        )
        assert given.status_code == 200, given.text
    update = watcher.next()["caseUpdated"]
    assert update == {
        "caseId": case["id"],
        "event": "FeedbackGiven",
        "jurisdiction": {"code": "500120"},
        "case": {"unitName": "璧山区南门小学"},
    }


def test_a_jurisdiction_outside_the_callers_or_a_missing_token_is_an_error(settings, serve, token, subscriber):
    gateway = start_gateway(settings, serve)

    outside = subscriber(gateway, token(jur="500120")).subscribe(ACTIVITY_UPDATES, j="500110").errors()
    assert outside[0]["extensions"]["rule"] == "out_of_scope" and outside[0]["extensions"]["status"] == 403
    anonymous = subscriber(gateway, None).subscribe(CASE_UPDATES).errors()
    assert anonymous[0]["extensions"]["status"] == 401 and anonymous[0]["extensions"]["rule"] == "unauthenticated"
    forged = subscriber(gateway, "not-a-token").subscribe(CASE_UPDATES).errors()
    assert forged[0]["extensions"]["status"] == 401 and forged[0]["extensions"]["rule"] == "token_invalid"
    # The upgrade request's header is the other place a token may come from: this one is read, and is for 500120.
    by_header = subscriber(gateway, None, header_token=token(jur="500120")).subscribe(ACTIVITY_UPDATES, j="500110")
    assert by_header.errors()[0]["extensions"]["rule"] == "out_of_scope"


def test_the_gateway_starts_and_answers_queries_without_nats(settings, serve):
    gateway = serve(build_gateway(replace(settings, nats_url=f"nats://127.0.0.1:{free_port()}")))
    with gateway.client() as client:
        assert client.get("/healthz").status_code == 200
        answer = client.post("/graphql", json={"query": '{ jurisdiction(code: "500120") { name } }'}).json()
    assert answer == {"data": {"jurisdiction": {"name": "璧山区"}}} and not gateway.app.state.live.following
    gateway.__exit__(None, None, None)
    assert not gateway.thread.is_alive()  # shutting down does not wait for NATS either
