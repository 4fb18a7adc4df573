"""POST /v1/messages and POST /v1/messages/count_tokens: validate, count, plan, generate.

What the simulated model answers:
  - tool_choice `any` or `tool`: one tool_use block (a random tool, or the named one) whose
    input validates against the tool's input_schema; stop_reason `tool_use`;
  - tool_choice `auto` (the default with tools): the same when the conversation ends with a
    user turn that carries no tool_result, else text, so agent loops terminate;
  - output_config.format json_schema: one text block holding JSON valid against the schema;
  - otherwise text from the configured generator, cut at max_tokens (`max_tokens`) or before
    the first stop sequence (`stop_sequence`), else `end_turn`;
  - a scripted generator's rule may instead give a reply, a tool_use block or an error.
With thinking enabled (or adaptive), a thinking block comes first and takes part of the
planned tokens (at most budget_tokens). Output tokens are exactly the tokens sent; input
tokens are counted by llmsim.core.prompts.
"""

import msgspec

from llmsim.api import anthropic_render as render, planning
from llmsim.api.anthropic_render import Answer, Block
from llmsim.api.anthropic_types import (COUNT_TOKENS, MESSAGES, TextBlock, ThinkingAdaptive,
                                        ThinkingEnabled, ToolChoiceAny, ToolChoiceNone,
                                        ToolChoiceTool, ToolResultBlock)
from llmsim.api.anthropic_wire import (JSON, SSE, decode_error, headers, message_id,
                                       model_not_found, random_text, tool_use_id)
from llmsim.core.prompts import input_tokens
from llmsim.core.stream import Delayed
from llmsim.core.textreply import MessagesCore
from llmsim.errors import ApiError
from llmsim.sim import output
from llmsim.sim.jsonschema_gen import generate
from llmsim.sim.stop import cut

THINKING_MIN_BUDGET = 1024
_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
_JSON_ENCODE = msgspec.json.encode


def last_user_text(messages):
    """The text of the last user turn ('' when there is none)."""
    for m in reversed(messages):
        if m.role == "user":
            c = m.content
            if type(c) is str:
                return c
            return "\n".join(b.text for b in c if type(b) is TextBlock)
    return ""


def _ends_with_tool_result(messages):
    last = messages[-1]
    return last.role != "user" or (type(last.content) is not str and
                                    any(type(b) is ToolResultBlock for b in last.content))


def check_tools(r):
    """The client tools of a request after the API's checks ([] when none)."""
    tools = []
    for i, tool in enumerate(r.tools or ()):
        if tool.type in (None, "custom"):
            if tool.input_schema is None:
                raise ApiError(400, f"tools.{i}.custom.input_schema: Field required")
            tools.append(tool)
    choice = r.tool_choice
    if choice is not None and not r.tools and type(choice) is not ToolChoiceNone:
        raise ApiError(400, "tool_choice may only be specified while providing tools.")
    if type(choice) is ToolChoiceTool and not any(t.name == choice.name for t in r.tools):
        raise ApiError(400, f"tool_choice.name: Tool '{choice.name}' not found in the "
                            "provided tools")
    return tools


def check_thinking(r):
    """The thinking budget in tokens (0: no thinking) after the API's checks."""
    t = r.thinking
    if type(t) is ThinkingEnabled:
        if t.budget_tokens < THINKING_MIN_BUDGET:
            raise ApiError(400, "thinking.enabled.budget_tokens: Input should be greater than "
                                f"or equal to {THINKING_MIN_BUDGET}")
        if t.budget_tokens >= r.max_tokens:
            raise ApiError(400, "`max_tokens` must be greater than `thinking.budget_tokens`. "
                                f"Please consult our documentation at {_DOCS}")
        budget = t.budget_tokens
    elif type(t) is ThinkingAdaptive:
        budget = r.max_tokens
    else:
        return 0
    if r.temperature is not None and r.temperature != 1:
        raise ApiError(400, "`temperature` may only be set to 1 when thinking is enabled. "
                            f"Please consult our documentation at {_DOCS}")
    if r.top_k is not None:
        raise ApiError(400, "`top_k` must be unset when thinking is enabled. Please consult "
                            f"our documentation at {_DOCS}")
    return budget


def _decoded(decoder, body):
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as e:
        raise decode_error(e) from None


