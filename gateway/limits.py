"""What one query may ask of the gateway: its depth, its estimated cost and its page sizes.

The cost is the number of fields the query would resolve at worst: a field costs 1 for each time it is reached,
and a list multiplies what lies below it by its `first` argument or, without one, by `LIST_GUESS`. A query over the
limit is refused before any subgraph is called, with the figure and the limit in the error.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    value_from_ast_untyped,
)
from graphql.execution import ExecutionResult
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.extensions.query_depth_limiter import create_validator

from dudao import subgraph

MAX_DEPTH = 12
MAX_COST = 50_000
LIST_GUESS = 5  # a list without `first` (a school's activities, a finding's notices) is assumed this long
KNOWN_SIZES = {("Jurisdiction", "children"): 40}  # lists known to run longer: a province has up to 40 divisions below


def page(first: int) -> int:
    """A page size, refused outside the services' bounds before any of them is called, rather than silently changed."""
    return subgraph.page(first, None)[0]


def cost(
    schema: GraphQLSchema, document: Any, variables: dict[str, Any] | None, operation_name: str | None = None
) -> int:
    """The worst-case number of fields the operation resolves."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next(
        (o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)), None
    )
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    return _cost(operation.selection_set, root, 1, None, fragments, variables or {}, schema)


def _cost(
    selections: SelectionSetNode,
    parent: GraphQLObjectType,
    times: int,
    pending: int | None,
    fragments,
    variables,
    schema,
) -> int:
    total = 0
    for node, owner in _fields(selections, parent, fragments, schema):
        name = node.name.value
        if name.startswith("__") or name not in owner.fields:
            continue
        definition = owner.fields[name]
        total += times
        if node.selection_set is None:
            continue
        first = _first(node, variables)
        is_list = is_list_type(get_nullable_type(definition.type))
        if is_list:  # this list's length: its own `first`, else the one its connection was given, else what we know
            size, below = first or pending or KNOWN_SIZES.get((owner.name, name), LIST_GUESS), None
        else:  # a connection passes its `first` to the list inside it
            size, below = 1, first
        total += _cost(
            node.selection_set, get_named_type(definition.type), times * size, below, fragments, variables, schema
        )
    return total


def _fields(selections: SelectionSetNode, parent, fragments, schema) -> Iterator[tuple[FieldNode, Any]]:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            yield selection, parent
        elif isinstance(selection, (InlineFragmentNode, FragmentSpreadNode)):
            fragment = selection if isinstance(selection, InlineFragmentNode) else fragments.get(selection.name.value)
            if fragment is None:
                continue
            condition = fragment.type_condition
            owner = schema.get_type(condition.name.value) if condition else parent
            if hasattr(owner, "fields"):
                yield from _fields(fragment.selection_set, owner, fragments, schema)


def _first(node: FieldNode, variables: dict[str, Any]) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value == "first":
            if isinstance(argument.value, VariableNode):
                value = variables.get(argument.value.name.value)
            else:
                value = value_from_ast_untyped(argument.value)
            return value if isinstance(value, int) and value > 0 else None
    return None


class QueryCost(SchemaExtension):
    """Refuses an operation whose cost is over MAX_COST before anything runs."""

    def on_execute(self):  # type: ignore[override]
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            estimated = cost(context.schema._schema, document, context.variables, context.operation_name)
            if estimated > MAX_COST:
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"the query would resolve about {estimated} fields, more than the {MAX_COST} allowed:"
                            " ask for smaller pages or fewer nested lists",
                            extensions={"status": 422, "rule": "query_cost", "cost": estimated, "limit": MAX_COST},
                        )
                    ],
                )
        yield


# What people write: a page of a screen's worth of fields, a handful of aliases (dudao.subgraph.Limits).
REQUEST = subgraph.Limits(max_bytes=128 * 1024, max_tokens=10_000, max_aliases=200, max_directives=100)


# One rule for every request: strawberry's QueryDepthLimiter builds a new rule class per request, and a new class in
# the rules misses the cache of validated documents (dudao.subgraph), so every query was validated again.
_DEPTH_RULE = create_validator(MAX_DEPTH, None, None)


def extensions() -> list:
    """The gateway schema's limits, in the order they apply, after the caches of parsed and validated documents."""
    return [*subgraph.extensions(REQUEST), functools.partial(AddValidationRules, [_DEPTH_RULE]), QueryCost]
