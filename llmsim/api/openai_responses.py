"""POST /v1/responses: `input` as a string or items, `instructions`, `max_output_tokens`,
function tools, `text.format`, reasoning items and usage; streamed as the full event
sequence with `sequence_number` (created, in_progress, output_item.added,
content_part.added, output_text.delta..., output_text.done, content_part.done,
output_item.done, completed — or incomplete when max_output_tokens cut the output).

The response envelope echoes the request's settings and is encoded once per request; output
text and arguments are rendered from escaped token runs, and the deltas of a stream from
templates (llmsim.core.sse).
"""

import msgspec

from llmsim.api import openai_tools, planning
from llmsim.api.openai_chat import json_answer, reasoning_tokens
from llmsim.api.openai_env import gap
from llmsim.api.openai_types import RESPONSES, FunctionDef
from llmsim.api.openai_wire import SSE, Delayed, decode, headers
from llmsim.core.ids import alnum, hexstr
from llmsim.core.pieces import Run
from llmsim.core.render import escape
from llmsim.core.sse import TokenStream
from llmsim.errors import ApiError
from llmsim.sim.tokens import PER_MESSAGE, REPLY_PRIMING, Pieces, count

_encode = msgspec.json.encode
Raw = msgspec.Raw
_ROLES = ("user", "assistant", "system", "developer")