def _model(catalog, r):
    """The catalog entry of a Messages or count_tokens request after the checks both make."""
    model = catalog.get(r.model)
    if model is None or model.kind not in ("chat", "reasoning"):
        raise model_not_found(r.model)
    if not r.messages:
        raise ApiError(400, "messages: List should have at least 1 item after "
                            "validation, not 0")
    return model


class Messages(MessagesCore):
    """The handler of POST /v1/messages: llmsim.core.textreply's compiled path, with every
    answer but the common one made here."""

    def __init__(self, env):
        super().__init__(env, last_user_text)
        self.env = env

    def general(self, req, r):
        """Any request (`r`: its body decoded, or None), checked and answered in full."""
        env = self.env
        if r is None:
            r = _decoded(MESSAGES, req.body)
        model = _model(env.catalog, r)
        if r.max_tokens > model.max_output:
            raise ApiError(400, f"max_tokens: {r.max_tokens} > {model.max_output}, which is "
                                "the maximum allowed number of output tokens for "
                                f"{model.id}")
        tools = check_tools(r)
        budget = check_thinking(r)
        gen = env.generators.pick(r.model, req.headers.get(b"x-llmsim-generator"))
        prompt = last_user_text(r.messages) if gen.needs_prompt else ""
        scripted = None
        if gen.scripted:
            gen, scripted = gen.resolve(prompt, r.model)
        n_in = input_tokens(r)
        plan = planning.plan(env, req, r.model, n_in, r.max_tokens)
        answer = self.answer(r, tools, budget, gen, prompt, scripted, plan, n_in)
        sent = answer.output_tokens
        planning.settle(env, req, plan, sent, n_in, sent)
        if r.stream:
            return 200, headers(SSE), render.stream(answer, plan,
                                                    planning.releaser(env.planner, plan))
        return 200, headers(JSON), Delayed(render.message(answer),
                                           planning.finish_ns(plan, sent))

    def answer(self, r, tools, budget, gen, prompt, scripted, plan, n_in):
        """The Answer; `scripted` is a script's (tool name, JSON arguments) or None."""
        rng = plan.rng
        blocks = []
        thinking = 0
        run = output.thought(plan, budget)
        if run is not None:
            thinking = run.count
            blocks.append(Block(render.THINKING, run, signature=random_text(120)))
        if scripted is None:
            tool = self.tool_to_call(r, tools, rng)
            if tool is not None:
                scripted = (tool.name, _JSON_ENCODE(generate(tool.input_schema, rng)))
        if scripted is not None:
            blocks.append(Block(render.TOOL_USE, output.capped(scripted[1], None)[0],
                                id=tool_use_id(), name=scripted[0]))
            return Answer(message_id(), r.model, blocks, b"tool_use", None, n_in)
        cap = r.max_tokens - thinking
        fmt = r.output_config.format if r.output_config is not None else None
        if fmt is not None:
            run, truncated = output.capped(_JSON_ENCODE(generate(fmt.schema, rng)), cap)
        else:
            run, truncated = output.text(gen, prompt, plan, cap, thinking)
        run, stop = cut(run, r.stop_sequences)
        if stop is not None:
            reason = b"stop_sequence"
        else:
            reason = b"max_tokens" if truncated else b"end_turn"
        blocks.append(Block(render.TEXT, run))
        return Answer(message_id(), r.model, blocks, reason, stop, n_in)

    @staticmethod
    def tool_to_call(r, tools, rng):
        """The tool the simulated model calls, or None (see the module docstring)."""
        if not tools:
            return None
        choice = r.tool_choice
        t = type(choice)
        if t is ToolChoiceNone:
            return None
        if t is ToolChoiceTool:
            return next(tool for tool in tools if tool.name == choice.name)
        if t is not ToolChoiceAny and _ends_with_tool_result(r.messages):
            return None
        return tools[rng.below(len(tools))]


class CountTokens:
    """The handler of POST /v1/messages/count_tokens."""

    def __init__(self, env):
        self.env = env

    def __call__(self, req):
        r = _decoded(COUNT_TOKENS, req.body)
        _model(self.env.catalog, r)
        check_tools(r)
        return 200, headers(JSON), b'{"input_tokens":%d}' % input_tokens(r)


def routes(env):
    return [(b"POST", "/v1/messages", "anthropic.messages", Messages(env)),
            (b"POST", "/v1/messages/count_tokens", "anthropic.count_tokens", CountTokens(env))]
