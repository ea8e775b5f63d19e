"""The subgraph fields the gateway links through, asked straight at each service's /graphql: cases per unit and per
activity with their items and notices, case and draw entities, measures in the summary, public outcomes, finding ids,
and the draws that put inspectors on a team."""

from __future__ import annotations

import uuid
from datetime import date
from types import SimpleNamespace

import psycopg
import pytest

from services.accountability.app import build as build_accountability
from services.inspection.app import build as build_inspection
from tests.conftest import eventually
from tests.factories import DRAW, active_inspector, issued, move_to, school

pytestmark = pytest.mark.integration

CASE = """id activityId unitId unitName status version openedAt
    items { itemId status deadline lapses notices { lapse missedDeadline newDeadline issuedOn basis } }"""
CASE_ENTITIES = f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on RectificationCase {{ {CASE} }} }} }}"
DRAW_VIEW = "id jurisdiction status seed targets teams { targetId inspectorIds } verification { ok detail }"


def ask(served, query: str, token: str | None = None, **variables) -> dict:
    """A GraphQL request straight to one service's subgraph."""
    with served.client(token) as client:
        response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def answer(served, query: str, token: str | None = None, **variables) -> dict:
    body = ask(served, query, token, **variables)
    assert "errors" not in body, body
    return body["data"]


def refusal(served, query: str, token: str | None = None, **variables) -> dict:
    """The extensions of the one error a request gets."""
    body = ask(served, query, token, **variables)
    [error] = body["errors"]
    return error["extensions"]


# --- accountability ---------------------------------------------------------------------------------------------


@pytest.fixture
def stack(settings, registry, serve, token):
    """Inspection and accountability next to the registry, with the policy profiles copied into accountability."""
    served = SimpleNamespace(
        inspection=serve(build_inspection(settings)), accountability=serve(build_accountability(settings))
    )
    with psycopg.connect(settings.database_url) as conn:
        eventually(
            lambda: conn.execute("SELECT count(*) FROM accountability.profile_copy").fetchone()[0] >= 3, what="profiles"
        )
    return served


@pytest.fixture
def opened(stack, registry, token, settings) -> dict[str, dict]:
    """Two schools with an issued report each and the rectification case it opened: 东林 is late, 大路 done."""
    found = {}
    for label, name in (("东林", "璧山区东林小学"), ("大路", "璧山区大路小学")):
        unit_id, location = issued(stack.inspection, registry, token, settings, name, f"{name}消防通道堆放杂物")
        with stack.accountability.client(token()) as client:
            [case] = eventually(
                lambda unit_id=unit_id: client.get("/v1/cases", params={"unit_id": unit_id}).json()["items"],
                what=f"the case of {name}",
            )
        found[label] = case | {"activity_id": location.rsplit("/", 1)[1]}
    return found


def test_cases_for_units_come_per_unit_in_the_order_asked_with_items_and_notices_and_open_only_drops_closed_ones(
    stack, opened, token
):
    late, done = opened["东林"], opened["大路"]
    with stack.accountability.client(token()) as office:
        move_to(date(2026, 11, 1), stack.accountability)
        for case in (late, done):
            given = office.post(
                f"/v1/cases/{case['id']}/feedback",
                json={"mode": "written", "decision": "限期整改", "requirements": "清理", "given_on": "2026-11-01"},
            )
            assert given.status_code == 200, given.text
        item = done["items"][0]["item_id"]
        assert (
            office.post(f"/v1/cases/{done['id']}/items/{item}/report", json={"statement": "已清理"}).status_code == 200
        )
        assert office.post(f"/v1/cases/{done['id']}/items/{item}/accept").status_code == 200
        move_to(date(2026, 12, 2), stack.accountability)  # the default 30 days ran out on 2026-12-01

        def noticed() -> list[dict]:
            # the sweep finds the lapse in the read model, which may not hold the feedback's deadline yet under load;
            # sweeping again changes nothing once noticed (test_accountability_chain)
            office.post("/v1/ops/sweep-deadlines")
            return office.get("/v1/notices").json()["items"]

        [notice] = eventually(noticed, what="the supervision notice")
        eventually(lambda: office.get("/v1/cases", params={"status": "closed"}).json()["items"], what="the closed case")

    query = f"query($u: [String!]!, $o: Boolean!) {{ casesForUnits(unitIds: $u, openOnly: $o) {{ key cases {{ {CASE} }} }} }}"
    u_late, u_done = late["unit_id"], done["unit_id"]
    grouped = answer(stack.accountability, query, token(), u=[u_done, "s-43", u_late], o=False)["casesForUnits"]
    assert [(g["key"], [c["id"] for c in g["cases"]]) for g in grouped] == [
        (u_done, [done["id"]]),
        ("s-43", []),
        (u_late, [late["id"]]),
    ]
    [closed], [open_] = grouped[0]["cases"], grouped[2]["cases"]
    assert closed["status"] == "closed" and closed["items"][0]["notices"] == []
    assert (
        open_["status"] == "in_rectification" and open_["activityId"] == late["activity_id"] and open_["version"] >= 3
    )
    [item] = open_["items"]
    assert (item["itemId"], item["lapses"], item["deadline"]) == (
        late["items"][0]["item_id"],
        1,
        notice["new_deadline"],
    )
    assert item["notices"] == [
        {
            "lapse": 1,
            "missedDeadline": "2026-12-01",
            "newDeadline": notice["new_deadline"],
            "issuedOn": "2026-12-02",
            "basis": notice["basis"],
        }
    ]
    assert notice["basis"].startswith("000000@")

    only_open = answer(stack.accountability, query, token(), u=[u_done, u_late], o=True)["casesForUnits"]
    assert [(g["key"], [c["id"] for c in g["cases"]]) for g in only_open] == [(u_done, []), (u_late, [late["id"]])]
    elsewhere = answer(stack.accountability, query, token(jur="500110"), u=[u_late], o=False)["casesForUnits"]
    assert elsewhere == [{"key": u_late, "cases": []}]


