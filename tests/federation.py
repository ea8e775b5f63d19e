"""Federation-2 subgraph checks without a router or Apollo's tooling: the SDL a router fetches, built with graphql-core
over the federation definitions it uses, @key field sets that name real fields, and keyed types that are entities."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import strawberry
from graphql import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLObjectType,
    GraphQLSchema,
    ListValueNode,
    NamedTypeNode,
    ObjectValueNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    Visitor,
    build_ast_schema,
    build_client_schema,
    get_named_type,
    is_leaf_type,
    parse,
    print_type,
    specified_directives,
    visit,
)
from graphql.language import SelectionSetNode

FEDERATION_URL = re.compile(r"^https://specs\.apollo\.dev/federation/v2\.(\d+)$")

# Each Federation-2 directive by its spec name: the minor version that brought it and its definition, where {name}
# is the name the subgraph uses for it and {FieldSet}, {Scope}, {Policy}, {ContextFieldValue} the spec's scalars'.
DIRECTIVES = {
    "key": (0, "directive @{name}(fields: {FieldSet}!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE"),
    "requires": (0, "directive @{name}(fields: {FieldSet}!) on FIELD_DEFINITION"),
    "provides": (0, "directive @{name}(fields: {FieldSet}!) on FIELD_DEFINITION"),
    "external": (0, "directive @{name}(reason: String) on OBJECT | FIELD_DEFINITION"),
    "extends": (0, "directive @{name} on OBJECT | INTERFACE"),
    "shareable": (0, "directive @{name} repeatable on OBJECT | FIELD_DEFINITION"),
    "tag": (
        0,
        "directive @{name}(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION"
        " | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION | SCHEMA",
    ),
    "inaccessible": (
        0,
        "directive @{name} on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM"
        " | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION",
    ),
    "override": (0, "directive @{name}(from: String!, label: String) on FIELD_DEFINITION"),
    "composeDirective": (1, "directive @{name}(name: String!) repeatable on SCHEMA"),
    "interfaceObject": (3, "directive @{name} on OBJECT"),
    "authenticated": (5, "directive @{name} on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM"),
    "requiresScopes": (
        5,
        "directive @{name}(scopes: [[{Scope}!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM",
    ),
    "policy": (
        6,
        "directive @{name}(policies: [[{Policy}!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM",
    ),
    "context": (8, "directive @{name}(name: String!) repeatable on INTERFACE | OBJECT | UNION"),
    "fromContext": (8, "directive @{name}(field: {ContextFieldValue}) on ARGUMENT_DEFINITION"),
    "cost": (
        9,
        "directive @{name}(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR",
    ),
    "listSize": (
        9,
        "directive @{name}(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],"
        " requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION",
    ),
}
SCALARS = ("FieldSet", "Scope", "Policy", "ContextFieldValue")
LINK = {
    "link": "directive @link(url: String!, as: String, import: [link__Import], for: link__Purpose) repeatable on SCHEMA",
    "link__Import": "scalar link__Import",
    "link__Purpose": "enum link__Purpose { SECURITY EXECUTION }",
}
ENTITY_ADDITIONS = {"_Any": "scalar _Any"}  # may appear in a subgraph's SDL (strawberry prints Query._entities there)


def subgraph_sdl(schema: strawberry.Schema) -> str:
    """The SDL exactly as a router asks a subgraph for it."""
    result = schema.execute_sync("query SubgraphIntrospectQuery { _service { sdl } }")
    assert not result.errors, f"_service {{ sdl }} failed: {result.errors}"
    return result.data["_service"]["sdl"]


@dataclass
class FederationLink:
    """The subgraph's @link to the federation spec: its version and the names it uses for the spec's definitions."""

    url: str
    minor: int
    prefix: str
    directives: dict[str, str] = field(default_factory=dict)  # name used (no @) -> spec name
    types: dict[str, str] = field(default_factory=dict)  # spec name -> name used

    def spec_directive(self, name: str) -> str | None:
        if name in self.directives:
            return self.directives[name]
        return name.removeprefix(self.prefix) if name.startswith(self.prefix) else None

    def local_directive(self, spec: str) -> str:
        return next((local for local, s in self.directives.items() if s == spec), self.prefix + spec)

    def local_type(self, spec: str) -> str:
        return self.types.get(spec, self.prefix + spec)


def federation_link(doc: DocumentNode) -> FederationLink:
    """The schema's @link to federation v2.x, or an AssertionError saying what is wrong with it."""
    links = [
        d
        for node in doc.definitions
        if isinstance(node, SchemaDefinitionNode | SchemaExtensionNode)
        for d in node.directives or ()
        if d.name.value == "link"
    ]
    args = [{a.name.value: a.value for a in d.arguments} for d in links]
    urls = [a["url"].value for a in args if isinstance(a.get("url"), StringValueNode)]
    federation = [
        (a["url"].value, a)
        for a in args
        if isinstance(a.get("url"), StringValueNode) and "/federation/" in a["url"].value
    ]
    assert federation, f"no @link to the federation spec on the schema (links: {urls or 'none'})"
    url, arg = federation[0]
    match = FEDERATION_URL.match(url)
    assert match, f"@link(url: {url!r}) is not Federation 2 (https://specs.apollo.dev/federation/v2.x)"
    namespace = arg["as"].value if isinstance(arg.get("as"), StringValueNode) else "federation"
    link = FederationLink(url=url, minor=int(match.group(1)), prefix=f"{namespace}__")
    imports = arg.get("import")
    for item in imports.values if isinstance(imports, ListValueNode) else ():
        if isinstance(item, StringValueNode):
            name = local = item.value
        elif isinstance(item, ObjectValueNode):
            fields = {f.name.value: f.value.value for f in item.fields}
            name, local = fields["name"], fields.get("as", fields["name"])
        else:
            raise AssertionError(f"@link import {item} is neither a name nor {{name, as}}")
        if name.startswith("@"):
            assert name[1:] in DIRECTIVES, f"@link imports {name}, which is not a Federation 2 directive"
            link.directives[local.removeprefix("@")] = name[1:]
        else:
            assert name in SCALARS, f"@link imports {name}, which is not a Federation 2 type"
            link.types[name] = local
    return link


