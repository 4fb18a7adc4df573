"""Tool calling for chat: which functions the simulated model calls, and their arguments.

Rules (deterministic for a seeded request):
  - no tools, or tool_choice "none": no call;
  - a named function (or allowed_tools with one name): that function;
  - "required": a call even right after tool results;
  - "auto" (the default with tools): a call, unless the last message is a tool result, in
    which case the model answers in text (the usual agent loop ends);
  - one call, or with `parallel_tool_calls: true` given explicitly and several tools, one
    call to each of up to three tools.
Arguments are JSON valid against the function's `parameters` schema.
"""

import re

import msgspec

from llmsim.api.openai_types import (AllowedToolsChoice, FunctionMessage, FunctionTool,
                                     NamedToolChoice, ToolMessage)
from llmsim.errors import ApiError
from llmsim.sim.jsonschema_gen import generate

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_EMPTY = {"type": "object", "properties": {}}


def functions(r):
    """The request's function tools after OpenAI's checks (list of FunctionDef)."""
    tools = r.tools or ()
    fns = []
    for i, t in enumerate(tools):
        if type(t) is FunctionTool:
            if not _NAME.match(t.function.name):
                raise ApiError(400, f"Invalid 'tools[{i}].function.name': string does not match "
                                    "pattern. Expected a string that matches the pattern "
                                    "'^[a-zA-Z0-9_-]+$'.", param=f"tools[{i}].function.name",
                               code="invalid_value")
            fns.append(t.function)
    if r.tool_choice is not None and not tools:
        raise ApiError(400, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
                            "'tools' are specified.", param="tool_choice")
    if r.parallel_tool_calls is not None and not tools:
        raise ApiError(400, "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is "
                            "only allowed when 'tools' are specified.",
                       param="parallel_tool_calls")
    return fns


def _by_name(fns, name, param):
    for f in fns:
        if f.name == name:
            return f
    raise ApiError(400, f"Invalid value for '{param}': no function named '{name}' was "
                        "specified in the 'tools' parameter.", param=param)


def chosen(r, fns, messages):
    """The functions a chat request may call now (possibly none), and whether forced."""
    tc = r.tool_choice
    if type(tc) is NamedToolChoice:
        return select(fns, "required", [tc.function.name], False, "tool_choice.function.name")
    if type(tc) is AllowedToolsChoice:
        spec = tc.allowed_tools or {}
        names = [(t.get("function") or {}).get("name") for t in spec.get("tools") or ()]
        return select(fns, spec.get("mode", "auto"), [n for n in names if n],
                      type(messages[-1]) in (ToolMessage, FunctionMessage),
                      "tool_choice.allowed_tools.tools", forced=False)
    return select(fns, tc if type(tc) is str else "auto", None,
                  type(messages[-1]) in (ToolMessage, FunctionMessage), "tool_choice")


def select(fns, mode, names, after_result, param, forced=True):
    """(functions to call, forced) for a tool_choice `mode` ("none", "auto", "required"),
    optionally restricted to `names`; "auto" right after a tool result answers in text."""
    if not fns or mode == "none":
        return [], False
    if names is not None:
        fns = [_by_name(fns, n, param) for n in names]
        if forced and len(fns) == 1:
            return fns, True
    if mode == "auto" and after_result:
        return [], False
    return fns, False


def draw(fns, forced, parallel, rng):
    """The functions called this time: one, or several when parallel calls were asked."""
    if forced:
        return fns
    if parallel is True and len(fns) > 1:
        order = sorted(fns, key=lambda f: rng.u64())
        return order[:3]
    return [fns[rng.below(len(fns))]]


def arguments(fn, rng):
    """Compact JSON arguments for `fn`, valid against its parameters schema."""
    return msgspec.json.encode(generate(fn.parameters or _EMPTY, rng)).decode()
