"""The toy world's task families and worked solutions (``oneshot_rlvr.toy.tasks``).

Answers are checked by an independent computation: each question's text is parsed here (regexes over
"What is 47 + 38 - 15?", "Which is larger: A or B?", and the word problem's story clauses) and evaluated
left to right by this file's own arithmetic; the module's ``apply`` / ``evaluate_chain`` are never used.
"""

from __future__ import annotations

import re
from statistics import mean

import pytest
from toy_arithmetic import evaluate_expression

from oneshot_rlvr.grading import grade
from oneshot_rlvr.toy.tasks import (FAMILIES, LEVELS, ROUTES, SLIP_DELTAS, Op, SolutionStyle, ToyProblem,
                                    make_problems, recheck_steps, round_estimate, solution)

COUNT = 200
SEED = 7
# How many distinct questions a cell can hold when it holds fewer than COUNT: mul level 1 is
# "1-digit × 1-digit" with a left operand 1..9 and a right operand 2..9 (9 × 8 questions).
CAPACITY = {("mul", 1): 9 * 8}

CELLS = [(family, level) for family in FAMILIES for level in LEVELS]


# --- an independent reading of the questions -----------------------------------------------------------

def _calc(symbol: str, left: int, right: int) -> int:
    if symbol == "+":
        return left + right
    if symbol == "-":
        return left - right
    if symbol == "*":
        return left * right
    raise AssertionError(f"unknown operator {symbol!r}")


def _parse_expression(text: str) -> tuple[list[int], list[str]]:
    """"47 + 38 - 15" → ([47, 38, 15], ["+", "-"])."""
    assert re.fullmatch(r"\d+(?: [+\-*] \d+)+", text), text
    tokens = text.split(" ")
    return [int(t) for t in tokens[0::2]], tokens[1::2]


def _left_to_right(numbers: list[int], symbols: list[str]) -> list[int]:
    """Every intermediate value, evaluated left to right (no precedence: the toy world has none)."""
    values, value = [], numbers[0]
    for symbol, number in zip(symbols, numbers[1:]):
        value = _calc(symbol, value, number)
        values.append(value)
    return values


WORD = re.compile(r"(?P<name>[A-Z][a-z]+) has (?P<start>\d+) (?P<item>[a-z]+)\. (?P<again>[A-Z][a-z]+) "
                  r"(?P<clauses>.+)\. How many (?P<item2>[a-z]+) does (?P<name2>[A-Z][a-z]+) have now\?")
CLAUSES = [
    (re.compile(r"(?:buys|finds|gets) (\d+) more"), "+"),
    (re.compile(r"(?:gives away|loses|sells) (\d+)"), "-"),
    (re.compile(r"then the number of (?:[a-z]+) grows (\d+) times"), "*"),
]


def _parse_word(question: str) -> tuple[list[int], list[str]]:
    match = WORD.fullmatch(question)
    assert match, question
    assert match["name"] == match["again"] == match["name2"] and match["item"] == match["item2"], question
    numbers, symbols = [int(match["start"])], []
    for clause in match["clauses"].split(", "):
        found = [(pattern.fullmatch(clause), symbol) for pattern, symbol in CLAUSES]
        found = [(m, s) for m, s in found if m]
        assert len(found) == 1, f"clause {clause!r} of {question!r}"
        m, symbol = found[0]
        if symbol == "*":
            assert f"number of {match['item']} grows" in clause, question
        numbers.append(int(m[1]))
        symbols.append(symbol)
    return numbers, symbols


def parse(problem: ToyProblem) -> list[tuple[list[int], list[str]]]:
    """The question's expressions as (numbers, operators): one, or two for compare."""
    question = problem.question
    if problem.family == "compare":
        match = re.fullmatch(r"Which is larger: (.+) or (.+)\?", question)
        assert match, question
        return [_parse_expression(match[1]), _parse_expression(match[2])]
    if problem.family == "word":
        return [_parse_word(question)]
    match = re.fullmatch(r"What is (.+)\?", question)
    assert match, question
    return [_parse_expression(match[1])]


