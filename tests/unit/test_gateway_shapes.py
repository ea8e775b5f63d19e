"""Each read shape is declared once, as the gateway's type (`gateway/shapes.py`); this walks every such type against
its subgraph's schema, in process, and fails when they drift: a field the subgraph no longer has, a list that is not
one, a value the gateway promises and the subgraph may leave out, a scalar of another kind. The national API's fixed
queries are checked against the gateway's own graph the same way."""

from __future__ import annotations

import types
import typing
from datetime import date, datetime

import pytest
import strawberry
from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
    parse,
    validate,
)

from dudao.subgraph import wanted
from gateway import accountability, inspection, monitoring, national, registry
from gateway.schema import schema as gateway_schema
from gateway.shapes import fields_of, inner, is_shape, selection, shape
from gateway.types import PageInfo
from services.accountability.graphql import schema as accountability_schema
from services.inspection.graphql import schema as inspection_schema
from services.monitoring.graphql import schema as monitoring_schema
from services.registry.graphql import schema as registry_schema

pytestmark = pytest.mark.unit

SUBGRAPHS = {
    "registry": registry_schema._schema,
    "inspection": inspection_schema._schema,
    "accountability": accountability_schema._schema,
    "monitoring": monitoring_schema._schema,
}
# Each gateway type the gateway builds from a subgraph's answer, and where: a type of the same name (an entity), or
# the root field that answers it.
ROOTS = [
    (registry.School, "registry", "School"),
    (registry.Inspector, "registry", "Inspector"),
    (registry.Zone, "registry", "Zone"),
    (registry.Committee, "registry", "committee"),
    (registry.StaffingCompliance, "registry", "staffingCompliance"),
    (registry.ListedInspector, "registry", "publicListedInspectors"),
    (inspection.Activity, "inspection", "Activity"),
    (inspection.Draw, "inspection", "draw"),
    (inspection.RoutineCoverage, "inspection", "routineCoverage"),
    (inspection.SelfEvaluation, "inspection", "selfEvaluation"),
    (inspection.PublicReport, "inspection", "publicReports"),
    (accountability.RectificationCase, "accountability", "RectificationCase"),
    (accountability.Measure, "accountability", "Measure"),
    (accountability.AccountabilitySummary, "accountability", "accountabilitySummary"),
    (accountability.Restriction, "accountability", "restrictions"),
    (accountability.PublicOutcome, "accountability", "publicOutcomes"),
    (monitoring.UnitResult, "monitoring", "UnitResult"),
    (monitoring.BalancedDevelopment, "monitoring", "balancedDevelopment"),
    (monitoring.MonitoringResult, "monitoring", "monitoringResults"),
    (monitoring.Framework, "monitoring", "frameworks"),
    (monitoring.CollectionStatus, "monitoring", "collectionStatus"),
    (monitoring.AreaVerdict, "monitoring", "latestVerdicts"),
    (monitoring.VerdictTally, "monitoring", "verdictTallies"),
    (PageInfo, "registry", "PageInfo"),
]
SCALARS = {
    str: {"String", "ID"},
    strawberry.ID: {"ID", "String"},
    int: {"Int"},
    float: {"Float", "Int"},
    bool: {"Boolean"},
    date: {"Date"},
    datetime: {"DateTime"},
}


def subgraph_type(service: str, where: str) -> GraphQLObjectType:
    found = SUBGRAPHS[service].get_type(where) if where[0].isupper() else None
    if found is None:
        found = get_named_type(SUBGRAPHS[service].query_type.fields[where].type)
    assert isinstance(found, GraphQLObjectType), f"{service} has no object type at {where}"
    return found


def optional(hint) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def listed(hint) -> bool:
    while optional(hint):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return typing.get_origin(hint) is list


