"""The rule expression tree: errors, nodes, evaluation and the canonical printer.

``analysis.rule_syntax`` parses strings into these nodes; ``analysis.rules`` wraps them.

Errors (both carry ``message`` in English and ``message_zh`` in Chinese for the API)::

    RuleError (ValueError)      a rule that cannot be used: empty 主体词, malformed dict or tree
    └── RuleSyntaxError         a rule string that does not parse: ``position`` (1-based column)
                                and ``expected`` (what would have been accepted there)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from analysis.textfold import fold_chars, fold_for_match, to_simplified

QUOTES = '"“”'
STOP_CHARS = frozenset("()（）&|!！" + QUOTES)
SEPARATORS = frozenset(",，、;；")
WORD_OPERATORS = {"and": "AND", "or": "OR", "not": "NOT", "与": "AND", "或": "OR", "非": "NOT"}
WIDTH_TABLE = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F) if chr(code) not in "！（）"}
WIDTH_TABLE[0x3000] = 0x20


class RuleError(ValueError):
    """A rule that cannot be used; ``message`` is English, ``message_zh`` Chinese."""

    def __init__(self, message: str, message_zh: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or message


class RuleSyntaxError(RuleError):
    """A rule string that does not parse; ``position`` is the 1-based column of the problem."""

    def __init__(self, message: str, position: int, expected: tuple[str, ...], message_zh: str = "") -> None:
        super().__init__(message, message_zh)
        self.position = position
        self.expected = expected


@dataclass(frozen=True)
class Term:
    """A literal (word or phrase) in folded display form; ``key`` is what is searched for."""

    text: str
    key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", fold_for_match(self.text))


@dataclass(frozen=True)
class Not:
    """Negation of one operand."""

    operand: Node


@dataclass(frozen=True)
class And:
    """All operands must match."""

    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one operand must match."""

    operands: tuple[Node, ...]


Node = Term | Not | And | Or


def fold_term(raw: str) -> str:
    """Fold a term's text for display and comparison: width, 繁→简, whitespace collapsed."""
    return " ".join(to_simplified(fold_chars(raw)).split())


def combine(kind: type[And] | type[Or], items: list[Node]) -> Node:
    """Build a flattened And/Or; a single item is returned as is."""
    flat: list[Node] = []
    for item in items:
        flat.extend(item.operands if isinstance(item, kind) else (item,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def evaluate(node: Node, contains: Callable[[str], bool]) -> bool:
    """Evaluate a tree given a predicate telling whether a term key occurs."""
    if isinstance(node, Term):
        return contains(node.key)
    if isinstance(node, Not):
        return not evaluate(node.operand, contains)
    if isinstance(node, And):
        return all(evaluate(operand, contains) for operand in node.operands)
    return any(evaluate(operand, contains) for operand in node.operands)


def _needs_quotes(text: str) -> bool:
    if text.lower() in WORD_OPERATORS or text.startswith("-"):
        return True
    folded = text.translate(WIDTH_TABLE)
    return any(
        char.isspace() or char in STOP_CHARS or char in SEPARATORS or not fold_chars(char) for char in folded
    )


def render(node: Node, parent: int = 0) -> str:
    """Print a tree in canonical form: upper-case operators, minimal parentheses, quotes if needed."""
    if isinstance(node, Term):
        return f'"{node.text}"' if _needs_quotes(node.text) else node.text
    if isinstance(node, Not):
        return "NOT " + render(node.operand, 3)
    level, joiner = (2, " AND ") if isinstance(node, And) else (1, " OR ")
    text = joiner.join(render(operand, level) for operand in node.operands)
    return f"({text})" if parent > level else text
