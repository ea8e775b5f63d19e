"""Issue 18: nothing false gets in, and nothing accepted gets lost."""

from __future__ import annotations

import json

import pytest

from tests.conftest import eventually, stored_events
from tests.factories import school

pytestmark = pytest.mark.integration

SCHOOL = {"jurisdiction": "500120", "stage": "primary", "ownership": "public", "enrolment": 800}


def raw(client, path: str, text: str):
    """POST a body written by hand, so its escapes reach the service as typed."""
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize("escaped", ["\\u0000", "\\u0007", "\\b", "\\u001f", "\\u007f", "\\ud800"])
def test_text_with_a_control_character_is_refused_naming_the_field_and_nothing_is_stored(
    registry, token, settings, escaped
):
    body = json.dumps(SCHOOL)[:-1] + f', "name": "璧山区{escaped}小学"}}'
    with registry.client(token()) as office:
        refused = raw(office, "/v1/schools", body)
        in_query = office.get("/v1/schools", params={"q": "小学\x00"})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json", refused.text
    assert (refused.json()["field"], refused.json()["rule"]) == ("name", "control_character")
    assert in_query.status_code == 422 and (in_query.json()["field"], in_query.json()["rule"]) == (
        "q",
        "control_character",
    )
    assert stored_events(settings, "School") == 0


def test_a_name_is_one_line_and_an_escaped_backslash_is_plain_text(registry, token, settings):
    with registry.client(token()) as office:
        two_lines = office.post("/v1/schools", json=SCHOOL | {"name": "璧山区\n实验小学"})
        school_id = school(office, "璧山区实验小学")
        escaped_backslash = raw(office, "/v1/schools", json.dumps(SCHOOL)[:-1] + ', "name": "路径\\\\u0000不是控制符"}')
        found = eventually(
            lambda: (r := office.get(f"/v1/schools/{school_id}")).status_code == 200 and r.json(), what="the school"
        )
    assert two_lines.status_code == 422 and (two_lines.json()["field"], two_lines.json()["rule"]) == (
        "name",
        "control_character",
    )
    assert escaped_backslash.status_code == 201, escaped_backslash.text  # a backslash then "u0000" is plain text
    assert found["name"] == "璧山区实验小学"


# --- no 5xx from bad input (item 10) ------------------------------------------------------------------------------


def test_input_that_once_made_a_500_is_a_422_naming_the_field(settings, serve, registry, token):
    from services.accountability.app import build as build_accountability
    from services.inspection.app import build as build_inspection
    from services.monitoring.app import build as build_monitoring
    from tests.factories import activity

    inspection, accountability, monitoring = (
        serve(build(settings)) for build in (build_inspection, build_accountability, build_monitoring)
    )
    with inspection.client(token()) as office:
        not_a_division = office.post("/v1/activities", json=activity(jurisdiction="001234"))
        national_plan = office.post("/v1/plans/000000/2026/approval", json={"approved_on": "2026-11-01"})
    with accountability.client(token()) as office:
        far_future = office.get("/v1/cases/00000000-0000-0000-0000-000000000001", params={"as_of": "9999-12-31"})
    with monitoring.client(token()) as office:
        huge_version = office.get("/v1/results/balanced_development/2025-2026/what-if", params={"version": "9" * 30})
    with registry.client(token()) as office:
        year_one = office.get("/v1/audit", params={"from": "0001-01-01T00:00:00+08:00"})
    for answer, field, rule in (
        (not_a_division, "jurisdiction", "code_format"),
        (far_future, "as_of", "date_in_future"),
        (huge_version, "version", "less_than_equal"),
        (year_one, "from", "time_range"),
    ):
        assert answer.status_code == 422 and (answer.json()["field"], answer.json()["rule"]) == (field, rule), (
            answer.text
        )
    assert national_plan.status_code == 403, national_plan.text  # the nation's plan is no county's to approve


def test_a_fact_dated_after_today_or_before_what_it_follows_is_a_422_naming_both_dates_and_changes_nothing(
    registry, token, settings
):
    """Issue 18 item 3, through the routes: the service clock (TODAY, 2026-11-20) decides what today is."""
    from tests.conftest import TODAY, stored_events
    from tests.factories import TERM

    with registry.client(token()) as office:
        inspector_id = office.post(
            "/v1/inspectors", json={"name": "周启明", "jurisdiction": "500120", "employment": "part_time"}
        ).json()["id"]
        for path, payload in (("appointment", TERM), ("filing", {"filed_with": "500000", "filed_on": "2024-01-10"})):
            assert office.post(f"/v1/inspectors/{inspector_id}/{path}", json=payload).status_code == 200
        events = stored_events(settings, "Inspector")
        before_term = office.post(f"/v1/inspectors/{inspector_id}/activation", json={"on": "2001-03-01"})
        tomorrow = office.post(f"/v1/inspectors/{inspector_id}/activation", json={"on": "2026-11-21"})
        unchanged = stored_events(settings, "Inspector")
        today = office.post(f"/v1/inspectors/{inspector_id}/activation", json={"on": TODAY.isoformat()})
    for answer, rule, dates in (
        (before_term, "date_order", ("2001-03-01", "2024-01-01")),
        (tomorrow, "date_in_future", ("2026-11-21", "2026-11-20")),
    ):
        body = answer.json()
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json", answer.text
        assert (body["field"], body["rule"]) == ("on", rule) and all(d in body["detail"] for d in dates), body
    assert unchanged == events and today.status_code == 200