def test_cases_for_activities_key_each_case_by_the_activity_whose_report_opened_it(stack, opened, token):
    first, second = opened["东林"], opened["大路"]
    query = f"query($a: [String!]!) {{ casesForActivities(activityIds: $a) {{ key cases {{ {CASE} }} }} }}"
    keys = [second["activity_id"], "no-such-activity", first["activity_id"]]
    grouped = answer(stack.accountability, query, token(), a=keys)["casesForActivities"]
    assert [(g["key"], [c["unitId"] for c in g["cases"]]) for g in grouped] == [
        (second["activity_id"], [second["unit_id"]]),
        ("no-such-activity", []),
        (first["activity_id"], [first["unit_id"]]),
    ]
    [case] = grouped[0]["cases"]
    assert case["id"] == second["id"] and case["openedAt"] and case["items"][0]["notices"] == []


def test_finding_ids_in_inspection_are_the_item_ids_of_the_case(stack, opened, token):
    case = opened["东林"]
    query = "query($id: ID!) { activity(id: $id) { findings { findingId description } } }"
    [finding] = answer(stack.inspection, query, token(), id=case["activity_id"])["activity"]["findings"]
    assert (
        finding["findingId"] == case["items"][0]["item_id"]
        and finding["description"] == "璧山区东林小学消防通道堆放杂物"
    )
    public = ask(stack.inspection, '{ publicReports(jurisdiction: "500120") { findings { findingId } } }')
    assert public["errors"][0]["message"].startswith(
        "Cannot query field 'findingId'"
    )  # the public copy stays without ids


def test_a_case_entity_resolves_for_its_jurisdiction_and_is_null_for_another_or_an_unknown_id(stack, opened, token):
    case = opened["东林"]
    representations = [
        {"__typename": "RectificationCase", "id": case["id"]},
        {"__typename": "RectificationCase", "id": "not-a-uuid"},
        {"__typename": "RectificationCase", "id": str(uuid.uuid4())},
        {"__typename": "RectificationCase", "id": case["id"].upper()},
    ]
    found = answer(stack.accountability, CASE_ENTITIES, token(), r=representations)["_entities"]
    assert [f and f["id"] for f in found] == [case["id"], None, None, case["id"]]
    assert found[0]["unitName"] == "璧山区东林小学" and found[0]["items"][0]["itemId"] == case["items"][0]["item_id"]
    outside = answer(stack.accountability, CASE_ENTITIES, token(jur="500110"), r=representations[:1])["_entities"]
    assert outside == [None]
    anonymous = ask(stack.accountability, CASE_ENTITIES, None, r=representations[:1])
    assert anonymous["data"]["_entities"] == [None] and anonymous["errors"][0]["extensions"]["status"] == 401


@pytest.fixture
def accountability(settings, serve):
    return serve(build_accountability(settings))


