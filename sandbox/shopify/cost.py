"""A query's cost, calculated the way Shopify documents it for the GraphQL Admin API
(shopify.dev, "GraphQL Admin API rate limits", cost calculation): a scalar or enum field costs
0, an object 1, a connection 2 plus `first` times the cost of one of its nodes (nested
connections multiply), a mutation 10. The requested cost is that maximum, worked out before
running the query; the actual cost counts what came back (a short page, a null object), and
the bucket is refunded the difference.

Where the documentation is silent the sandbox chooses, and says so here: `pageInfo` and the
edge objects cost nothing (the cost of a connection is "2 + first × node"); a list with a
`first` argument (`Order.refunds`) costs `first` × its element; a plain list of objects
(`taxLines`, `discountAllocations`) costs as one element.
"""

from __future__ import annotations

from typing import Any, Final

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

MUTATION_COST: Final = 10
CONNECTION_COST: Final = 2
_REQUESTED: Final = object()


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def fields(self, selection_set: SelectionSetNode | None) -> list[FieldNode]:
        found: list[FieldNode] = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                found.extend(self.fields(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    found.extend(self.fields(fragment.selection_set))
        return found

    def selection(self, parent: GraphQLObjectType, node: SelectionSetNode | None, data: Any) -> int:
        total = 0
        for field in self.fields(node):
            definition = parent.fields.get(field.name.value)
            if definition is None:
                continue
            if data is _REQUESTED:
                value: Any = _REQUESTED
            elif isinstance(data, dict):
                value = data.get(field.alias.value if field.alias else field.name.value)
            else:
                value = None
            total += self.field(definition, field, value)
        return total

    def field(self, definition: GraphQLField, node: FieldNode, data: Any) -> int:
        named = get_named_type(definition.type)
        if not isinstance(named, GraphQLObjectType):
            return 0  # scalars and enums
        if named.name.endswith("Connection"):
            return self.connection(named, definition, node, data)
        if _is_list(definition.type):
            first = self.argument(definition, node, "first")
            if data is _REQUESTED:
                count = first if first is not None else 1
                return count * self.element(named, node, _REQUESTED)
            items = data if isinstance(data, list) else []
            if first is None:  # a plain list costs as one element
                return self.element(named, node, items[0]) if items else 0
            return sum(self.element(named, node, item) for item in items)
        if data is None:
            return 0
        return self.element(named, node, data)

    def element(self, named: GraphQLObjectType, node: FieldNode, data: Any) -> int:
        return 1 + self.selection(named, node.selection_set, data)

    def connection(
        self, named: GraphQLObjectType, definition: GraphQLField, node: FieldNode, data: Any
    ) -> int:
        node_type = get_named_type(named.fields["nodes"].type)
        assert isinstance(node_type, GraphQLObjectType)
        if data is _REQUESTED:
            first = self.argument(definition, node, "first") or 0
            items: list[tuple[Any, Any]] = [(_REQUESTED, _REQUESTED)] * first
        else:
            connection = data if isinstance(data, dict) else {}
            edges = connection.get("edges") or []
            nodes = connection.get("nodes") or []
            items = [
                (edges[i] if i < len(edges) else None, nodes[i] if i < len(nodes) else None)
                for i in range(max(len(edges), len(nodes)))
            ]
        per_item = 0
        for edge, item in items:
            for field in self.fields(node.selection_set):
                if field.name.value == "nodes":
                    per_item += self.element(node_type, field, item)
                elif field.name.value == "edges":
                    for inner in self.fields(field.selection_set):
                        if inner.name.value == "node":
                            inner_key = inner.alias.value if inner.alias else "node"
                            value = edge if edge is _REQUESTED else _item(edge, inner_key)
                            per_item += self.element(node_type, inner, value)
        return CONNECTION_COST + per_item

    def argument(self, definition: GraphQLField, node: FieldNode, name: str) -> int | None:
        """The integer `name` argument, from the query text or its variables (or its default)."""
        if name not in definition.args:
            return None
        value: Any = definition.args[name].default_value
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def _item(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _is_list(kind: Any) -> bool:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def query_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    data: Any = _REQUESTED,
) -> int:
    """The requested cost (no `data`), or the actual cost of the `data` that came back."""
    defaults = {
        d.variable.name.value: int(d.default_value.value)
        for d in operation.variable_definitions or ()
        if isinstance(d.default_value, IntValueNode)
    }
    walk = _Walk(schema, fragments, defaults | variables)
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST * len(walk.fields(operation.selection_set))
    root = schema.query_type
    assert root is not None
    return walk.selection(root, operation.selection_set, data)