def independent_answer(problem: ToyProblem) -> int:
    finals = [_left_to_right(*expression)[-1] for expression in parse(problem)]
    return max(finals) if problem.family == "compare" else finals[0]


def _digits(number: int) -> int:
    return len(str(number))


@pytest.fixture(scope="module")
def problem_sets() -> dict[tuple[str, int], list[ToyProblem]]:
    return {(family, level): make_problems(family, level, COUNT, SEED) for family, level in CELLS}


# --- problems -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("family, level", CELLS)
def test_answers_match_an_independent_computation(problem_sets, family, level):
    problems = problem_sets[family, level]
    assert len(problems) == min(COUNT, CAPACITY.get((family, level), COUNT))
    for problem in problems:
        assert (problem.family, problem.level) == (family, level)
        assert type(problem.answer) is int and problem.answer >= 0, problem
        assert independent_answer(problem) == problem.answer, problem.question
        for numbers, symbols in parse(problem):  # "never below 0" holds at every step, not only at the end
            assert all(value >= 0 for value in _left_to_right(numbers, symbols)), problem.question


@pytest.mark.parametrize("family, level", CELLS)
def test_questions_and_ids_are_unique_and_ids_name_the_cell(problem_sets, family, level):
    problems = problem_sets[family, level]
    assert len({p.question for p in problems}) == len(problems)
    assert len({p.id for p in problems}) == len(problems)
    assert all(p.id.startswith(f"{family}-{level}-") for p in problems)
    prefixed = make_problems(family, level, 5, SEED, prefix="bench")
    assert [p.id for p in prefixed] == [f"bench-{level}-{i}" for i in range(5)]


@pytest.mark.parametrize("family, level", CELLS)
def test_same_seed_same_problems_other_seed_other_problems(problem_sets, family, level):
    again = make_problems(family, level, COUNT, SEED)
    assert again == problem_sets[family, level]  # dataclass equality: ids, questions, answers, chains
    other = make_problems(family, level, COUNT, SEED + 1)
    assert [p.question for p in other] != [p.question for p in again]
    if (family, level) not in CAPACITY:  # a large space: another seed draws mostly other questions
        shared = {p.question for p in other} & {p.question for p in again}
        assert len(shared) < COUNT // 2


def test_make_problems_returns_count_problems_or_all_the_cell_has():
    assert len(make_problems("chain", 2, COUNT, SEED)) == COUNT
    small = make_problems("mul", 1, COUNT, SEED)  # documented: mul level 1 has 72 distinct questions
    assert len(small) == 72 and len({p.question for p in small}) == 72


def test_make_problems_prefix_of_a_longer_run_is_the_shorter_run():
    assert make_problems("chain", 2, 10, 3) == make_problems("chain", 2, 30, 3)[:10]


@pytest.mark.parametrize("family, level", [("division", 1), ("addsub", 0), ("addsub", 4), ("mul", "1")])
def test_bad_family_or_level_is_a_value_error(family, level):
    with pytest.raises(ValueError):
        make_problems(family, level, 3, 0)


# --- difficulty levels change what the docstring's table says they change --------------------------------

@pytest.mark.parametrize("level, digits", [(1, (2, 1)), (2, (2, 2)), (3, (3, 2))])
def test_addsub_operand_digits(problem_sets, level, digits):
    for problem in problem_sets["addsub", level]:
        [(numbers, symbols)] = parse(problem)
        assert len(symbols) == 1 and symbols[0] in "+-", problem.question
        assert tuple(_digits(n) for n in numbers) == digits, problem.question


@pytest.mark.parametrize("level", LEVELS)
def test_mul_left_operand_has_level_digits_and_right_is_one_digit(problem_sets, level):
    for problem in problem_sets["mul", level]:
        [(numbers, symbols)] = parse(problem)
        assert symbols == ["*"], problem.question
        assert _digits(numbers[0]) == level and 2 <= numbers[1] <= 9, problem.question


