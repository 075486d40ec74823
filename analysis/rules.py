"""监测方案 rules: which posts belong to a topic.

A rule is written either as a boolean expression (grammar in ``analysis.rule_syntax``)::

    (小米 OR 华为) AND (刹车 OR 自燃) -广告

or in structured form (主体词/地域词/事件词/排除词), which compiles to the same tree::

    (any subject) AND (any region, if given) AND (any event, if given) AND NOT (any exclude)

``Rule.matches(text)`` folds the text like the terms (width, 繁→简, lower case, whitespace removed)
and tests each term as a substring, so ``小米 SU7`` in a rule matches ``小米su7`` in a post and
``這個產品`` matches a rule on ``这个产品``. One rule evaluates lazily with ``in`` checks; many
rules (``RuleSet``) share one literal scan of the text (``analysis.literals``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from analysis.literals import LiteralIndex
from analysis.rule_syntax import (
    MAX_DEPTH,
    And,
    Node,
    Not,
    Or,
    RuleError,
    RuleSyntaxError,
    Term,
    combine,
    evaluate,
    fold_term,
    parse_tree,
    render,
)
from analysis.textfold import fold_for_match

__all__ = ["Rule", "RuleError", "RuleSet", "RuleSyntaxError", "StructuredRule", "parse_any", "parse_rule"]

_QUOTE_CHARS = set('"“”')
_GROUPS = ("subject", "region", "event", "exclude")


@dataclass(frozen=True)
class Rule:
    """A parsed rule: a boolean tree over literal terms."""

    root: Node

    def matches(self, text: str) -> bool:
        """Whether the (normalised) text satisfies the rule."""
        folded = fold_for_match(text)
        return evaluate(self.root, folded.__contains__)

    def matches_folded(self, folded: str) -> bool:
        """Like ``matches`` for text already passed through ``fold_for_match``."""
        return evaluate(self.root, folded.__contains__)

    def terms(self) -> set[str]:
        """Return the rule's terms (folded display form), e.g. for the tokenizer's user dictionary."""
        return {term.text for term in _iter_terms(self.root)}

    def keys(self) -> set[str]:
        """Return the folded search keys of the rule's terms."""
        return {term.key for term in _iter_terms(self.root)}

    def __str__(self) -> str:
        return render(self.root)

    def to_dict(self) -> dict[str, Any]:
        """Serialise as ``{"expr": canonical string, "tree": nested dict}``."""
        return {"expr": str(self), "tree": _node_to_dict(self.root)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Rebuild from ``to_dict`` output (``tree`` preferred, else ``expr``); raises ``RuleError``."""
        if "tree" in data:
            root = _node_from_dict(data["tree"], 0)
            if evaluate(root, lambda key: False):
                raise RuleError("the rule needs a positive term", "规则需要至少一个正向关键词")
            return cls(root)
        if isinstance(data.get("expr"), str):
            return parse_rule(data["expr"])
        raise RuleError("expected a dict with 'tree' or 'expr'", "规则字典应包含 'tree' 或 'expr'")


def parse_rule(src: str) -> Rule:
    """Parse the string form; raises ``RuleSyntaxError`` naming the column and what was expected."""
    return Rule(parse_tree(src))


@dataclass(frozen=True)
class StructuredRule:
    """The form-based rule: 主体词 AND 地域词 AND 事件词 AND NOT 排除词 (each group ORed)."""

    subject_terms: tuple[str, ...]
    region_terms: tuple[str, ...] = ()
    event_terms: tuple[str, ...] = ()
    exclude_terms: tuple[str, ...] = ()

    def compile(self) -> Rule:
        """Build the equivalent ``Rule``; raises ``RuleError`` on an empty subject or a bad term."""
        subject = _group(self.subject_terms, "subject", "主体词")
        if subject is None:
            raise RuleError("subject terms must not be empty", "主体词不能为空")
        parts = [subject]
        for terms, name, name_zh in (
            (self.region_terms, "region", "地域词"),
            (self.event_terms, "event", "事件词"),
        ):
            group = _group(terms, name, name_zh)
            if group is not None:
                parts.append(group)
        excluded = _group(self.exclude_terms, "exclude", "排除词")
        if excluded is not None:
            parts.append(Not(excluded))
        return Rule(combine(And, parts))

    def to_dict(self) -> dict[str, list[str]]:
        """Serialise as ``{"subject": [...], "region": [...], "event": [...], "exclude": [...]}``."""
        return {
            "subject": list(self.subject_terms),
            "region": list(self.region_terms),
            "event": list(self.event_terms),
            "exclude": list(self.exclude_terms),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StructuredRule:
        """Read the dict form; raises ``RuleError`` on unknown keys or non-list values."""
        unknown = sorted(str(key) for key in data if key not in _GROUPS)
        if unknown:
            raise RuleError(
                f"unknown rule keys: {', '.join(unknown)}", f"未知的规则字段：{', '.join(unknown)}"
            )
        groups = [_string_list(data.get(name), name) for name in _GROUPS]
        return cls(*groups)


def _string_list(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise RuleError(f"'{name}' must be a list of strings", f"'{name}' 应为字符串列表")
    if not all(isinstance(item, str) for item in value):
        raise RuleError(f"'{name}' must contain only strings", f"'{name}' 只能包含字符串")
    return tuple(value)


def _group(terms: Iterable[str], name: str, name_zh: str) -> Node | None:
    nodes: dict[str, Term] = {}
    for raw in terms:
        if _QUOTE_CHARS.intersection(raw):
            raise RuleError(f"{name} term {raw!r} must not contain quotes", f"{name_zh}“{raw}”不能包含引号")
        text = fold_term(raw)
        if text and fold_for_match(text):
            nodes.setdefault(text, Term(text))
    return combine(Or, list(nodes.values())) if nodes else None


def parse_any(value: str | Mapping[str, Any]) -> Rule:
    """Accept the string form or a dict (structured form, or ``Rule.to_dict`` output)."""
    if isinstance(value, str):
        return parse_rule(value)
    if isinstance(value, Mapping):
        if "tree" in value or "expr" in value:
            return Rule.from_dict(value)
        return StructuredRule.from_dict(value).compile()
    raise RuleError("a rule must be a string or a dict", "规则应为字符串或字典")


def _iter_terms(node: Node) -> Iterator[Term]:
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Not):
        yield from _iter_terms(node.operand)
    else:
        for operand in node.operands:
            yield from _iter_terms(operand)


def _node_to_dict(node: Node) -> Any:
    if isinstance(node, Term):
        return {"term": node.text}
    if isinstance(node, Not):
        return {"not": _node_to_dict(node.operand)}
    return {"and" if isinstance(node, And) else "or": [_node_to_dict(item) for item in node.operands]}


def _node_from_dict(data: Any, depth: int) -> Node:
    if depth > MAX_DEPTH * 2 or not isinstance(data, Mapping) or len(data) != 1:
        raise RuleError("malformed rule tree", "规则树格式错误")
    ((kind, value),) = data.items()
    if kind == "term" and isinstance(value, str) and fold_for_match(value) and not _QUOTE_CHARS & set(value):
        return Term(fold_term(value))
    if kind == "not":
        return Not(_node_from_dict(value, depth + 1))
    if kind in ("and", "or") and isinstance(value, list) and value:
        items = [_node_from_dict(item, depth + 1) for item in value]
        return combine(And if kind == "and" else Or, items)
    raise RuleError("malformed rule tree", "规则树格式错误")


K = TypeVar("K", bound=Hashable)


class RuleSet(Generic[K]):
    """Many topic rules matched against one text with a single literal scan."""

    def __init__(self, rules: Mapping[K, Rule] | None = None) -> None:
        self._rules: dict[K, Rule] = {}
        self._order: dict[K, int] = {}
        self._by_literal: dict[str, set[K]] = {}
        self._always: set[K] = set()
        self._index = LiteralIndex()
        for key, rule in (rules or {}).items():
            self.add(key, rule)

    def add(self, key: K, rule: Rule) -> None:
        """Add or replace the rule for ``key``."""
        self._rules[key] = rule
        self._order.setdefault(key, len(self._order))
        for literal in rule.keys():
            self._index.add(literal)
        trigger = _trigger(rule.root)
        if trigger is None:
            self._always.add(key)
        for literal in trigger or ():
            self._by_literal.setdefault(literal, set()).add(key)

    def __len__(self) -> int:
        return len(self._rules)

    def match(self, text: str) -> list[K]:
        """Return the keys whose rules match ``text``, in insertion order.

        Only rules with a present trigger literal are evaluated (see ``_trigger``).
        """
        present = self._index.present(fold_for_match(text))
        candidates = set(self._always)
        for literal in present:
            candidates.update(self._by_literal.get(literal, ()))
        matched = [key for key in candidates if evaluate(self._rules[key].root, present.__contains__)]
        return sorted(matched, key=self._order.__getitem__)


def _trigger(node: Node) -> frozenset[str] | None:
    """Literals of which at least one must occur for ``node`` to match (``None``: no such set).

    For AND the smallest trigger among the operands is used (the first on ties, which in the
    structured form is the subject group), so shared event words like 刹车 do not wake every rule.
    """
    if isinstance(node, Term):
        return frozenset((node.key,))
    if isinstance(node, Not):
        return None
    triggers = [_trigger(operand) for operand in node.operands]
    if isinstance(node, Or):
        if any(trigger is None for trigger in triggers):
            return None
        return frozenset().union(*(trigger for trigger in triggers if trigger is not None))
    known = [trigger for trigger in triggers if trigger is not None]
    return min(known, key=len) if known else None
