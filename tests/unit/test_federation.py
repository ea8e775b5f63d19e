"""Every service's subgraph is a valid Federation-2 subgraph for any router, checked in process: the SDL it serves
links federation v2, builds with graphql-core, keys name real fields, and keyed types are resolvable entities."""

from __future__ import annotations

import importlib

import pytest
import strawberry
from graphql import parse

from tests.federation import (
    build_subgraph,
    entity_problems,
    federation_definitions,
    federation_link,
    key_problems,
    keys,
    subgraph_sdl,
)

pytestmark = pytest.mark.unit

# Each service's subgraph module and the entities other subgraphs and the gateway rely on.
SUBGRAPHS = {
    "registry": ("services.registry.graphql", {"School", "Inspector", "Zone"}),
    "inspection": ("services.inspection.graphql", {"Activity", "DrawView"}),
    "accountability": ("services.accountability.graphql", {"RectificationCase"}),
    "monitoring": ("services.monitoring.graphql", {"UnitResult"}),
}


@pytest.fixture(params=sorted(SUBGRAPHS))
def subgraph(request):
    """(service, its strawberry schema, the SDL a router fetches from it)."""
    module, _ = SUBGRAPHS[request.param]
    schema = importlib.import_module(module).schema
    return request.param, schema, subgraph_sdl(schema)


def test_the_subgraph_links_federation_v2(subgraph):
    service, _, sdl = subgraph
    link = federation_link(parse(sdl))  # raises naming what is wrong with the link
    assert link.directives, f"{service}: @link(url: {link.url!r}) imports no directive"


def test_the_sdl_builds_with_the_federation_definitions_it_uses(subgraph):
    service, _, sdl = subgraph
    try:
        built, _, _ = build_subgraph(sdl)
    except Exception as e:
        pytest.fail(f"{service}: its subgraph SDL does not build: {e}")
    assert built.query_type is not None and built.query_type.name == "Query"


def test_every_key_names_fields_of_its_type(subgraph):
    service, _, sdl = subgraph
    built, doc, link = build_subgraph(sdl)
    problems = [
        p for name, found in keys(doc, link).items() for fields, _ in found for p in key_problems(built, name, fields)
    ]
    assert not problems, f"{service}:\n" + "\n".join(problems)


def test_every_keyed_type_is_an_entity_the_subgraph_resolves(subgraph):
    service, schema, sdl = subgraph
    _, doc, link = build_subgraph(sdl)
    keyed = [name for name, found in keys(doc, link).items() if any(resolvable for _, resolvable in found)]
    problems = entity_problems(schema, keyed)
    assert not problems, f"{service}:\n" + "\n".join(problems)


def test_the_subgraph_has_the_entities_others_rely_on(subgraph):
    service, _, sdl = subgraph
    doc = parse(sdl)
    expected, found = SUBGRAPHS[service][1], set(keys(doc, federation_link(doc)))
    assert expected <= found, (
        f"{service}: expected entities {sorted(expected - found)} have no @key (entities: {sorted(found) or 'none'})"
    )


# --- the checker itself: each finding it exists for ------------------------------------------------------------

LINKED = 'schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"]) { query: Query }\n'


def test_a_federation_1_subgraph_is_refused():
    with pytest.raises(AssertionError, match="no @link to the federation spec"):
        federation_link(parse('type Query { a: Int }\ntype T @key(fields: "id") { id: ID! }'))
    with pytest.raises(AssertionError, match="not Federation 2"):
        federation_link(
            parse(
                'schema @link(url: "https://specs.apollo.dev/federation/v1.0") { query: Query }\ntype Query { a: Int }'
            )
        )


def test_a_directive_neither_imported_nor_namespaced_is_named():
    doc = parse(LINKED + "type Query { a: Int @shareable b: Int @federation__shareable c: Int @cached }")
    with pytest.raises(AssertionError, match=r"unknown directive\(s\) @cached, @shareable"):
        federation_definitions(doc, federation_link(doc))


def test_a_directive_newer_than_the_linked_version_is_named():
    doc = parse(LINKED + "type Query { a: Int @federation__cost(weight: 2) }")
    with pytest.raises(AssertionError, match=r"@federation__cost \(needs federation v2.9"):
        federation_definitions(doc, federation_link(doc))


def test_namespaced_and_renamed_directives_build():
    sdl = (
        'schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: [{name: "@key", as: "@id"}, "FieldSet"]) { query: Query }\n'
        'type Query { t: T @federation__shareable }\ntype T @id(fields: "id") @federation__interfaceObject { id: ID! }'
    )
    built, doc, link = build_subgraph(sdl)
    assert keys(doc, link) == {"T": [("id", True)]} and built.get_directive("id") is not None


def test_a_key_naming_a_missing_or_unselectable_field_is_found():
    built, doc, link = build_subgraph(
        LINKED
        + 'type Query { t: T }\ntype T @key(fields: "id owner { name } missing") @key(fields: "id { x }") @key(fields: "owner")'
        " { id: ID! owner: Owner! }\ntype Owner { name: String! }"
    )
    problems = [p for fields, _ in keys(doc, link)["T"] for p in key_problems(built, "T", fields)]
    assert problems == [
        "T @key(fields: 'id owner { name } missing'): T has no field 'missing'",
        "T @key(fields: 'id { x }'): id is a ID, it has no fields to select",
        "T @key(fields: 'owner'): owner is a Owner, select its fields",
    ]
    assert "does not parse" in key_problems(built, "T", "id {")[0]


@strawberry.federation.type(keys=["id"])
class Bare:
    id: strawberry.ID
    name: str


@strawberry.type
class BareQuery:
    bare: Bare | None = None


def test_a_keyed_type_without_resolve_reference_is_found():
    schema = strawberry.federation.Schema(query=BareQuery, types=[Bare])
    assert entity_problems(schema, ["Bare", "Query"]) == [
        "Bare has a @key but no resolve_reference: _entities would build it from the key alone",
        "Query has a @key but is not in union _Entity: union _Entity = Bare",
        "Query has a @key but no resolve_reference: _entities would build it from the key alone",
    ]