@pytest.mark.parametrize("level", LEVELS)
def test_chain_has_level_plus_one_additions_or_subtractions_of_two_digit_numbers(problem_sets, level):
    for problem in problem_sets["chain", level]:
        [(numbers, symbols)] = parse(problem)
        assert len(symbols) == level + 1 and set(symbols) <= {"+", "-"}, problem.question
        assert all(_digits(n) == 2 for n in numbers), problem.question


@pytest.mark.parametrize("level, digits", [(1, (1, 1)), (2, (2, 1)), (3, (2, 2))])
def test_compare_operand_digits_and_distinct_values(problem_sets, level, digits):
    for problem in problem_sets["compare", level]:
        expressions = parse(problem)
        assert len(expressions) == 2
        values = [_left_to_right(*expression)[-1] for expression in expressions]
        assert values[0] != values[1], problem.question  # "the larger" is well defined
        for numbers, symbols in expressions:
            assert len(symbols) == 1 and symbols[0] in "+-", problem.question
            assert tuple(_digits(n) for n in numbers) == digits, problem.question


def test_compare_level_one_compares_one_digit_sums_or_differences(problem_sets):
    for problem in problem_sets["compare", 1]:
        assert all(len(symbols) == 1 and all(_digits(n) == 1 for n in numbers) for numbers, symbols in parse(problem)), \
            problem.question


@pytest.mark.parametrize("level", LEVELS)
def test_word_problem_has_level_operations_and_one_product_at_level_three(problem_sets, level):
    for problem in problem_sets["word", level]:
        [(numbers, symbols)] = parse(problem)
        assert len(symbols) == level, problem.question
        assert symbols.count("*") == (1 if level == 3 else 0), problem.question
        assert _digits(numbers[0]) == 2, problem.question
        for number, symbol in zip(numbers[1:], symbols):
            assert (2 <= number <= 9) if symbol == "*" else (1 <= _digits(number) <= 2), problem.question


@pytest.mark.parametrize("family", ["addsub", "mul", "compare", "word"])
def test_harder_levels_have_larger_answers(problem_sets, family):
    means = [mean(p.answer for p in problem_sets[family, level]) for level in LEVELS]
    assert means[0] < means[1] < means[2], (family, means)


@pytest.mark.parametrize("family", ["chain", "word"])
def test_harder_levels_have_more_operations(problem_sets, family):
    operations = [{sum(len(symbols) for _, symbols in parse(p)) for p in problem_sets[family, level]}
                  for level in LEVELS]
    assert operations == ([{2}, {3}, {4}] if family == "chain" else [{1}, {2}, {3}])


def test_chains_hold_the_questions_operations(problem_sets):
    """``chains`` is what ``solution`` writes out: it must be the question's own operations."""
    for (family, level), problems in problem_sets.items():
        for problem in problems[:50]:
            expressions = parse(problem)
            assert len(problem.chains) == len(expressions)
            for chain, (numbers, symbols) in zip(problem.chains, expressions):
                assert chain[0].left == numbers[0] and all(op.left is None for op in chain[1:])
                assert [op.symbol for op in chain] == symbols and [op.right for op in chain] == numbers[1:]


# --- worked solutions ---------------------------------------------------------------------------------

# a first-pass line, "47 + 38 = 85." (a slip carried into a subtraction can make a value negative)
LINE = re.compile(r"(-?\d+) ([+\-*]) (\d+) = (-?\d+)\.")
EQUATION = re.compile(r"(?:so )?(\d+(?: [+\-*] \d+)+) = (-?\d+)")  # a recheck equation, "4 + 3 + 1 = 8"


def _first_pass(text: str) -> str:
    return text.split(" Recheck:")[0]


def _first_lines(text: str) -> list[tuple[int, str, int, int]]:
    return [(int(a), s, int(b), int(c)) for a, s, b, c in LINE.findall(_first_pass(text))]


_evaluate = evaluate_expression