class _Directives(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.used: set[str] = set()

    def enter_directive(self, node: DirectiveNode, *_) -> None:
        self.used.add(node.name.value)


def used_directives(doc: DocumentNode) -> set[str]:
    found = _Directives()
    visit(doc, found)
    return found.used


def federation_definitions(doc: DocumentNode, link: FederationLink) -> str:
    """The definitions of the federation directives and types the SDL uses and does not define itself; an
    AssertionError names any directive that is neither built in, defined, nor imported from federation."""
    defined = {d.name.value for d in doc.definitions if isinstance(d, DirectiveDefinitionNode)}
    builtin = {d.name for d in specified_directives}
    definitions, unknown = [], []
    for name in sorted(used_directives(doc) - defined - builtin):
        spec = "link" if name == "link" else link.spec_directive(name)
        if spec == "link":
            definitions += LINK.values()
        elif spec is None or spec not in DIRECTIVES:
            unknown.append(f"@{name}" + (f" (as @{spec})" if spec else ""))
        elif DIRECTIVES[spec][0] > link.minor:
            unknown.append(f"@{name} (needs federation v2.{DIRECTIVES[spec][0]}, the link is to v2.{link.minor})")
        else:
            scalars = {s: link.local_type(s) for s in SCALARS}
            definitions.append(DIRECTIVES[spec][1].format(name=name, **scalars))
    assert not unknown, (
        f"unknown directive(s) {', '.join(unknown)}: neither GraphQL's own, defined in the SDL, nor a Federation 2 directive"
        f" imported by @link(url: {link.url!r}) or used as @{link.prefix}name"
    )
    text = "\n".join(definitions)
    named = {n.name.value for n in _named_types(doc) + (_named_types(parse(text)) if text else [])}
    have = {d.name.value for d in doc.definitions if isinstance(d, TypeDefinitionNode)}
    extra = [f"scalar {link.local_type(s)}" for s in SCALARS if link.local_type(s) in named - have]
    extra += [
        definition
        for name, definition in (LINK | ENTITY_ADDITIONS).items()
        if name in named - have and definition not in definitions
    ]
    return "\n".join([text, *extra])


def _named_types(doc: DocumentNode) -> list[NamedTypeNode]:
    found: list[NamedTypeNode] = []

    class Named(Visitor):
        def enter_named_type(self, node: NamedTypeNode, *_) -> None:
            found.append(node)

    visit(doc, Named())
    return found


def build_subgraph(sdl: str) -> tuple[GraphQLSchema, DocumentNode, FederationLink]:
    """The SDL built with graphql-core over the federation definitions it uses (raises on any invalid SDL)."""
    doc = parse(sdl)
    link = federation_link(doc)
    built = build_ast_schema(parse(sdl + "\n" + federation_definitions(doc, link)))
    return built, doc, link


def keys(doc: DocumentNode, link: FederationLink) -> dict[str, list[tuple[str, bool]]]:
    """Each keyed type's @key field sets, with whether the key is resolvable here."""
    key = link.local_directive("key")
    found: dict[str, list[tuple[str, bool]]] = {}
    for node in doc.definitions:
        if not isinstance(node, TypeDefinitionNode | TypeExtensionNode):
            continue
        for d in node.directives or ():
            if d.name.value != key:
                continue
            args = {a.name.value: a.value for a in d.arguments}
            resolvable = getattr(args.get("resolvable"), "value", True) is not False
            found.setdefault(node.name.value, []).append((args["fields"].value, resolvable))
    return found


def key_problems(built: GraphQLSchema, type_name: str, fields: str) -> list[str]:
    """What is wrong with one @key(fields:) field set: it must parse as a selection set of the type's own fields,
    without arguments, selecting into object fields and not into leaves."""
    try:
        selection = parse("{ " + fields + " }").definitions[0].selection_set
    except Exception as e:
        return [f"{type_name} @key(fields: {fields!r}) does not parse as a selection set: {e}"]
    return _selection_problems(built.get_type(type_name), selection, f"{type_name} @key(fields: {fields!r})")


def _selection_problems(parent: object, selection: SelectionSetNode, where: str) -> list[str]:
    problems = []
    for node in selection.selections:
        if not isinstance(node, FieldNode):
            problems.append(f"{where}: fragments are not allowed in a key")
            continue
        name = node.name.value
        if name == "__typename":
            continue
        found = getattr(parent, "fields", {}).get(name)
        if found is None:
            problems.append(f"{where}: {getattr(parent, 'name', parent)} has no field {name!r}")
            continue
        if node.arguments:
            problems.append(f"{where}: {name} has arguments, a key field cannot")
        inner = get_named_type(found.type)
        if node.selection_set is not None and is_leaf_type(inner):
            problems.append(f"{where}: {name} is a {inner.name}, it has no fields to select")
        elif node.selection_set is None and not is_leaf_type(inner):
            problems.append(f"{where}: {name} is a {inner.name}, select its fields")
        elif node.selection_set is not None:
            problems += _selection_problems(inner, node.selection_set, where)
    return problems


def entity_problems(schema: strawberry.Schema, keyed: list[str]) -> list[str]:
    """What keeps keyed types from being fetched by `_entities` in the executable schema."""
    executable = build_client_schema(schema.introspect())
    problems = []
    query = executable.query_type
    entities = query.fields.get("_entities") if isinstance(query, GraphQLObjectType) else None
    if (
        entities is None
        or str(entities.type) != "[_Entity]!"
        or str(entities.args.get("representations").type) != "[_Any!]!"
    ):
        problems.append("Query._entities(representations: [_Any!]!): [_Entity]! is missing or has another signature")
    service = query.fields.get("_service") if isinstance(query, GraphQLObjectType) else None
    if service is None or str(service.type) != "_Service!":
        problems.append("Query._service: _Service! is missing")
    union = executable.get_type("_Entity")
    members = {t.name for t in union.types} if union is not None else set()
    for name in keyed:
        if name not in members:
            problems.append(
                f"{name} has a @key but is not in union _Entity: {print_type(union) if union else 'no _Entity'}"
            )
        definition = schema.get_type_by_name(name)
        if not hasattr(getattr(definition, "origin", None), "resolve_reference"):
            problems.append(f"{name} has a @key but no resolve_reference: _entities would build it from the key alone")
    return problems
