"""Decision 047's rules without servers: which answers the gateway keeps, and when one kept is answered from memory.
The app behind it and the services' marks are stand-ins; tests/integration/test_gateway_remembered.py has the real."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from types import SimpleNamespace

import pytest
import strawberry

from dudao.callers import Principal
from dudao.clock import Clock
from dudao.errors import Unauthorized
from dudao.remembered import Remembrance, remembered_over
from gateway import remembered
from gateway.remembered import LIFETIME_S, RememberedAnswers, may_remember

PAGE = '{ dashboard(jurisdiction: "500120") { month staffing { schools } } }'


class Verifier:
    def verify(self, token: str) -> Principal:
        if token != "good":
            raise Unauthorized("bad token")
        return Principal(sub="office", roles=frozenset({"admin"}), jur="500120")


class Marks:
    """The services' marks as a test sets them; `asked` counts the questions."""

    def __init__(self) -> None:
        self.marks = {"registry": {"directory": "m1"}, "inspection": {"views": "v1"}}
        self.today = "2026-11-20"
        self.asked = 0

    async def now(self, services: list[str]):
        self.asked += 1
        return {s: {"marks": dict(self.marks.get(s, {})), "today": self.today} for s in services}


class App:
    """The gateway's app as far as the middleware sees it: it calls services (says what each answer came from) and
    answers `errors` when told to."""

    def __init__(self) -> None:
        self.calls, self.declared, self.errors, self.also_unsaid = 0, {"registry": ["directory"]}, False, False

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        request = await receive()
        assert json.loads(request["body"])["query"]  # the body reaches the app whole
        for service, projections in self.declared.items():
            remembered.heard(service, {"data": {}, "extensions": {"remembered": projections}})
        if self.also_unsaid:
            remembered.unsaid()
        answer = {"data": {"dashboard": {"n": self.calls}}}
        if self.errors:
            answer["errors"] = [{"message": "the monitoring service is unreachable"}]
        body = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


class Stack:
    def __init__(self) -> None:
        self.app, self.marks, self.now = App(), Marks(), 0.0
        self.clock = Clock(date(2026, 11, 20))
        self.middleware = RememberedAnswers(
            self.app,
            marks=self.marks,
            services=["accountability", "inspection", "monitoring", "registry"],
            verifier=Verifier(),
            clock=lambda: self.clock,
            route=SimpleNamespace(path="/graphql"),
            monotonic=lambda: self.now,
        )

    def ask(self, query: str = PAGE, token: str = "good", *, also: str | None = None) -> tuple[dict, dict]:
        body = json.dumps({"query": query}).encode()
        headers = [(b"authorization", f"Bearer {token}".encode()), (b"content-length", str(len(body)).encode())]
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/graphql",
            "headers": headers + ([(b"authorization", f"Bearer {also}".encode())] if also else []),
        }
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            sent.append(message)

        asyncio.run(self.middleware(scope, receive, send))
        return json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")), scope


@pytest.fixture
def stack() -> Stack:
    return Stack()


def test_a_page_asked_again_is_answered_from_memory_while_its_marks_stand(stack):
    first, _ = stack.ask()
    again, scope = stack.ask()
    assert again == first and stack.app.calls == 1
    assert scope["route"].path == "/graphql" and scope["state"]["caller"].sub == "office"  # for the access log


def test_a_changed_mark_of_what_the_page_came_from_computes_it_again(stack):
    stack.ask()
    stack.marks.marks["registry"]["directory"] = "m2"
    assert stack.ask()[0]["data"]["dashboard"]["n"] == 2
    stack.marks.marks["inspection"]["views"] = "v2"  # the page did not come from inspection's views
    assert stack.ask()[0]["data"]["dashboard"]["n"] == 2 and stack.app.calls == 2


def test_a_new_day_at_a_service_computes_the_page_again(stack):
    stack.ask()
    stack.marks.today = "2026-11-21"
    stack.ask()
    assert stack.app.calls == 2


def test_a_new_day_at_the_gateway_is_another_page(stack):
    stack.ask()
    stack.clock.set_today(date(2026, 11, 21))
    stack.ask()
    assert stack.app.calls == 2


def test_an_answer_lives_a_minute_at_most(stack):
    stack.ask()
    stack.now += LIFETIME_S - 1
    stack.ask()
    stack.now += 1
    stack.ask()
    assert stack.app.calls == 2


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: setattr(s.app, "errors", True), id="an answer with an error"),
        pytest.param(lambda s: setattr(s.app, "also_unsaid", True), id="a call that did not say what it came from"),
        pytest.param(lambda s: s.app.declared.update(monitoring=["collection"]), id="a projection without a mark"),
        pytest.param(lambda s: setattr(s.marks, "now", _unknown), id="marks not known"),
    ],
)
def test_nothing_is_kept_when_what_the_page_came_from_is_not_known(stack, change):
    change(stack)
    stack.ask()
    stack.ask()
    assert stack.app.calls == 2


async def _unknown(services):
    return None


def test_a_token_that_does_not_verify_is_left_to_the_app_every_time(stack):
    stack.ask(token="expired")
    stack.ask(token="expired")
    assert stack.app.calls == 2 and stack.marks.asked == 0


def test_a_request_with_two_tokens_is_left_to_the_app(stack):
    stack.ask(also="good")
    stack.ask(also="good")
    assert stack.app.calls == 2 and stack.marks.asked == 0


def test_another_query_is_not_kept(stack):
    stack.ask("{ schools { nodes { id } } }")
    stack.ask("{ schools { nodes { id } } }")
    assert stack.app.calls == 2 and stack.marks.asked == 0


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ({"query": PAGE}, True),
        ({"query": 'query Page { __typename d: dashboard(jurisdiction: "500120") { month } }'}, True),
        ({"query": '{ dashboard(jurisdiction: "500120") { month } schools { nodes { id } } }'}, False),
        ({"query": '{ ...F } fragment F on Query { dashboard(jurisdiction: "500120") { month } }'}, False),
        ({"query": "mutation { dashboard }"}, False),
        (
            {"query": "query A { dashboard { month } } query B { schools { nodes { id } } }", "operationName": "B"},
            False,
        ),
        ({"query": "{ dashboard(", "variables": {}}, False),
        ({"query": 3}, False),
        ([], False),
    ],
)
def test_only_a_query_for_the_start_page_alone_may_be_kept(body, kept):
    assert may_remember(json.dumps(body).encode()) is kept
    assert may_remember(b"\xff not json") is False


# --- a subgraph says what its answer came from ------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field
    def staffing(self, info: strawberry.Info) -> int:
        remembered_over(info, "directory")
        return 1

    @strawberry.field
    def coverage(self, info: strawberry.Info) -> int:
        remembered_over(info, "registry-copy", "views")
        return 2

    @strawberry.field
    def schools(self) -> int:  # reads something without a mark
        return 3

    @strawberry.field
    def failing(self, info: strawberry.Info) -> int:
        remembered_over(info, "directory")
        raise ValueError("no")


SCHEMA = strawberry.Schema(query=Query, extensions=[Remembrance])


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("{ a: staffing b: coverage __typename }", ["directory", "registry-copy", "views"]),
        ("{ staffing schools }", None),
        ("{ staffing failing }", None),
        ("{ ... on Query { staffing } }", None),
    ],
)
def test_a_subgraph_says_what_its_answer_came_from_only_when_every_root_field_did(query, said):
    result = SCHEMA.execute_sync(query, context_value={})
    assert (result.extensions or {}).get("remembered") == said