def _recheck_equations(text: str) -> list[tuple[str, str, int]]:
    """The recheck pass's equations as (clause, expression, stated result), in order: "7 + 8 = 15",
    "so 47 + 38 = 85", ... (whatever its layout, each clause of it that is an equation)."""
    assert text.count(" Recheck: ") == 1, text
    recheck = text.split(" Recheck: ")[1].rsplit(" The answer is ", 1)[0]
    clauses = re.split(r"[,.] ", recheck.rstrip("."))
    equations = []
    for clause in clauses:
        match = EQUATION.fullmatch(clause)
        if match:
            equations.append((clause, match[1], int(match[2])))
        else:  # the only other clauses: compare's conclusion "5 < 118", "so the larger is 118"
            assert re.fullmatch(r"\d+ [<>] \d+|so the larger is \d+", clause), (clause, text)
    return equations


def _sample(problem_sets, per_cell: int = 40) -> list[ToyProblem]:
    return [p for problems in problem_sets.values() for p in problems[:per_cell]]


def _operations(problem: ToyProblem) -> int:
    return sum(len(symbols) for _, symbols in parse(problem))


def test_plain_solution_is_right_line_by_line_and_boxes_the_answer(problem_sets):
    for problem in _sample(problem_sets, COUNT):
        text, final = solution(problem)
        assert final == problem.answer, problem.question
        assert text.startswith(" ") and text.endswith(f" The answer is \\boxed{{{problem.answer}}}."), text
        assert "Recheck" not in text
        lines = _first_lines(text)
        assert len(lines) == _operations(problem), text
        assert all(_calc(s, a, b) == c for a, s, b, c in lines), text
        if problem.family == "compare":
            assert f"so the larger is {problem.answer}." in text, text


@pytest.mark.parametrize("family, level", CELLS)
def test_a_slip_makes_the_first_line_wrong_by_a_small_amount_and_is_carried_forward(problem_sets, family, level):
    for problem in problem_sets[family, level][:60]:
        numbers, symbols = parse(problem)[0]
        if _calc(symbols[0], numbers[0], numbers[1]) == 0:
            continue  # a zero result can hide a slip: see test_a_slip_on_a_zero_result_still_changes_it
        for seed in range(3):
            text, final = solution(problem, SolutionStyle(slips=frozenset({0})), seed=seed)
            lines = _first_lines(text)
            a, s, b, c = lines[0]
            truth = _calc(s, a, b)
            assert c != truth and (c - truth in SLIP_DELTAS or c == 0), text
            assert all(_calc(s, a, b) == c for a, s, b, c in lines[1:]), text  # only the slipped line is off
            first_chain = len(problem.chains[0])
            for previous, line in zip(lines[:first_chain], lines[1:first_chain]):
                assert line[0] == previous[3], text  # the wrong value is carried forward
            assert text.endswith(f"The answer is \\boxed{{{final}}}."), text
            if _operations(problem) == 1:
                assert final == c != problem.answer, text


def test_a_slip_on_a_zero_result_still_changes_it():
    problem = ToyProblem("z-1-0", "addsub", 1, "What is 7 - 7?", 0, ((Op("-", 7, 7),),))
    for seed in range(20):
        text, final = solution(problem, SolutionStyle(slips=frozenset({0})), seed=seed)
        assert final != 0, text


@pytest.mark.parametrize("family, level", CELLS)
def test_recheck_repairs_any_slips_and_every_step_is_right(problem_sets, family, level):
    for problem in problem_sets[family, level][:60]:
        every = frozenset(range(_operations(problem)))
        for slips in (frozenset(), frozenset({0}), every):
            text, final = solution(problem, SolutionStyle(slips=slips, recheck=True), seed=1)
            assert final == problem.answer, text
            assert text.endswith(f"The answer is \\boxed{{{problem.answer}}}."), text
            assert len(_first_lines(text)) == _operations(problem), text  # the first pass is still there
            equations = _recheck_equations(text)
            assert equations and all(_evaluate(expression) == result for _, expression, result in equations), text
            if family != "compare":
                assert equations[-1][2] == problem.answer, text
            else:
                assert text.split(" Recheck: ")[1].count(f"so the larger is {problem.answer}.") == 1, text