def measure(client, kind: str, unit_id: str, **fields) -> str:
    """Propose (or award) one measure on a department (a unit the registry does not hold); its id."""
    body = {
        "unit_kind": "department",
        "unit_id": unit_id,
        "unit_name": f"部门{unit_id}",
        "reason": "督导发现问题",
    } | fields
    created = client.post(f"/v1/{kind}", json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_the_summary_counts_measures_by_kind_and_status_in_the_subtree_only(accountability, token):
    with accountability.client(token()) as office:
        measure(office, "interviews", "s-1", trigger="duties_not_fulfilled")
        measure(office, "interviews", "s-2", trigger="key_tasks_delayed")
        measure(office, "circulars", "s-1", trigger="ineffective")
        commendation = measure(office, "commendations", "s-3", people=[{"name": "刘芳", "post": "校长"}])
        assert (
            office.post(
                f"/v1/commendations/{commendation}/publish", json={"public_text": "表彰璧山区学校s-3"}
            ).status_code
            == 200
        )
    with accountability.client(token(jur="500000")) as city:
        measure(
            city, "interviews", "s-9", trigger="duties_not_fulfilled", jurisdiction="500120001"
        )  # a street's office
        eventually(
            lambda: len(city.get("/v1/interviews", params={"jurisdiction": "500000"}).json()["items"]) == 3,
            what="interviews",
        )
        eventually(
            lambda: city.get("/v1/public/outcomes", params={"jurisdiction": "500120"}).json()["items"],
            what="publication",
        )

    query = (
        "query($j: String) { accountabilitySummary(jurisdiction: $j) { jurisdiction measures { kind status count } } }"
    )
    summary = answer(accountability, query, token(), j="500120")["accountabilitySummary"]
    assert summary["measures"] == [
        {"kind": "circular", "status": "proposed", "count": 1},
        {"kind": "commendation", "status": "published", "count": 1},
        {"kind": "interview", "status": "proposed", "count": 3},
    ]
    city = answer(accountability, query, token(jur="500000"), j="500000")["accountabilitySummary"]["measures"]
    assert {"kind": "interview", "status": "proposed", "count": 3} in city
    assert answer(accountability, query, token(jur="500120001"), j="500120001")["accountabilitySummary"][
        "measures"
    ] == [{"kind": "interview", "status": "proposed", "count": 1}]


OUTCOMES = "query($j: String!, $f: Int!, $a: String) { publicOutcomes(jurisdiction: $j, first: $f, after: $a) "
OUTCOMES += "{ id kind jurisdiction unitName trigger publicText publishedOn } }"


def test_public_outcomes_need_no_token_and_page_with_the_rest_cursor(accountability, token):
    with accountability.client(token()) as office:
        for unit_id in ("s-1", "s-2"):
            awarded = measure(office, "commendations", unit_id, people=[{"name": "刘芳", "post": "校长"}])
            assert (
                office.post(f"/v1/commendations/{awarded}/publish", json={"public_text": f"表彰{unit_id}"}).status_code
                == 200
            )
        measure(office, "commendations", "s-3")  # awarded, not published: not public
    with accountability.client() as public:

        def outcomes(limit):
            return public.get("/v1/public/outcomes", params={"jurisdiction": "500120", "limit": limit}).json()

        eventually(lambda: len(outcomes(50)["items"]) == 2, what="two published outcomes")
        rest = outcomes(1)

    both = answer(accountability, OUTCOMES, None, j="500000", f=50)["publicOutcomes"]
    assert [(o["kind"], o["unitName"], o["publicText"], o["jurisdiction"]) for o in both] == [
        ("commendation", "部门s-1", "表彰s-1", "500120"),
        ("commendation", "部门s-2", "表彰s-2", "500120"),
    ]
    assert both[0]["publishedOn"] and both[0]["trigger"] is None and both[0]["id"] == rest["items"][0]["id"]
    assert [o["unitName"] for o in answer(accountability, OUTCOMES, None, j="500120", f=1)["publicOutcomes"]] == [
        "部门s-1"
    ]
    after = answer(accountability, OUTCOMES, None, j="500120", f=50, a=rest["next_cursor"])["publicOutcomes"]
    assert [o["unitName"] for o in after] == ["部门s-2"]
    assert answer(accountability, OUTCOMES, None, j="500110", f=50)["publicOutcomes"] == []


def test_bad_codes_page_sizes_and_cursors_are_422s_naming_the_rule(accountability, token):
    assert refusal(accountability, OUTCOMES, None, j="5001", f=50) == {
        "status": 422,
        "rule": "code_format",
        "field": "jurisdiction",
    }
    for first in (0, 201):
        assert refusal(accountability, OUTCOMES, None, j="500120", f=first) == {
            "status": 422,
            "rule": "page_size",
            "field": "first",
        }
        cases = refusal(accountability, f"{{ rectificationCases(first: {first}) {{ nodes {{ id }} }} }}", token())
        assert cases == {"status": 422, "rule": "page_size", "field": "first"}
    assert refusal(accountability, OUTCOMES, None, j="500120", f=50, a="garbage")["rule"] == "cursor_format"
    empty = answer(
        accountability, "{ rectificationCases(first: 200) { nodes { id } pageInfo { hasNextPage } } }", token()
    )
    assert empty["rectificationCases"] == {"nodes": [], "pageInfo": {"hasNextPage": False}}


# --- inspection: draws -------------------------------------------------------------------------------------------


@pytest.fixture
def drawn(settings, registry, serve, token):
    """A performed draw of one target with a team of two from three inspectors, and one draw only announced."""
    inspection = serve(build_inspection(settings))
    with registry.client(token()) as reg:
        for i in range(3):
            school(reg, f"小学{i}")
        inspectors = [active_inspector(reg, name) for name in ("甲", "乙", "丙")]
    with psycopg.connect(settings.database_url) as conn:
        eventually(
            lambda: (
                conn.execute("SELECT count(*) FROM inspection.inspector_copy WHERE status = 'active'").fetchone()[0]
                == 3
                and conn.execute("SELECT count(*) FROM inspection.school_copy").fetchone()[0] == 3
            ),
            what="the copy",
        )
    body = DRAW | {"targets": {"stages": ["primary"], "count": 1}, "team": {"size": 2, "max_load": 2}}
    with inspection.client(token()) as client:
        location = client.post("/v1/draws", json=body).headers["Location"]
        performed = client.post(f"{location}/performance").json()
        announced = client.post("/v1/draws", json=body).headers["Location"]
    [target] = performed["targets"]
    team = performed["teams"][target]
    return SimpleNamespace(
        inspection=inspection,
        id=location.rsplit("/", 1)[1],
        announced=announced.rsplit("/", 1)[1],
        target=target,
        team=team,
        idle=next(i for i in inspectors if i not in team),
    )


DRAWS_OF = f"query($i: [String!]!) {{ drawsForInspectors(inspectorIds: $i) {{ key draws {{ {DRAW_VIEW} }} }} }}"


def test_draws_for_inspectors_give_each_drawn_inspector_the_draw_and_nothing_to_the_idle_one(drawn, token):
    keys = [drawn.team[1], drawn.idle, drawn.team[0]]
    grouped = eventually(
        lambda: (g := answer(drawn.inspection, DRAWS_OF, token(), i=keys)["drawsForInspectors"])[0]["draws"] and g,
        what="projected",
    )
    assert [(g["key"], [d["id"] for d in g["draws"]]) for g in grouped] == [
        (drawn.team[1], [drawn.id]),
        (drawn.idle, []),
        (drawn.team[0], [drawn.id]),
    ]
    [view] = grouped[0]["draws"]
    assert view["status"] == "performed" and view["seed"] and view["targets"] == [drawn.target]
    assert view["teams"] == [{"targetId": drawn.target, "inspectorIds": drawn.team}]
    assert view["verification"] == {
        "ok": True,
        "detail": "the seed matches its hash and the draw re-runs to the recorded result",
    }
    outside = answer(drawn.inspection, DRAWS_OF, token(jur="500110"), i=keys[:1])["drawsForInspectors"]
    assert outside == [{"key": drawn.team[1], "draws": []}]
    assert refusal(drawn.inspection, DRAWS_OF, None, i=keys[:1])["status"] == 401


def test_a_draw_entity_resolves_without_a_token_as_the_draw_field_shows_it(drawn):
    query = f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on DrawView {{ {DRAW_VIEW} }} }} }}"
    representations = [
        {"__typename": "DrawView", "id": i} for i in (drawn.id, "not-a-uuid", str(uuid.uuid4()), drawn.announced)
    ]
    found = eventually(
        lambda: (
            (f := answer(drawn.inspection, query, None, r=representations)["_entities"])[0]
            and f[0]["status"] == "performed"
            and f[3]
            and f
        ),
        what="both draws projected",
    )
    shown = answer(drawn.inspection, f"query($id: ID!) {{ draw(id: $id) {{ {DRAW_VIEW} }} }}", None, id=drawn.id)[
        "draw"
    ]
    assert found[0] == shown and found[0]["verification"]["ok"] is True
    assert found[1] is None and found[2] is None
    assert found[3]["status"] == "announced" and found[3]["seed"] is None and found[3]["teams"] is None
    assert found[3]["verification"] == {"ok": False, "detail": "not performed yet"}