def _texts(content):
    """Text of a message's content (a string or a list of parts)."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p.get("text") or p.get("refusal") or "" for p in content if isinstance(p, dict)]
    return []


def read_input(value):
    """(prompt tokens, last user text, last item is a tool result) of `input`."""
    if value is None:
        raise ApiError(400, "Missing required parameter: 'input'.", param="input",
                       code="missing_required_parameter")
    if isinstance(value, str):
        return PER_MESSAGE + count(value) + REPLY_PRIMING, value, False
    if not isinstance(value, list):
        raise ApiError(400, "Invalid type for 'input': expected one of a string or array of "
                            "input items, but got an object instead.", param="input",
                       code="invalid_type")
    n, last_user, after_result = 0, "", False
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ApiError(400, f"Invalid type for 'input[{i}]': expected an input item, but got "
                                f"{type(item).__name__} instead.", param=f"input[{i}]",
                           code="invalid_type")
        kind = item.get("type", "message")
        after_result = kind in ("function_call_output", "custom_tool_call_output")
        if kind == "message":
            role = item.get("role")
            if role not in _ROLES:
                raise ApiError(400, f"Invalid value: '{role}'. Supported values are: 'user', "
                                    "'assistant', 'system', and 'developer'.",
                               param=f"input[{i}].role", code="invalid_value")
            if "content" not in item:
                raise ApiError(400, f"Missing required parameter: 'input[{i}].content'.",
                               param=f"input[{i}].content", code="missing_required_parameter")
            texts = _texts(item["content"])
            n += PER_MESSAGE + sum(count(t) for t in texts)
            if role == "user":
                last_user = "\n".join(texts)
        elif kind == "function_call":
            n += PER_MESSAGE + count(str(item.get("name", ""))) + \
                count(str(item.get("arguments", "")))
        elif kind == "function_call_output":
            out = item.get("output", "")
            n += PER_MESSAGE + (count(out) if isinstance(out, str) else
                                count(_encode(out)))
    return n + REPLY_PRIMING, last_user, after_result


def _functions(tools):
    fns = []
    for i, t in enumerate(tools or ()):
        if t.get("type") == "function":
            if not isinstance(t.get("name"), str):
                raise ApiError(400, f"Missing required parameter: 'tools[{i}].name'.",
                               param=f"tools[{i}].name", code="missing_required_parameter")
            fns.append(FunctionDef(t["name"], t.get("description"), t.get("parameters"),
                                   t.get("strict")))
    return fns


def _choice(tc, fns, after_result):
    if tc is None or isinstance(tc, str):
        return openai_tools.select(fns, tc or "auto", None, after_result, "tool_choice")
    if tc.get("type") == "function":
        return openai_tools.select(fns, "required", [tc.get("name")], False, "tool_choice.name")
    if tc.get("type") == "allowed_tools":
        names = [t.get("name") for t in tc.get("tools") or () if t.get("name")]
        return openai_tools.select(fns, tc.get("mode", "auto"), names, after_result,
                                   "tool_choice.tools", forced=False)
    return [], False


class Responses:
    """The handler of POST /v1/responses."""

    def __init__(self, env):
        self.env = env

    def __call__(self, req):
        env = self.env
        r = decode(RESPONSES, req.body)
        model = env.catalog.require(r.model)
        if model.kind not in ("chat", "reasoning"):
            raise ApiError(400, f"The model `{r.model}` is not supported with the Responses "
                                "API.", param="model")
        n_prompt, last_user, after_result = read_input(r.input)
        if r.instructions:
            n_prompt += PER_MESSAGE + count(r.instructions)
        fns = _functions(r.tools)
        cap = r.max_output_tokens
        fmt = (r.text or {}).get("format") or {"type": "text"}
        gen = env.generators.pick(r.model, req.headers.get(b"x-llmsim-generator"))
        scripted_call = None
        if gen.scripted:
            gen, scripted_call = gen.resolve(last_user, r.model)
        plan = planning.plan(env, req, r.model, n_prompt, cap)
        rng = plan.rng
        reasoning, cap = reasoning_tokens(model, (r.reasoning or {}).get("effort") or "medium",
                                          rng, cap)
        wanted, forced = _choice(r.tool_choice, fns, after_result) if fns else ([], False)
        items, cut = [], False          # (kind, id, Run, name, call_id)
        if reasoning:
            items.append(("reasoning", b"rs_" + hexstr(48), None, None, None))
        if scripted_call is not None or wanted:
            calls = [scripted_call] if scripted_call is not None else \
                openai_tools.draw(wanted, forced, r.parallel_tool_calls, rng)
            for f in calls[:r.max_tool_calls or len(calls)]:
                fname, args = f if type(f) is tuple else (f.name, openai_tools.arguments(f, rng))
                p = Pieces(args)
                items.append(("function_call", b"fc_" + hexstr(48), Run(p, 0, p.count), fname,
                              b"call_" + alnum(24)))
        else:
            if fmt.get("type") in ("json_schema", "json_object"):
                schema = fmt.get("schema") if fmt.get("type") == "json_schema" else None
                run, cut = json_answer(schema or None, rng, cap)
            else:
                run, cut = gen.generate(last_user, plan, cap, rng.u64())
            items.append(("message", b"msg_" + hexstr(48), run, None, None))
        if cap is not None and not cut:
            used = 0
            for i, it in enumerate(items):
                if it[2] is not None:
                    if used + it[2].count > cap:
                        items[i] = it[:2] + (it[2].head(cap - used),) + it[3:]
                        cut = True
                    used += items[i][2].count
        out_tokens = sum(it[2].count for it in items if it[2] is not None)
        usage = _encode({"input_tokens": n_prompt,
                         "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                         "output_tokens": out_tokens + reasoning,
                         "output_tokens_details": {"reasoning_tokens": reasoning},
                         "total_tokens": n_prompt + out_tokens + reasoning})
        planning.settle(env, req, plan, out_tokens, n_prompt, out_tokens + reasoning)
        envelope = _Envelope(r, b"resp_" + hexstr(48), env.clock.unix(req.received_ns), fns)
        status = b"incomplete" if cut else b"completed"
        if r.stream:
            return 200, headers(plan.ttft_ns, SSE), _stream(
                envelope, items, status, usage, plan, planning.releaser(env.planner, plan))
        delay = planning.finish_ns(plan, out_tokens)
        output = b"[" + b",".join(_item(it, status, True) for it in items) + b"]"
        return 200, headers(delay), Delayed(envelope.render(status, output, usage), delay)


class _Envelope:
    """The response object around the output, echoing the request's settings."""

    def __init__(self, r, rid, created, fns):
        text = dict(r.text or {})
        text.setdefault("format", {"type": "text"})
        text.setdefault("verbosity", "medium")
        self.doc = {
            "id": Raw(b'"' + rid + b'"'), "object": "response", "created_at": created,
            "status": None, "background": bool(r.background), "error": None,
            "incomplete_details": None, "instructions": r.instructions,
            "max_output_tokens": r.max_output_tokens, "max_tool_calls": r.max_tool_calls,
            "model": r.model, "output": None, "parallel_tool_calls":
                r.parallel_tool_calls is not False,
            "previous_response_id": r.previous_response_id,
            "prompt_cache_key": r.prompt_cache_key,
            "reasoning": {"effort": (r.reasoning or {}).get("effort"),
                          "summary": (r.reasoning or {}).get("summary")},
            "safety_identifier": r.safety_identifier,
            "service_tier": r.service_tier if r.service_tier in ("flex", "priority", "scale")
            else "default",
            "store": r.store is not False, "temperature": 1.0 if r.temperature is None
            else r.temperature, "text": text,
            "tool_choice": r.tool_choice if r.tool_choice is not None else "auto",
            "tools": [dict(t, strict=t.get("strict", True)) if t.get("type") == "function"
                      else t for t in r.tools or ()],
            "top_logprobs": r.top_logprobs or 0,
            "top_p": 1.0 if r.top_p is None else r.top_p,
            "truncation": r.truncation or "disabled", "usage": None,
            "metadata": r.metadata or {},
        }
        if r.user is not None:
            self.doc["user"] = r.user
        self.fns = fns

    def render(self, status, output, usage):
        doc = self.doc
        doc["status"] = status.decode()
        doc["output"] = Raw(output)
        if usage is not None:
            doc["usage"] = Raw(usage)
        else:    # live: "usage": null until completed; the published schema has no null
            doc.pop("usage", None)
        doc["incomplete_details"] = ({"reason": "max_output_tokens"}
                                     if status == b"incomplete" else None)
        return _encode(doc)