def _true_operations(problem: ToyProblem) -> list[tuple[int, str, int, int]]:
    operations = []
    for numbers, symbols in parse(problem):
        values = _left_to_right(numbers, symbols)
        lefts = [numbers[0]] + values[:-1]
        operations += [(a, s, b, c) for a, s, b, c in zip(lefts, symbols, numbers[1:], values)]
    return operations


def test_recheck_recomputes_every_operation_in_one_digit_steps(problem_sets):
    """As the tasks docstring says: the recheck recomputes every operation "in columns (one-digit facts
    with carries and borrows)", each summed up as "so a + b = c"."""
    for problem in _sample(problem_sets, 30):
        text, _ = solution(problem, SolutionStyle(slips=frozenset({0}), recheck=True))
        equations = _recheck_equations(text)
        summaries = [clause for clause, _, _ in equations if clause.startswith("so ")]
        assert summaries == [f"so {a} {s} {b} = {c}" for a, s, b, c in _true_operations(problem)], text
        for clause, expression, _ in equations:
            if not clause.startswith("so "):  # a column step: digits, a carry, or a borrowed top (≤ 19)
                assert all(int(n) <= 19 for n in re.findall(r"\d+", expression)), (clause, text)


def test_recheck_steps_docstring_examples():
    assert recheck_steps("+", 47, 38) == ["7 + 8 = 15", "4 + 3 + 1 = 8", "so 47 + 38 = 85"]
    assert recheck_steps("-", 85, 38) == ["15 - 8 = 7", "7 - 3 = 4", "so 85 - 38 = 47"]
    assert recheck_steps("*", 47, 8) == ["7 * 8 = 56", "4 * 8 + 5 = 37", "so 47 * 8 = 376"]


def test_recheck_steps_are_right_for_every_small_operation():
    for left in range(0, 400, 7):
        for right in range(0, 100, 3):
            for symbol in "+-*":
                if (symbol == "-" and right > left) or (symbol == "*" and not 2 <= right <= 9):
                    continue
                steps = recheck_steps(symbol, left, right)
                assert steps[-1] == f"so {left} {symbol} {right} = {_calc(symbol, left, right)}"
                for step in steps:
                    expression, result = step.removeprefix("so ").split(" = ")
                    assert _evaluate(expression) == int(result), (left, symbol, right, steps)


def test_unboxed_answer_is_graded_right_leniently_and_not_strictly(problem_sets):
    for problem in _sample(problem_sets, 4):
        text, final = solution(problem, SolutionStyle(boxed=False))
        assert final == problem.answer
        assert text.endswith(f" The answer is {problem.answer}.") and "\\boxed" not in text, text
        assert grade(text, str(problem.answer), mode="lenient").correct, text
        assert not grade(text, str(problem.answer), mode="strict").correct, text
        boxed, _ = solution(problem)
        assert grade(boxed, str(problem.answer), mode="strict").correct, boxed


def test_solution_is_deterministic_for_a_seed(problem_sets):
    problem = problem_sets["chain", 3][0]
    style = SolutionStyle(slips=frozenset({0, 2}), recheck=True)
    assert solution(problem, style, seed=5) == solution(problem, style, seed=5)
    slipped = {solution(problem, SolutionStyle(slips=frozenset({0})), seed=s)[0] for s in range(20)}
    assert len(slipped) > 1  # the slip's size is drawn, and the seed draws it


# --- the estimate route (toy world v2) --------------------------------------------------------------------

@pytest.mark.parametrize("number, rounded", [(0, 0), (7, 7), (10, 10), (14, 10), (15, 20), (47, 50), (95, 100),
                                             (99, 100), (149, 100), (150, 200), (347, 300), (950, 1000)])
def test_round_estimate_keeps_one_significant_digit_half_up(number, rounded):
    assert round_estimate(number) == rounded


def _round(number: int) -> int:  # this file's own rounding: nearest multiple of the leading power of ten
    if number < 10:
        return number
    unit = 10 ** (len(str(number)) - 1)
    return int(number / unit + 0.5) * unit


