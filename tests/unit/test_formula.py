"""Indicator formulas: the language's arithmetic and logic, every error rule, and garbage that must only ever be refused."""

from __future__ import annotations

import random

import pytest

from services.monitoring.domain.formula import EvaluationError, Formula, FormulaError

pytestmark = pytest.mark.unit


def value(text: str, **values: float | bool | None) -> float | bool:
    return Formula.parse(text).evaluate(values)


def parse_error(text: str, **options: int) -> FormulaError:
    with pytest.raises(FormulaError) as caught:
        Formula.parse(text, **options)
    return caught.value


def evaluation_error(text: str, **values: object) -> EvaluationError:
    formula = Formula.parse(text)
    with pytest.raises(EvaluationError) as caught:
        formula.evaluate(values)  # type: ignore[arg-type]
    return caught.value


# Arithmetic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 * 3 - 4 / 2", 4),
        ("10 - 4 - 3", 3),
        ("8 / 4 / 2", 1),
        ("-2 * 3", -6),
        ("2 - -3", 5),
        ("- -2", 2),
        ("-(1 + 2) * 2", -6),
    ],
)
def test_arithmetic_follows_the_usual_precedence_and_associates_left(text, expected):
    assert value(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("12", 12), ("4.2", 4.2), ("0.5", 0.5), (".5", 0.5), ("1e3", 1000), ("2.5E-1", 0.25)]
)
def test_numbers_are_written_as_in_a_spreadsheet(text, expected):
    assert value(text) == expected


def test_teachers_per_hundred_pupils():
    assert value("qualified_teachers / pupils * 100", qualified_teachers=45, pupils=900) == 5.0


def test_integer_inputs_give_float_results():
    result = value("a + b", a=1, b=2)
    assert result == 3.0 and type(result) is float


def test_a_long_sum_evaluates_without_deep_recursion():
    formula = Formula("+".join(["1"] * 20_000))  # unlimited length when constructed directly
    assert formula.evaluate({}) == 20_000


# Comparisons and logic


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1 < 2", True), ("2 <= 2", True), ("3 > 4", False), ("4 >= 5", False), ("1 == 1", True), ("1 != 1", False)],
)
def test_comparisons_give_booleans(text, expected):
    assert value(text) is expected


def test_cross_field_check():
    check = Formula.parse("qualified_teachers <= fulltime_teachers")
    assert check.evaluate({"qualified_teachers": 40, "fulltime_teachers": 42}) is True
    assert check.evaluate({"qualified_teachers": 43, "fulltime_teachers": 42}) is False


def test_arithmetic_binds_tighter_than_comparison():
    assert value("a + 1 < b * 2", a=3, b=2) is False
    assert value("a + b < c", a=1, b=1, c=3) is True


def test_chained_comparisons_are_refused_with_a_hint():
    error = parse_error("a < b < c")
    assert error.position == 6 and "cannot be chained" in error.detail and "a < b and b < c" in error.detail


def test_booleans_compare_for_equality():
    assert value("urban == true", urban=True) is True
    assert value("(1 < 2) != false") is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a and b", False),
        ("a or b", True),
        ("not a", False),
        ("not b and a", True),  # not binds tighter than and
        ("b and a or a", True),  # and binds tighter than or
        ("a or a and b", True),
        ("b and (a or a)", False),
        ("true and not false", True),
    ],
)
def test_boolean_logic(text, expected):
    assert value(text, a=True, b=False) is expected


def test_not_negates_a_whole_comparison():
    assert value("not pupils < 50", pupils=60) is True


def test_rule_from_a_framework():
    assert value("pupils > 0 or fulltime_teachers == 0", pupils=0, fulltime_teachers=0) is True
    assert value("pupils > 0 or fulltime_teachers == 0", pupils=0, fulltime_teachers=3) is False


# Functions


def test_min_max_sum_abs():
    assert value("min(3, 1, 2)") == 1 and value("max(3, 1, 2)") == 3 and value("min(7)") == 7
    assert value("sum(1, 2, 3.5)") == 6.5 and value("abs(-4)") == 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [("round(2.675, 2)", 2.68), ("round(0.5, 0)", 1), ("round(2.5, 0)", 3), ("round(-2.5, 0)", -3)],
)
def test_round_rounds_half_up_as_reports_do(text, expected):
    assert value(text) == expected


def test_round_to_one_decimal_of_a_ratio():
    assert value("round(teachers / pupils * 100, 1)", teachers=1, pupils=3) == 33.3


def test_if_evaluates_only_the_chosen_branch_so_never_divides_by_zero():
    formula = Formula.parse("if(pupils > 0, teachers / pupils, 0)")
    assert formula.evaluate({"pupils": 0, "teachers": 5}) == 0
    assert formula.evaluate({"pupils": 4, "teachers": 2}) == 0.5
    assert value("if(true, 1, never_given)") == 1