def _item(it, status, done):
    """The JSON of one output item (`done`: with its full text/arguments)."""
    kind, iid, run, name, call_id = it
    st = (status if done else b"in_progress").decode()
    if kind == "reasoning":
        return b'{"id":"%b","type":"reasoning","summary":[]}' % iid
    if kind == "function_call":
        return (b'{"id":"%b","type":"function_call","status":"%b","arguments":"%b",'
                b'"call_id":"%b","name":"%b"}' % (iid, st.encode(), run.esc() if done else b"",
                                                  call_id, escape(name)))
    content = b'[%b]' % _text_part(run) if done else b"[]"
    return (b'{"id":"%b","type":"message","status":"%b","content":%b,"role":"assistant"}'
            % (iid, st.encode(), content))


def _text_part(run):
    body = run.esc() if run is not None else b""
    return b'{"type":"output_text","annotations":[],"logprobs":[],"text":"%b"}' % body


def _event(kind, seq, fields):
    return b'event: %b\ndata: {"type":"%b","sequence_number":%d,%b}\n\n' % (kind, kind, seq,
                                                                           fields)


def _stream(env, items, status, usage, plan, on_close):
    seq = 0
    frames = []                                  # literal or run items for the one lane

    def literal(kind, fields):
        nonlocal seq
        frames.append((None, _event(kind, seq, fields), b""))
        seq += 1

    lead = b"".join(_event(k, i, b'"response":' + env.render(b"in_progress", b"[]", None))
                    for i, k in enumerate((b"response.created", b"response.in_progress")))
    seq = 2
    for k, it in enumerate(items):
        kind, iid, run, name, call_id = it
        literal(b"response.output_item.added", b'"output_index":%d,"item":%b'
                % (k, _item(it, status, False)))
        if kind == "message":
            where = b'"item_id":"%b","output_index":%d,"content_index":0' % (iid, k)
            literal(b"response.content_part.added", where + b',"part":' + _text_part(None))
            frames.append((run, b'event: response.output_text.delta\ndata: {"type":'
                           b'"response.output_text.delta",' + where + b',"delta":"',
                           b'","logprobs":[],"sequence_number":', seq, b"}\n\n"))
            seq += run.count
            literal(b"response.output_text.done",
                    where + b',"text":"' + run.esc() + b'","logprobs":[]')
            literal(b"response.content_part.done", where + b',"part":' + _text_part(run))
        elif kind == "function_call":
            where = b'"item_id":"%b","output_index":%d' % (iid, k)
            frames.append((run, b'event: response.function_call_arguments.delta\ndata: '
                           b'{"type":"response.function_call_arguments.delta",' + where +
                           b',"delta":"', b'","sequence_number":', seq, b"}\n\n"))
            seq += run.count
            literal(b"response.function_call_arguments.done",
                    where + b',"name":"' + escape(name) + b'","arguments":"' + run.esc() + b'"')
        literal(b"response.output_item.done", b'"output_index":%d,"item":%b'
                % (k, _item(it, status, True)))
    output = b"[" + b",".join(_item(it, status, True) for it in items) + b"]"
    final_kind = b"response.completed" if status == b"completed" else b"response.incomplete"
    final = _event(final_kind, seq, b'"response":' + env.render(status, output, usage))
    return TokenStream([frames], [final], lead, b"", plan.due, plan.ttft_ns, gap(plan), None,
                       on_close)


def routes(env):
    return [(b"POST", "/v1/responses", "openai.responses", Responses(env))]
