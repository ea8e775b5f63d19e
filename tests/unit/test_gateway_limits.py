"""The gateway's query cost estimate and the literals it writes into subgraph queries: pure code."""

from __future__ import annotations

import functools

import pytest
from graphql import parse

from gateway import limits
from gateway.loaders import Ask, literal
from gateway.schema import schema

pytestmark = pytest.mark.unit


def cost(query: str, variables: dict | None = None) -> int:
    return limits.cost(schema._schema, parse(query), variables)


def test_a_connection_multiplies_what_its_nodes_ask_by_its_page_size():
    # schools (1) + nodes (1) + 20 × name; the nodes list takes the connection's `first`, not a guess
    assert cost("{ schools(first: 20) { nodes { name } } }") == 1 + 1 + 20


def test_a_list_without_first_is_guessed_and_nested_lists_multiply():
    # 10 schools: nodes, name, activities; each school's activities are guessed at LIST_GUESS, each with a title
    guess = limits.LIST_GUESS
    assert cost("{ schools(first: 10) { nodes { name activities { title } } } }") == 1 + 1 + 10 + 10 + 10 * guess


def test_variables_fragments_and_inline_fragments_count_like_fields():
    query = "query($n: Int!) { schools(first: $n) { nodes { ...S } } } fragment S on School { name ... on School { stage } }"
    assert cost(query, {"n": 7}) == 1 + 1 + 7 * 2


def test_introspection_is_free_and_known_long_lists_use_their_size():
    assert cost("{ __schema { types { name fields { name } } } }") == 0
    per_level = limits.KNOWN_SIZES[("Jurisdiction", "children")]
    assert cost('{ jurisdiction(code: "000000") { children { code } } }') == 1 + 1 + per_level


def test_page_sizes_outside_the_bounds_are_refused_not_changed():
    assert limits.page(200) == 200
    for bad in (0, 201, -5):
        with pytest.raises(Exception) as refused:
            limits.page(bad)
        assert refused.value.extensions["rule"] == "page_size"


@pytest.mark.parametrize("value", ['") { __typename } x: schools(first: 200', '引号"和\\反斜杠\n换行', "\u0000\ud800"])
def test_a_string_literal_cannot_break_out_of_its_argument(value):
    text = Ask("schools", "name", (("jurisdiction", value),)).text("a0")
    document = parse("{ " + text + " }")
    [field] = document.definitions[0].selection_set.selections
    assert field.alias.value == "a0" and [a.name.value for a in field.arguments] == ["jurisdiction"]
    assert field.arguments[0].value.value == value.replace("\ud800", "?")


def test_literals_cover_the_values_the_gateway_sends():
    assert literal(None) == "null" and literal(True) == "true" and literal(3) == "3"
    assert literal(("a", 1, False)) == '["a", 1, false]'
    with pytest.raises(TypeError):
        literal({"a": 1})


async def test_a_query_asked_again_is_not_validated_again_and_the_depth_limit_still_holds(monkeypatch):
    """The start page asks the same document hundreds of times a second: validating it each time cost a fifth of the
    gateway's CPU. Every request's rules must be the same objects for the cache of validated documents to hit."""
    import strawberry.schema.schema as strawberry_schema

    from dudao import subgraph

    validated = []
    original = strawberry_schema.validate_document
    monkeypatch.setattr(
        subgraph, "_VALIDATE", functools.lru_cache(maxsize=8)(lambda *a: validated.append(1) or original(*a))
    )
    query = "query($j: String!) { dashboard(jurisdiction: $j) { month } }"
    for _ in range(3):
        await schema.execute(query, variable_values={"j": "500120"}, context_value={"principal": None})
    assert len(validated) == 1
    deep = await schema.execute('{ jurisdiction(code: "500120") {' + " parent {" * 12 + " code" + " }" * 13 + " }")
    assert "exceeds maximum operation depth" in deep.errors[0].message