def drift(cls: type, there: GraphQLObjectType, path: str) -> list[str]:
    found = []
    for field in fields_of(cls):
        if field.given:
            continue
        where = f"{path}.{field.key}"
        answered = there.fields.get(field.key)
        if answered is None:
            found.append(f"{where}: {there.name} has no {field.key}")
            continue
        kind = answered.type
        if not optional(field.hint) and not isinstance(kind, GraphQLNonNull):
            found.append(f"{where}: the gateway promises a value, the subgraph may answer null")
        bare = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        if listed(field.hint) != isinstance(bare, GraphQLList):
            found.append(f"{where}: a list on one side only")
        named, nested = get_named_type(kind), inner(field.hint)
        if is_shape(nested):
            if not isinstance(named, GraphQLObjectType):
                found.append(f"{where}: the gateway reads an object, the subgraph answers {named.name}")
            else:
                found += drift(nested, named, where)
        elif isinstance(named, GraphQLScalarType) and nested in SCALARS and named.name not in SCALARS[nested]:
            found.append(f"{where}: {nested.__name__} in the gateway, {named.name} in the subgraph")
    return found


@pytest.mark.parametrize(("cls", "service", "where"), ROOTS, ids=[f"{s}:{w}" for _, s, w in ROOTS])
def test_a_gateway_type_matches_what_its_subgraph_answers(cls, service, where):
    assert drift(cls, subgraph_type(service, where), cls.__name__) == []


def test_a_renamed_subgraph_field_is_caught():
    """The walk itself: a gateway type asking for a field its subgraph type lacks is named."""

    @strawberry.type
    class Renamed:
        name: str
        enrolled: int

    assert drift(Renamed, subgraph_type("registry", "School"), "Renamed") == [
        "Renamed.enrolled: School has no enrolled"
    ]


@pytest.mark.parametrize("name", [n for n in vars(national) if n.isupper() and "query" in str(getattr(national, n))])
def test_the_national_apis_fixed_queries_are_valid_on_the_gateways_graph(name):
    assert validate(gateway_schema._schema, parse(getattr(national, name))) == []


def test_a_list_the_client_did_not_select_is_neither_asked_for_nor_built():
    """The dashboard's routine coverage: three figures asked, so not every school not yet visited (zone by zone)."""
    chosen = {"schools": {}, "visited": {}, "coverage": {}}
    asked = selection(inspection.RoutineCoverage, chosen)
    assert set(asked.split()) == {"month", "jurisdiction", "schools", "visited", "coverage"}  # a resolver reads them
    assert "zones" in selection(inspection.RoutineCoverage).split()
    answer = {"month": "2026-10", "schools": 3, "visited": 1, "coverage": 0.3333, "jurisdiction": "500120"}
    built = shape(inspection.RoutineCoverage, answer)
    assert (built.schools, built.visited, built.zones) == (3, 1, [])


def test_a_subgraph_is_asked_only_for_the_scalars_the_client_selected_and_those_the_types_resolvers_read():
    """The start page's verdicts at province size are some 20,000 fields: asking for the unselected half costs the
    subgraph and the gateway each tens of milliseconds."""
    chosen = {"framework": {}, "passes": {}, "stages": {"stage": {}, "indicators": {"key": {}, "cv": {}}}}
    asked = selection(monitoring.AreaVerdict, chosen)
    assert asked == "framework passes stages { stage indicators { key cv } }"
    built = shape(monitoring.AreaVerdict, {"framework": "f", "passes": True, "stages": []})
    assert (built.framework, built.passes, built.computed_at, built.stages) == ("f", True, None, [])
    # UnitResult's `school` resolver reads unitId and unitStage: asked for though the client selected only `school`
    asked = selection(monitoring.MonitoringResult, {"passes": {}, "units": {"school": {"name": {}}}}).split()
    assert {"unitId", "unitStage", "jurisdiction"} <= set(asked[asked.index("units") :])
    assert selection(monitoring.MonitoringResult, {"__typename": {}}) == "__typename"


def test_the_clients_selection_is_read_through_aliases_and_fragments():
    seen = []

    @strawberry.type
    class Query:
        @strawberry.field
        def verdicts(self, info: strawberry.Info) -> list[monitoring.AreaVerdict]:
            seen.append(wanted(info))
            return []

    query = """
        query { verdicts { ...Head again: passes stages { indicators { key } } ... on AreaVerdict { period } } }
        fragment Head on AreaVerdict { framework stages { stage } }
    """
    assert strawberry.Schema(query=Query).execute_sync(query).errors is None
    assert seen == [
        {"framework": {}, "stages": {"stage": {}, "indicators": {"key": {}}}, "passes": {}, "period": {}},
    ]
