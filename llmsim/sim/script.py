"""Scripted answers: rules matched on the last user message give a reply, a tool call or an
error, so application tests get deterministic behaviour.

    {type: script, fallback: corpus, rules: [
      {match: "weather", tool_call: {name: get_weather, arguments: {city: Paris}}},
      {regex: "^fail (\\d+)", error: {status: 503, message: "Try later"}, times: 2},
      {match: "hello", model: gpt-4o-mini, reply: "Hi! How can I help?"},
    ]}

`match` is a case-insensitive substring, `regex` a Python regular expression searched in
the message; a rule with both needs both; `model` limits a rule to one model name. The first
matching rule wins. `times: N` retires a rule after N uses, so rules listed one after another
make sequences (fail twice, then answer). Counts are kept per worker process: run one
worker (`--workers 1`) when a test relies on an exact sequence. No rule matching: the
fallback generator answers.
"""

import re

import msgspec

from llmsim.errors import ApiError, ConfigError
from llmsim.sim.text import Fixed


class ToolCallSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    arguments: dict | str = {}


class ErrorSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    status: int
    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None


class RuleSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    match: str | None = None
    regex: str | None = None
    model: str | None = None
    reply: str | None = None
    tool_call: ToolCallSpec | None = None
    error: ErrorSpec | None = None
    times: int | None = None


class Rule:
    __slots__ = ("needle", "regex", "model", "reply", "call", "error", "left")

    def __init__(self, spec, where):
        outcomes = [x for x in (spec.reply, spec.tool_call, spec.error) if x is not None]
        if len(outcomes) != 1:
            raise ConfigError(f"config: {where}: give exactly one of reply, tool_call, error")
        if spec.match is None and spec.regex is None:
            raise ConfigError(f"config: {where}: give match (substring) or regex")
        try:
            self.regex = re.compile(spec.regex) if spec.regex is not None else None
        except re.error as e:
            raise ConfigError(f"config: {where}.regex: {e}") from None
        if spec.error is not None and not 400 <= spec.error.status <= 599:
            raise ConfigError(f"config: {where}.error.status: expected 400..599, "
                              f"got {spec.error.status}")
        if spec.times is not None and spec.times < 1:
            raise ConfigError(f"config: {where}.times: expected an int >= 1, got {spec.times}")
        self.needle = spec.match.lower() if spec.match is not None else None
        self.model = spec.model
        self.reply = Fixed(spec.reply) if spec.reply is not None else None
        call = spec.tool_call
        self.call = None if call is None else (call.name, call.arguments if isinstance(
            call.arguments, str) else msgspec.json.encode(call.arguments).decode())
        self.error = spec.error
        self.left = spec.times

    def matches(self, text, lowered, model):
        if self.left == 0 or (self.model is not None and self.model != model):
            return False
        if self.needle is not None and self.needle not in lowered:
            return False
        return self.regex is None or self.regex.search(text) is not None


class Script:
    """A generator that answers by rules, else by its fallback generator."""

    needs_prompt = True
    scripted = True

    def __init__(self, rules, fallback, where):
        try:
            specs = msgspec.convert(rules, list[RuleSpec])
        except msgspec.ValidationError as e:
            raise ConfigError(f"config: {where}.rules: {e}") from None
        self.rules = [Rule(s, f"{where}.rules[{i}]") for i, s in enumerate(specs)]
        self.fallback = fallback

    def resolve(self, text, model):
        """(generator for the text, (tool name, JSON arguments) or None) for a request whose
        last user message is `text`; a matching error rule raises its ApiError."""
        lowered = text.lower()
        for rule in self.rules:
            if rule.matches(text, lowered, model):
                if rule.left is not None:
                    rule.left -= 1
                if rule.error is not None:
                    e = rule.error
                    raise ApiError(e.status, e.message, type=e.type, code=e.code, param=e.param)
                if rule.call is not None:
                    return self.fallback, rule.call
                return rule.reply, None
        return self.fallback, None