def test_and_or_short_circuit_like_if():
    assert value("pupils > 0 and teachers / pupils > 0.5", pupils=0, teachers=1) is False
    assert value("pupils == 0 or teachers / pupils > 0.5", pupils=0, teachers=1) is True


def test_framework_formula_with_a_conditional_term():
    text = "(pe_arts_teachers + if(rural and school_pupils >= 50 and school_pupils <= 99, visiting_pe_arts_teachers, 0)) / pupils * 100"
    values = {"pe_arts_teachers": 3, "rural": True, "school_pupils": 60, "visiting_pe_arts_teachers": 1, "pupils": 200}
    assert Formula.parse(text).evaluate(values) == 2.0
    assert Formula.parse(text).evaluate({**values, "rural": False}) == 1.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min()", "min() takes at least 1 argument, got 0"),
        ("max()", "max() takes at least 1 argument, got 0"),
        ("sum()", "sum() takes at least 1 argument, got 0"),
        ("abs(1, 2)", "abs() takes exactly 1 argument, got 2"),
        ("round(1)", "round() takes exactly 2 arguments, got 1"),
        ("if(true, 1)", "if() takes exactly 3 arguments, got 2"),
        ("if(true, 1, 2, 3)", "if() takes exactly 3 arguments, got 4"),
    ],
)
def test_functions_check_their_arity_when_parsed(text, message):
    error = parse_error(text)
    assert error.detail == f"{message} at position 0" and error.position == 0


@pytest.mark.parametrize("digits", ["-1", "x", "1.5", "16", "true", "1 + 1"])
def test_round_takes_literal_digits_from_0_to_15(digits):
    assert "round()" in parse_error(f"round(x, {digits})").detail


def test_unknown_function_is_named_with_the_allowed_ones():
    error = parse_error("1 + median(a, b)")
    assert error.position == 4
    assert "'median'" in error.detail and "abs, if, max, min, round, sum" in error.detail


# Variables


def test_variables_are_the_identifiers_used_not_function_names_or_keywords():
    formula = Formula.parse("if(rural and not urban, max(a, b), round(c, 2)) + a")
    assert formula.variables == frozenset({"rural", "urban", "a", "b", "c"})
    assert Formula.parse("1 + 2").variables == frozenset()


# Evaluation errors


def test_division_by_zero_names_the_divisor():
    error = evaluation_error("teachers / pupils", teachers=3, pupils=0)
    assert (error.rule, error.variable) == ("division_by_zero", "pupils")
    assert evaluation_error("1 / (2 - 2)").rule == "division_by_zero"


def test_a_variable_without_a_key_is_unknown():
    error = evaluation_error("a + b", a=1)
    assert (error.rule, error.variable) == ("unknown_variable", "b")


def test_a_variable_given_as_none_is_missing():
    error = evaluation_error("a + b", a=1, b=None)
    assert (error.rule, error.variable) == ("missing_value", "b")


@pytest.mark.parametrize(
    "text", ["flag + 1", "1 * flag", "-flag", "flag < 2", "abs(flag)", "min(1, flag)", "round(flag, 1)"]
)
def test_arithmetic_on_a_boolean_is_not_a_number(text):
    error = evaluation_error(text, flag=True)
    assert (error.rule, error.variable) == ("not_a_number", "flag")


def test_a_number_compared_with_a_boolean_is_refused():
    assert evaluation_error("flag == 1", flag=True).rule == "not_a_boolean"
    assert evaluation_error("1 == flag", flag=True).rule == "not_a_number"


@pytest.mark.parametrize("text", ["n and true", "false or n", "not n", "if(n, 1, 2)"])
def test_logic_on_a_number_is_not_a_boolean(text):
    error = evaluation_error(text, n=1)
    assert (error.rule, error.variable) == ("not_a_boolean", "n")


@pytest.mark.parametrize("given", ["12", float("nan"), float("inf"), 10**400, [1]])
def test_values_that_are_not_finite_numbers_are_refused(given):
    error = evaluation_error("x + 1", x=given)
    assert (error.rule, error.variable) == ("not_a_number", "x")


def test_overflow_is_refused_rather_than_carried_as_infinity():
    assert evaluation_error("x * 10", x=1e308).rule == "not_a_number"
    assert evaluation_error("sum(x, x)", x=1e308).rule == "not_a_number"


def test_evaluation_errors_are_value_errors_with_a_detail():
    error = evaluation_error("a", b=1)
    assert isinstance(error, ValueError) and error.detail == str(error) == "no value given for 'a'"