ESTIMATE = re.compile(r"(-?\d+) ([+\-*]) (\d+) = (-?\d+)")


def _estimates(text: str) -> list[list[tuple[int, str, int, int]]]:
    """The estimate's equations per expression (compare has two, separated by a full stop)."""
    first = _first_pass(text).removeprefix(" Estimate: ")
    parts = [p for p in re.split(r"\. ", first.split(" The answer is")[0]) if ESTIMATE.match(p)]
    return [[(int(a), s, int(b), int(c)) for a, s, b, c in ESTIMATE.findall(part)] for part in parts]


def test_estimate_rounds_the_questions_numbers_and_carries_its_own_value(problem_sets):
    for problem in _sample(problem_sets, 40):
        text, final = solution(problem, SolutionStyle(route="estimate"))
        assert text.startswith(" Estimate: ") and "Recheck" not in text, text
        expressions = parse(problem)
        estimates = _estimates(text)
        assert len(estimates) == len(expressions), text
        values = []
        for (numbers, symbols), lines in zip(expressions, estimates):
            assert [s for _, s, _, _ in lines] == symbols, text
            left = _round(numbers[0])
            for (a, s, b, c), number in zip(lines, numbers[1:]):
                assert a == left and b == (number if s == "*" else _round(number)) and c == _calc(s, a, b), text
                left = c
            values.append(left)
        assert final == (max(values) if problem.family == "compare" else values[0]), text
        assert text.endswith(f"The answer is \\boxed{{{final}}}."), text


def test_estimate_is_right_only_where_rounding_does_not_matter(problem_sets):
    """The default route of the latent-skill world is unreliable: right on level 1 one-digit cells, mostly
    wrong elsewhere."""
    right = {cell: sum(solution(p, SolutionStyle(route="estimate"))[1] == p.answer for p in problems) / len(problems)
             for cell, problems in problem_sets.items()}
    assert right["mul", 1] == 1.0 and right["compare", 1] == 1.0  # one-digit numbers: nothing is rounded
    assert all(rate < 0.35 for (family, level), rate in right.items() if level > 1), right


def test_estimate_then_recheck_ends_with_the_true_answer(problem_sets):
    for problem in _sample(problem_sets, 30):
        text, final = solution(problem, SolutionStyle(route="estimate", recheck=True, boxed=False))
        assert final == problem.answer and text.endswith(f" The answer is {problem.answer}."), text
        equations = _recheck_equations(text)
        assert equations and all(_evaluate(expression) == result for _, expression, result in equations), text


def test_unknown_route_is_a_value_error():
    assert ROUTES == ("direct", "estimate")
    with pytest.raises(ValueError, match="unknown route"):
        SolutionStyle(route="guess")


def test_a_repeated_recheck_is_the_direct_pass_again_with_its_own_slips(problem_sets):
    """The no-skill world's recheck: no more reliable than the first pass (it slips too), and it decides."""
    for problem in _sample(problem_sets, 20):
        clean, final = solution(problem, SolutionStyle(recheck=True, recheck_style="repeat"))
        first, again = clean.split(" Recheck: ")
        assert again.rsplit(" The answer is", 1)[0] == first.strip() and final == problem.answer, clean
        slipped, final = solution(problem, SolutionStyle(recheck=True, recheck_style="repeat",
                                                         recheck_slips=frozenset({0})), seed=2)
        lines = [(int(a), s, int(b), int(c)) for a, s, b, c in LINE.findall(slipped.split(" Recheck: ")[1])]
        assert all(_calc(s, a, b) == c for a, s, b, c in _first_lines(slipped)), slipped  # the first pass is clean
        a, symbol, b, c = lines[0]
        assert c != _calc(symbol, a, b), slipped  # the recheck's own slip, carried to its answer
        assert slipped.endswith(f"The answer is \\boxed{{{final}}}."), slipped


def test_unknown_recheck_style_is_a_value_error():
    with pytest.raises(ValueError, match="unknown recheck style"):
        SolutionStyle(recheck_style="twice")