def test_a_term_ending_in_december_is_supervised_in_january_of_the_same_fall_semester(settings, serve, registry, token):
    """Issue 18: a December term end planned the supervision in the *next* year's fall semester."""
    from services.inspection.app import build as build_inspection

    inspection = serve(build_inspection(settings))
    with registry.client(token()) as reg:
        school_id = school(reg, "璧山区腊月小学")
        reg.post(
            f"/v1/schools/{school_id}/principal",
            json={"name": "吴校长", "term_start": "2020-12-01", "term_end": "2025-12-31"},
        )
        ended = reg.post(
            f"/v1/schools/{school_id}/principal/term-end", json={"ended_on": "2025-12-31", "reason": "任期届满"}
        )
    assert ended.status_code == 200, ended.text
    with inspection.client(token()) as office:
        [planned] = eventually(
            lambda: office.get("/v1/activities", params={"school_id": school_id}).json()["items"],
            what="the term-end supervision",
        )
    assert (planned["planned_month"], planned["period"]) == ("2026-01", "2025-fall")


# --- PostgreSQL away (item 11) -------------------------------------------------------------------------------------


class Cuttable:
    """A TCP proxy in front of PostgreSQL that a test can cut (as an outage would) and heal."""

    def __init__(self, upstream_port: int):
        import socket
        import threading

        self.upstream, self.sockets, self.lock = upstream_port, [], threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        """Every connection dropped, every new one refused at once (closed as soon as it is accepted)."""
        self.open = False
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(2)
                except OSError:
                    pass
                s.close()
            self.sockets.clear()

    def heal(self) -> None:
        self.open = True


def test_while_postgresql_is_away_writes_and_reads_get_503_with_retry_after_and_graphql_a_stable_code(
    settings, serve, token
):
    import time
    from dataclasses import replace
    from urllib.parse import urlsplit

    from services.registry.app import build as build_registry

    url = urlsplit(settings.database_url)
    proxy = Cuttable(url.port)
    proxied = replace(settings, database_url=url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}").geturl())
    registry = serve(build_registry(proxied))
    with registry.client(token()) as office:
        school_id = school(office, "璧山区断电小学")
        proxy.cut()
        started = time.monotonic()
        write = office.post("/v1/schools", json=SCHOOL | {"name": "璧山区停库小学"})
        took = time.monotonic() - started
        read = office.get(f"/v1/schools/{school_id}")
        graph = office.post("/graphql", json={"query": "{ schools(first: 5) { nodes { id } } }"})
        proxy.heal()
        again = eventually(
            lambda: (
                (r := office.post("/v1/schools", json=SCHOOL | {"name": "璧山区复电小学"})).status_code == 201 and r
            ),
            timeout=30,
            what="writes after the outage",
        )
    for answer in (write, read):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json" and answer.headers["retry-after"] == "5"
        assert answer.json()["rule"] == "database_unavailable" and str(proxy.port) not in answer.text
    assert took < 10, f"the write waited {took:.1f} s for the database"
    [error] = graph.json()["errors"]
    assert (
        error["extensions"]["rule"] == "database_unavailable"
        and "127.0.0.1" not in graph.text
        and "Errno" not in graph.text
    )
    assert again.status_code == 201


# --- GraphQL floods (item 12) ----------------------------------------------------------------------------------------

FLOODS = {
    "aliases": "{" + " ".join(f"a{i}: __typename" for i in range(80_000)) + "}",  # about 1.5 MB
    "directives": "{ __typename" + " @include(if: true)" * 55_000 + " }",  # about 1 MB
    "aliases within the size": "{" + " ".join(f"a{i}:__typename" for i in range(6_000)) + "}",  # about 100 KB
}