# Parse errors


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("a + $b", 4, "unexpected character '$'"),
        ("a = b", 2, "use '=='"),
        ("a && b", 2, "use 'and'"),
        ("min（a, b）", 3, "use ASCII '('"),
        ("a +", 3, "expected a number, a name or '(' but found the end of the formula"),
        ("(a + b", 6, "expected ')' but found the end of the formula"),
        ("min(a, b", 8, "expected ')'"),
        ("a + b)", 5, "unbalanced ')'"),
        ("a b", 2, "expected an operator or the end of the formula but found 'b'"),
        ("min(a,)", 6, "found ')'"),
        ("a * and", 4, "found 'and'"),
        ("a == not b", 5, "found 'not'"),
        ("1e999999", 0, "number too large"),
    ],
)
def test_parse_errors_say_what_was_expected_and_where(text, position, fragment):
    error = parse_error(text)
    assert error.position == position
    assert fragment in error.detail and f"at position {position}" in error.detail


def test_expected_close_parenthesis_at_its_position():
    assert (
        parse_error("(teachers / pupils * 1").detail == "expected ')' but found the end of the formula at position 22"
    )


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_an_empty_formula_is_refused(text):
    assert (parse_error(text).detail, parse_error(text).position) == ("empty formula", 0)


def test_a_formula_longer_than_the_limit_is_refused():
    error = parse_error("a + " * 200 + "a")
    assert error.position == 500 and "too long" in error.detail and "801" in error.detail
    assert Formula.parse("a + " * 200 + "a", max_length=1000).variables == {"a"}
    assert parse_error("a + b", max_length=3).position == 3


@pytest.mark.parametrize(("opening", "fifty_first"), [("(", 50), ("-", 50), ("abs(", 203), ("not ", 200)])
def test_nesting_is_allowed_to_50_levels_and_no_deeper(opening, fifty_first):
    closing = ")" if opening.endswith("(") else ""
    operand = "true" if opening == "not " else "1"
    Formula.parse(opening * 50 + operand + closing * 50)
    error = parse_error(opening * 51 + operand + closing * 51)
    assert error.detail == f"nesting deeper than 50 at position {fifty_first}"  # a call's nesting opens at its '('


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__(os)",
        "().__class__",
        "a.b",
        "a.__class__",
        "open(x)",
        "eval(x)",
        "[1]",
        "x[0]",
        "lambda: 1",
        "a if b else c",
        "'s'",
        "a; b",
        "a ** 2",
        "a % 2",
        "`a`",
        'exec("1")',
    ],
)
def test_nothing_of_python_is_reachable(text):
    parse_error(text)


@pytest.mark.parametrize("text", ["a\x00", "学生数 / 100", "ｐupils", "a\u00a0+ b", "１ + 1", "a +\ud800"])
def test_nul_bytes_and_non_ascii_are_refused(text):
    parse_error(text)


def test_garbage_only_ever_raises_formula_error():
    rng = random.Random(20260301)
    pieces = [
        *"abxyz_019.eE+-*/<>=!(),  \t\n\x00'\"[]{}:;@#$%^&|~`\\（学",
        "and",
        "or",
        "not",
        "true",
        "false",
        "min(",
        "if(",
        "round(",
        "abs(",
        "sum(",
        "max(",
        "__import__",
        "1e999999",
        "1e308",
        ".5",
        "<=",
        "==",
        "!=",
        "(" * 60,
        "-" * 60,
    ]
    valid = [
        "qualified_teachers / pupils * 100",
        "if(p > 0, t / p, 0)",
        "a <= b and not c",
        "round(min(a, b) * 1.5, 2)",
    ]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(400)]
    for base in valid:  # one-character edits of good formulas reach the parser's corners better than noise alone
        for _ in range(50):
            at, char = rng.randrange(len(base) + 1), rng.choice(pieces[:40])
            texts.append(base[:at] + char + base[at + rng.randint(0, 1) :])
    parsed = 0
    for text in texts:
        try:
            formula = Formula.parse(text)
        except FormulaError as error:
            assert 0 <= error.position <= max(len(text), 500) and error.detail
            continue
        parsed += 1
        values = {name: rng.choice([0, 1, 2.5, -3, True, False]) for name in formula.variables}
        try:
            assert isinstance(formula.evaluate(values), float | bool)
        except EvaluationError as error:
            assert error.rule in {"division_by_zero", "not_a_number", "not_a_boolean"}
    assert parsed > 20  # the garbage does reach evaluation, not just the tokenizer


# The value object


def test_formulas_are_equal_hashable_and_printed_by_text():
    assert Formula.parse("a + b") == Formula("a + b") and hash(Formula.parse("a + b")) == hash(Formula("a + b"))
    assert Formula.parse("a + b") != Formula.parse("a+b")
    assert str(Formula.parse("a + b")) == "a + b" and repr(Formula("a")) == "Formula(text='a')"
    assert len({Formula("a"), Formula("a"), Formula("b")}) == 2


def test_constructing_directly_parses_too():
    with pytest.raises(FormulaError):
        Formula("a +")


def test_formulas_are_immutable():
    formula = Formula.parse("a")
    with pytest.raises(AttributeError):
        formula.text = "b"  # type: ignore[misc]


def test_formula_errors_are_value_errors():
    assert isinstance(parse_error("("), ValueError)
