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
make sequences (fail twice, then answer). Uses are counted for the whole node (every
worker and provider, in shared memory: llmsim_rule_use), so a sequence is exact with any
number of workers. A reload that changes the `generators` section starts every count at 0;
one that leaves it unchanged keeps the counts. No rule matching: the fallback generator
answers.
"""

import re

import msgspec

from llmsim.core.shm import RULE_COUNTERS, Segment
from llmsim.errors import ApiError, ConfigError
from llmsim.sim.text import Fixed

# The counters are two banks: the workers of a reload with other rules count in the other
# bank, emptied, while the old workers finish on theirs.
_BANK = RULE_COUNTERS // 2


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


class RuleUses:
    """Where the rules of one configuration count their uses: bank `bank` of the node's
    segment, or (no segment: a server built outside `llmsim serve`, or config checking)
    counters of this process, mapped at the first use."""

    def __init__(self, segment=None, bank=0):
        self.segment = segment
        self.first = bank * _BANK
        self.given = 0

    def counter(self, where):
        """A counter of its own for the rule at `where` (ConfigError when none is left)."""
        if self.given == _BANK:
            raise ConfigError(f"config: {where}.times: at most {_BANK} rules may have times")
        self.given += 1
        return self.first + self.given - 1

    def take(self, counter, times):
        """One use of a rule allowed `times`: True when granted."""
        if self.segment is None:
            self.segment = Segment(1)
        return self.segment.rule_use(counter, times)


def bank_after_reload(bank, old, new, segment):
    """The counter bank of the workers of config `new` replacing those of `old` (bank
    `bank`): the same one, counts kept, when the generators are unchanged; else the other
    one, zeroed first."""
    if old.generators == new.generators:
        return bank
    bank = 1 - bank
    segment.rule_reset(bank * _BANK, _BANK)
    return bank


class Rule:
    __slots__ = ("needle", "regex", "model", "reply", "call", "error", "times", "counter")

    def __init__(self, spec, where, uses):
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
        self.times = spec.times
        self.counter = None if spec.times is None else uses.counter(where)

    def matches(self, text, lowered, model):
        if self.model is not None and self.model != model:
            return False
        if self.needle is not None and self.needle not in lowered:
            return False
        return self.regex is None or self.regex.search(text) is not None


class Script:
    """A generator that answers by rules, else by its fallback generator."""

    needs_prompt = True
    scripted = True

    def __init__(self, rules, fallback, where, uses):
        try:
            specs = msgspec.convert(rules, list[RuleSpec])
        except msgspec.ValidationError as e:
            raise ConfigError(f"config: {where}.rules: {e}") from None
        self.rules = [Rule(s, f"{where}.rules[{i}]", uses) for i, s in enumerate(specs)]
        self.uses = uses
        self.fallback = fallback

    def resolve(self, text, model):
        """(generator for the text, (tool name, JSON arguments) or None) for a request whose
        last user message is `text`; a matching error rule raises its ApiError."""
        lowered = text.lower()
        for rule in self.rules:
            if rule.matches(text, lowered, model):
                if rule.times is not None and not self.uses.take(rule.counter, rule.times):
                    continue   # used up
                if rule.error is not None:
                    e = rule.error
                    raise ApiError(e.status, e.message, type=e.type, code=e.code, param=e.param)
                if rule.call is not None:
                    return self.fallback, rule.call
                return rule.reply, None
        return self.fallback, None