def test_a_graphql_flood_is_refused_at_once_and_a_normal_query_beside_it_answers(settings, serve, registry, token):
    """Issue 18: 200,000 aliases or 50,000 directives (no token needed) held the event loop for 4-43 s."""
    import time
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from gateway.app import build as build_gateway

    gateway = serve(build_gateway(replace(settings, ports=settings.ports | {"registry": registry.port})))

    def timed(service, query: str, bearer: str | None = None):
        with service.client(bearer) as client:
            started = time.monotonic()
            answer = client.post("/graphql", json={"query": query})
            return answer, time.monotonic() - started

    def one_round(pool, service) -> dict[str, float]:
        """The floods and a normal query at once: each flood refused, the normal query answered; the times taken."""
        floods = {name: pool.submit(timed, service, query) for name, query in FLOODS.items()}
        normal = pool.submit(timed, service, "{ schools(first: 5) { nodes { id } } }", token())
        times = {}
        for name, future in floods.items():
            answer, times[name] = future.result()
            refused = answer.status_code == 413 or (
                answer.json()["data"] is None
                and "at most" in answer.json()["errors"][0]["message"]
                or "tokens" in answer.json()["errors"][0]["message"]
            )
            assert refused, (service.url, name, answer.status_code, answer.text[:300])
            if name != "aliases within the size":
                assert answer.status_code == 413, (name, answer.status_code)
        answer, times["normal"] = normal.result()
        assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
        return times

    # Unbounded, these held the event loop for 4-43 s; a 413 took about 8 ms when measured by hand. A loaded CI can
    # stall any request for seconds (the province benchmark runs beside this), so a round over the bounds is tried
    # again: a flood that really holds the loop is over them every time.
    bounds = dict.fromkeys(FLOODS, 4.0) | {"normal": 3.0}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for service in (gateway, registry):
            rounds = []
            for _ in range(3):
                rounds.append(one_round(pool, service))
                if all(took < bounds[name] for name, took in rounds[-1].items()):
                    break
            else:
                raise AssertionError(f"{service.url}: over the bounds {bounds} in every round: {rounds}")


# --- references are checked against what the service knows (item 1) ------------------------------------------------


def test_an_activity_supervises_a_school_of_the_registry_in_its_place_and_its_team_serves_there(settings, serve, token):
    from dataclasses import replace

    from services.inspection.app import build as build_inspection
    from services.registry.app import build as build_registry
    from tests.factories import activity, copied_inspector, copied_school, in_copy, inspection_events

    city = replace(settings, jurisdiction="500000")  # an instance holding two counties, 璧山 and 潼南
    registry, inspection = serve(build_registry(city)), serve(build_inspection(city))
    with registry.client(token()) as reg, registry.client(token(jur="500151")) as neighbour:
        ours = copied_school(reg, settings, "璧山区青岚小学")
        theirs = copied_school(neighbour, settings, "潼南区桂林小学", jur="500151")
        leader = copied_inspector(reg, settings, "张督学")
        suspended = copied_inspector(reg, settings, "李督学")
        assert (
            reg.post(
                f"/v1/inspectors/{suspended}/suspension", json={"reason": "停职审查", "on": "2026-11-01"}
            ).status_code
            == 200
        )
        other_county = copied_inspector(neighbour, settings, "王督学", jur="500151")
    eventually(lambda: in_copy(settings, "inspector_copy", suspended, "suspended"), what="the suspension in the copy")
    with inspection.client(token()) as office:
        unknown = office.post("/v1/activities", json=activity(target_id="00000000-0000-0000-0000-00000000abcd"))
        not_a_uuid = office.post("/v1/activities", json=activity(target_id="s-1"))
        elsewhere = office.post("/v1/activities", json=activity(target_id=theirs, target_name="潼南区桂林小学"))
        assert inspection_events(settings, "Activity.Planned") == 0
        location = office.post("/v1/activities", json=activity(target_id=ours)).headers["Location"]
        teams = {
            "random": office.post(f"{location}/team", json={"leader_id": "00000000-0000-0000-0000-0000000000ff"}),
            "suspended": office.post(f"{location}/team", json={"leader_id": leader, "member_ids": [suspended]}),
            "other county": office.post(f"{location}/team", json={"leader_id": leader, "member_ids": [other_county]}),
        }
        unchanged = eventually(
            lambda: (r := office.get(location)).status_code == 200 and r.json(), what="the activity read"
        )
        good = office.post(f"{location}/team", json={"leader_id": leader})
    for answer, rule in (
        (unknown, "unknown_school"),
        (not_a_uuid, "unknown_school"),
        (elsewhere, "target_outside_jurisdiction"),
    ):
        assert answer.status_code == 422 and (answer.json()["field"], answer.json()["rule"]) == ("target_id", rule), (
            answer.text
        )
    expected = {
        "random": (422, "leader_id", "unknown_inspector"),
        "suspended": (409, "member_ids.0", "inspector_not_active"),
        "other county": (409, "member_ids.0", "inspector_out_of_jurisdiction"),
    }
    for name, answer in teams.items():
        assert (answer.status_code, answer.json()["field"], answer.json()["rule"]) == expected[name], (
            name,
            answer.text,
        )
    assert unchanged["status"] == "planned" and unchanged["leader_id"] is None
    assert good.status_code == 200 and good.json()["leader_id"] == leader
