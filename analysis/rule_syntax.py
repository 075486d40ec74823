"""Syntax of the 监测方案 rule language: the lexer and parser (tree, errors, printer in ``rule_tree``).

Grammar (precedence NOT > AND > OR; operators case-insensitive)::

    rule    := or_expr END
    or_expr := and_expr (OR and_expr)*            OR  = "OR" | "|" | "||" | "或"
    and_expr:= not_expr ([AND] not_expr)*         AND = "AND" | "&" | "&&" | "与"; adjacent = AND
    not_expr:= NOT not_expr | atom                NOT = "NOT" | "!" | "！" | "非" | "-" before an operand
    atom    := WORD | PHRASE | "(" or_expr ")"    "(" / ")" also full-width （ ）

- WORD: a run of characters other than whitespace, quotes, parentheses, ``& | ! ！`` and the
  separators ``, ， 、 ; ；`` (which are errors: alternatives are joined with OR). ``-`` inside
  a word is part of it (``Wi-Fi``, ``X-5``); only a leading ``-`` means NOT.
- PHRASE: text in ``"..."`` or ``“...”`` (any of the three quote characters closes it); it may
  contain spaces and operator words. Use it for the literal words ``and``/``or``/``not``.
- 与/或/非 are operators only as whole words (``小米 或 华为``); inside words they are text
  (``非常``, ``或者``), so quoting is never needed for ordinary Chinese.
- Adjacent operands are ANDed (``小米 刹车`` = ``小米 AND 刹车``), as in search engines.
- A rule must be able to match through a positive term: ``NOT 广告`` or ``a OR NOT b`` would
  match almost every post and are rejected.
- Terms are folded like texts (full width → half width, 繁→简, spaces collapsed), so ``蔚來``
  and ``蔚来`` are the same term; matching is a case-insensitive substring test.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.rule_tree import (
    QUOTES,
    SEPARATORS,
    STOP_CHARS,
    WIDTH_TABLE,
    WORD_OPERATORS,
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
    render,
)
from analysis.textfold import fold_chars, fold_for_match

MAX_RULE_LENGTH = 10_000
MAX_DEPTH = 64
_OPERAND_START = ("WORD", "(", "NOT")
_EXPECT_OPERAND = ("a term", "a quoted phrase", "'('", "NOT")
_ZH = {
    "a term": "关键词",
    "a quoted phrase": "引号短语",
    "an operator": "运算符",
    "end of rule": "规则结尾",
    "a positive term": "正向关键词",
    "a closing quote": "右引号",
    "text inside the quotes": "引号内的文字",
    "a shorter rule": "更短的规则",
}


@dataclass(frozen=True)
class _Token:
    kind: str  # WORD, (, ), AND, OR, NOT, END
    start: int  # 0-based index into the source
    text: str = ""


def _describe(token: _Token) -> tuple[str, str]:
    if token.kind == "END":
        return "the end of the rule", "规则结尾"
    shown = token.text if len(token.text) <= 20 else token.text[:20] + "…"
    return f"'{shown}'", f"“{shown}”"


def _join(items: list[str], last: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + last + items[-1]


def _error(
    position: int, expected: tuple[str, ...], found: _Token | None, detail: str = "", detail_zh: str = ""
) -> RuleSyntaxError:
    column = position + 1
    message = f"expected {_join(list(expected), ' or ')} at column {column}"
    message_zh = f"第 {column} 个字符处应为 {_join([_ZH.get(item, item) for item in expected], ' 或 ')}"
    message_zh = message_zh.replace(", ", "、")
    if found is not None:
        found_en, found_zh = _describe(found)
        message += f", found {found_en}"
        message_zh += f"，实际为{found_zh}"
    if detail:
        message += f" ({detail})"
        message_zh += f"（{detail_zh or detail}）"
    return RuleSyntaxError(message, column, expected, message_zh)


def _tokenize(source: str) -> list[_Token]:
    text = source.translate(WIDTH_TABLE)
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace() or not fold_chars(char):
            index += 1
        elif char in "(（":
            tokens.append(_Token("(", index, char))
            index += 1
        elif char in ")）":
            tokens.append(_Token(")", index, char))
            index += 1
        elif char in "&|":
            width = 2 if text.startswith(char * 2, index) else 1
            tokens.append(_Token("AND" if char == "&" else "OR", index, char * width))
            index += width
        elif char in "!！-":
            tokens.append(_Token("NOT", index, char))
            index += 1
        elif char in QUOTES:
            index = _read_phrase(source, text, index, tokens)
        elif char in SEPARATORS:
            raise _error(
                index,
                ("OR", "AND"),
                _Token("WORD", index, char),
                "join alternatives with OR",
                "多个备选词请用 OR 连接",
            )
        else:
            index = _read_word(source, text, index, tokens)
    tokens.append(_Token("END", len(text)))
    return tokens


def _read_phrase(source: str, text: str, start: int, tokens: list[_Token]) -> int:
    end = min((i for i in (text.find(q, start + 1) for q in QUOTES) if i >= 0), default=-1)
    if end < 0:
        opened = start + 1
        raise _error(
            len(text),
            ("a closing quote",),
            _Token("END", len(text)),
            f"quote opened at column {opened}",
            f"引号始于第 {opened} 个字符",
        )
    phrase = fold_term(source[start + 1 : end])
    if not fold_for_match(phrase):
        raise _error(start + 1, ("text inside the quotes",), None, "empty phrase", "引号内为空")
    tokens.append(_Token("WORD", start, phrase))
    return end + 1


def _read_word(source: str, text: str, start: int, tokens: list[_Token]) -> int:
    end = start
    while end < len(text) and not (
        text[end].isspace() or text[end] in STOP_CHARS or text[end] in SEPARATORS or not fold_chars(text[end])
    ):
        end += 1
    operator = WORD_OPERATORS.get(text[start:end].lower())
    if operator is not None:
        tokens.append(_Token(operator, start, source[start:end]))
    else:
        tokens.append(_Token("WORD", start, fold_term(source[start:end])))
    return end


class _Parser:
    """Recursive descent over the token list; depth is bounded so no input can overflow the stack."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        if self.peek().kind == "END":
            raise _error(0, _EXPECT_OPERAND, self.peek(), "the rule is empty", "规则为空")
        node = self.or_expr()
        token = self.peek()
        if token.kind != "END":
            raise _error(
                token.start, ("an operator", "end of rule"), token, "no matching '('", "没有与之匹配的 '('"
            )
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.peek().kind == "OR":
            self.take()
            items.append(self.and_expr())
        return combine(Or, items)

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while True:
            kind = self.peek().kind
            if kind == "AND":
                self.take()
            elif kind not in _OPERAND_START:
                return combine(And, items)
            items.append(self.not_expr())

    def not_expr(self) -> Node:
        if self.peek().kind != "NOT":
            return self.atom()
        token = self.take()
        self.enter(token)
        operand = self.not_expr()
        self.depth -= 1
        return Not(operand)

    def atom(self) -> Node:
        token = self.take()
        if token.kind == "WORD":
            return Term(token.text)
        if token.kind != "(":
            raise _error(token.start, _EXPECT_OPERAND, token)
        self.enter(token)
        node = self.or_expr()
        closing = self.peek()
        if closing.kind != ")":
            opened = token.start + 1
            raise _error(
                closing.start,
                ("')'",),
                closing,
                f"to close '(' at column {opened}",
                f"用于闭合第 {opened} 个字符处的 '('",
            )
        self.take()
        self.depth -= 1
        return node

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(
                token.start,
                _EXPECT_OPERAND,
                token,
                f"nesting deeper than {MAX_DEPTH}",
                f"嵌套超过 {MAX_DEPTH} 层",
            )


def parse_tree(source: str) -> Node:
    """Parse a rule string into a tree; raises ``RuleSyntaxError`` with column and expectation."""
    if len(source) > MAX_RULE_LENGTH:
        limit = f"{MAX_RULE_LENGTH} characters"
        raise _error(
            MAX_RULE_LENGTH,
            ("a shorter rule",),
            None,
            f"longer than {limit}",
            f"超过 {MAX_RULE_LENGTH} 个字符",
        )
    node = _Parser(_tokenize(source)).parse()
    if evaluate(node, lambda key: False):
        raise _error(
            0,
            ("a positive term",),
            None,
            "it would match posts containing none of its terms",
            "规则会匹配不含任何关键词的帖子",
        )
    return node


__all__ = [
    "MAX_DEPTH",
    "MAX_RULE_LENGTH",
    "And",
    "Node",
    "Not",
    "Or",
    "RuleError",
    "RuleSyntaxError",
    "Term",
    "combine",
    "evaluate",
    "fold_term",
    "parse_tree",
    "render",
]
