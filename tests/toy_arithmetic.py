"""The tests' own arithmetic for the toy world (never the module's): used to check answers independently."""

import re


def evaluate_expression(expression: str) -> int:
    """"4 * 8 + 5" → 37, with the usual precedence (products first)."""
    total = 0
    for sign, term in re.findall(r"(^|[+-]) ?([^+-]+)", expression):
        product = 1
        for factor in term.split("*"):
            product *= int(factor)
        total = total - product if sign == "-" else total + product
    return total
