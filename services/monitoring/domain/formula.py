"""Indicator formulas and checks (`qualified_teachers / pupils * 100`): a small language parsed by hand, never by eval."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, NamedTuple

__all__ = ["EvaluationError", "Formula", "FormulaError"]

MAX_NESTING = 50  # parentheses, calls, `-` and `not`: bounds recursion in the parser and the evaluator alike
MAX_ROUND_DIGITS = 15  # a float carries no more than this many significant decimal digits
FUNCTIONS = {"abs": (1, 1), "if": (3, 3), "max": (1, None), "min": (1, None), "round": (2, 2), "sum": (1, None)}
KEYWORDS = frozenset({"and", "or", "not", "true", "false"})
COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})

# How tightly each binary operator binds. `not` sits between `and` and the comparisons, as in Python.
_BINDING = {"or": 1, "and": 2, **dict.fromkeys(COMPARISONS, 4), "+": 5, "-": 5, "*": 6, "/": 6}
_NOT, _NEGATE = 3, 7
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
# [0-9] and [A-Za-z] rather than \d and \w, which would also accept non-ASCII digits and letters.
_TOKEN = re.compile(
    r"(?P<space>[ \t\r\n]+)|(?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op><=|>=|==|!=|[-+*/<>(),])"
)
_HINTS = {
    "=": "; use '==' to compare",
    "&": "; use 'and'",
    "|": "; use 'or'",
    "!": "; use 'not' or '!='",
    "（": "; use ASCII '('",
    "）": "; use ASCII ')'",
    "，": "; use ASCII ','",
}
_FOLDS: dict[str, Callable[[list[float]], float]] = {"abs": lambda xs: abs(xs[0]), "min": min, "max": max, "sum": sum}
_DECIMAL = Context(prec=40)  # enough for 2**52 with MAX_ROUND_DIGITS decimals


class FormulaError(ValueError):
    """A formula that cannot be parsed. `.position` is the 0-based character offset, `.detail` the human message."""

    def __init__(self, detail: str, position: int):
        super().__init__(detail)
        self.detail = detail
        self.position = position


class EvaluationError(ValueError):
    """A formula that cannot be evaluated with the given values: `.rule` is one of
    "division_by_zero", "unknown_variable", "not_a_number", "not_a_boolean", "missing_value"; `.detail` the human message;
    `.variable` the variable concerned when there is one (else None)."""

    def __init__(self, detail: str, *, rule: str, variable: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.rule = rule
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Constant:
    value: float | bool


@dataclass(frozen=True, slots=True)
class Variable:
    name: str


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" or "not"
    operand: Node


@dataclass(frozen=True, slots=True)
class Chain:
    """`first op1 x1 op2 x2 ...` folded left to right; flat, so a long sum cannot make the tree deep."""

    first: Node
    rest: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Constant | Variable | Unary | Chain | Call


class _Token(NamedTuple):
    kind: str  # "number", "name", "op" or "end"
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            raise FormulaError(f"unexpected character {char!r} at position {position}{_HINTS.get(char, '')}", position)
        if match.lastgroup != "space":
            tokens.append(_Token(match.lastgroup or "", match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    """Precedence climbing over the token list; every `_Token.text` comparison is safe because kinds never share text."""

    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.at = 0
        self.depth = 0
        self.variables: set[str] = set()

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def advance(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def error(self, detail: str, position: int | None = None) -> FormulaError:
        position = self.token.position if position is None else position
        return FormulaError(f"{detail} at position {position}", position)

    def expected(self, what: str) -> FormulaError:
        found = "the end of the formula" if self.token.kind == "end" else repr(self.token.text)
        return self.error(f"expected {what} but found {found}")

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise FormulaError("empty formula", 0)
        tree = self.expression(1)
        if self.token.text == ")":
            raise self.error("unbalanced ')' with no '(' to close")
        if self.token.kind != "end":
            raise self.expected("an operator or the end of the formula")
        return tree

    def expression(self, floor: int) -> Node:
        """Operands joined by operators binding at least `floor` tightly."""
        first, rest = self.prefix(floor), []
        while _BINDING.get(self.token.text, 0) >= floor:
            op = self.advance().text
            rest.append((op, self.expression(_BINDING[op] + 1)))
            if op in COMPARISONS and self.token.text in COMPARISONS:
                raise self.error("comparisons cannot be chained; write 'a < b and b < c'")
        return Chain(first, tuple(rest)) if rest else first

    def nested(self, parse: Callable[..., Any], *args: Any) -> Any:
        opening = self.advance()
        if self.depth == MAX_NESTING:
            raise self.error(f"nesting deeper than {MAX_NESTING}", opening.position)
        self.depth += 1
        result = parse(*args)
        self.depth -= 1
        return result

    def prefix(self, floor: int) -> Node:
        token = self.token
        if token.text == "-":
            return Unary("-", self.nested(self.prefix, _NEGATE))
        if token.text == "not" and floor <= _NOT:  # `a == not b` is as wrong here as in Python
            return Unary("not", self.nested(self.expression, _NOT))
        if token.text == "(":
            inner = self.nested(self.expression, 1)
            self.expect(")")
            return inner
        if token.kind == "number":
            value = float(self.advance().text)
            if math.isinf(value):
                raise self.error("number too large", token.position)
            return Constant(value)
        if token.text in ("true", "false"):
            return Constant(self.advance().text == "true")
        if token.kind == "name" and token.text not in KEYWORDS:
            self.advance()
            if self.token.text == "(":
                return self.call(token)
            self.variables.add(token.text)
            return Variable(token.text)
        raise self.expected("a number, a name or '('")

    def call(self, name: _Token) -> Call:
        if name.text not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise self.error(f"unknown function {name.text!r} (allowed: {allowed})", name.position)
        args = self.nested(self.arguments)
        low, high = FUNCTIONS[name.text]
        if len(args) < low or (high is not None and len(args) > high):
            wanted = f"exactly {low}" if low == high else f"at least {low}"
            raise self.error(f"{name.text}() takes {wanted} argument{'s' * (low != 1)}, got {len(args)}", name.position)
        if name.text == "round" and not _is_digits(args[1]):
            raise self.error(f"round() takes a whole number from 0 to {MAX_ROUND_DIGITS} as its digits", name.position)
        return Call(name.text, args)

    def arguments(self) -> tuple[Node, ...]:
        args = []
        if self.token.text != ")":
            args.append(self.expression(1))
            while self.token.text == ",":
                self.advance()
                args.append(self.expression(1))
        self.expect(")")
        return tuple(args)

    def expect(self, text: str) -> None:
        if self.token.text != text:
            raise self.expected(repr(text))
        self.advance()


def _is_digits(node: Node) -> bool:
    # A literal, so evaluation is never asked for a precision Decimal cannot give; never negative, as `-` is an operator.
    return (
        isinstance(node, Constant)
        and type(node.value) is float
        and node.value.is_integer()
        and node.value <= MAX_ROUND_DIGITS
    )


@dataclass(frozen=True)
class Formula:
    """A parsed formula, equal and hashed by its text. `Formula(text)` parses too, without the length limit."""

    text: str
    _tree: Node = field(init=False, repr=False, compare=False)
    _variables: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parser = _Parser(self.text)
        object.__setattr__(self, "_tree", parser.parse())
        object.__setattr__(self, "_variables", frozenset(parser.variables))

    @classmethod
    def parse(cls, text: str, *, max_length: int = 500) -> Formula:
        if len(text) > max_length:
            raise FormulaError(f"formula too long: {len(text)} characters, at most {max_length}", max_length)
        return cls(text)

    @property
    def variables(self) -> frozenset[str]:
        return self._variables

    def evaluate(self, values: Mapping[str, float | int | bool | None]) -> float | bool:
        return _evaluate(self._tree, values)

    def __str__(self) -> str:
        return self.text


def _evaluate(node: Node, values: Mapping[str, Any]) -> float | bool:
    match node:
        case Constant(value):
            return value
        case Variable(name):
            return _lookup(name, values)
        case Unary("-", operand):
            return -_operand(operand, values, "'-'", float)
        case Unary("not", operand):
            return not _operand(operand, values, "'not'", bool)
        case Chain(first, rest):
            result, left = _evaluate(first, values), first
            for op, right in rest:
                if op in ("and", "or"):
                    # Short-circuits like `if`: `pupils > 0 and teachers / pupils > 0.5` never divides by zero.
                    if _typed(result, left, f"'{op}'", bool) == (op == "and"):
                        result = _operand(right, values, f"'{op}'", bool)
                else:
                    result = _apply(op, result, left, _evaluate(right, values), right)
                left = None  # from here on the result is computed, not a variable an error could name
            return result
        case Call("if", (condition, then, otherwise)):
            # Only the chosen branch runs, so `if(pupils > 0, teachers / pupils, 0)` never divides by zero.
            return _evaluate(then if _operand(condition, values, "if()", bool) else otherwise, values)
        case Call("round", (operand, Constant(digits))):
            return _round_half_up(_operand(operand, values, "round()", float), int(digits))
        case Call(name, args):
            numbers = [_operand(arg, values, f"{name}()", float) for arg in args]
            return _finite(_FOLDS[name](numbers), f"{name}()")
    raise AssertionError(f"unknown node {node!r}")  # pragma: no cover - the parser builds no other


def _apply(op: str, a: float | bool, left: Node | None, b: float | bool, right: Node) -> float | bool:
    """`a op b` for an arithmetic operator or a comparison; `left` and `right` say where the values came from."""
    if op in ("==", "!=") and isinstance(a, bool):
        return _OPERATORS[op](a, _typed(b, right, f"'{op}'", bool))
    a, b = _typed(a, left, f"'{op}'", float), _typed(b, right, f"'{op}'", float)
    if op == "/" and b == 0:
        variable = right.name if isinstance(right, Variable) else None
        subject = f" ({variable} is 0)" if variable else ""
        raise EvaluationError(f"division by zero{subject}", rule="division_by_zero", variable=variable)
    return _finite(_OPERATORS[op](a, b), f"'{op}'")


def _lookup(name: str, values: Mapping[str, Any]) -> float | bool:
    if name not in values:
        raise EvaluationError(f"no value given for {name!r}", rule="unknown_variable", variable=name)
    value = values[name]
    if value is None:
        raise EvaluationError(f"{name!r} has no value", rule="missing_value", variable=name)
    if isinstance(value, bool):
        return value
    if not isinstance(value, int | float):
        raise EvaluationError(f"{name!r} is a {type(value).__name__}, not a number", rule="not_a_number", variable=name)
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        number = math.inf
    if not math.isfinite(number):  # a NaN would make every check quietly false
        raise EvaluationError(f"{name!r} is not a finite number", rule="not_a_number", variable=name)
    return number


def _operand(node: Node, values: Mapping[str, Any], user: str, kind: type) -> Any:
    return _typed(_evaluate(node, values), node, user, kind)


def _typed(value: float | bool, node: Node | None, user: str, kind: type) -> Any:
    """`value` if it is of `kind` (bool, or float for numbers), else the error naming the variable it came from."""
    if isinstance(value, bool) == (kind is bool):
        return value
    rule, needs, got = (
        ("not_a_boolean", "true or false", "a number") if kind is bool else ("not_a_number", "a number", "a boolean")
    )
    variable = node.name if isinstance(node, Variable) else None
    subject = repr(variable) if variable else "its operand"
    raise EvaluationError(f"{user} needs {needs} but {subject} is {got}", rule=rule, variable=variable)


def _finite(result: float, user: str) -> float:
    # Inputs are finite, so only overflow gets here; inf would go on to become NaN and compare false everywhere.
    if not math.isfinite(result):
        raise EvaluationError(f"the result of {user} is too large", rule="not_a_number")
    return result


def _round_half_up(x: float, digits: int) -> float:
    # Reports round half up (四舍五入). Python's round() rounds half to even, and on the binary float 2.675 gives 2.67;
    # rounding the shortest decimal spelling gives what a person with a calculator expects.
    if abs(x) >= 2**52:  # no fractional digits left to round
        return x
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP, context=_DECIMAL))
