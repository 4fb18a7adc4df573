"""POST /{v1,v1beta}/models/{model}:generateContent, :streamGenerateContent and :countTokens.

What the simulated model answers:
  - function calling mode ANY: one functionCall part (a random allowed function) whose args
    validate against its parameters schema; AUTO/VALIDATED (the default with function
    declarations): the same when the conversation ends with a user turn that carries no
    functionResponse, else text; NONE: text;
  - responseMimeType application/json: text that is JSON valid against responseSchema or
    responseJsonSchema; text/x.enum: one of the schema's enum values;
  - otherwise text from the configured generator, cut at maxOutputTokens (MAX_TOKENS) or
    before the first stop sequence (STOP);
  - a scripted generator's rule may instead give a reply, a functionCall or an error.
With thinkingConfig (a non-zero thinkingBudget or includeThoughts) the model thinks first:
part of the planned tokens (at most the budget) count as thoughtsTokenCount and delay the
first visible token; includeThoughts also returns them as `thought` parts.
`generationConfig.seed` makes the answer deterministic. Input tokens count the text of every
part with llmsim's tokenizer, an image or other inline media at a fixed cost, and function
calls, responses and declarations as their JSON (llmsim.core.prompts).
"""

import msgspec

from llmsim.api import gemini_render as render, planning
from llmsim.api.gemini_render import Answer, Candidate
from llmsim.api.gemini_types import COUNT_TOKENS, GENERATE
from llmsim.api.gemini_wire import (CHAT_KINDS, FORMATS, JSON, SSE, alt_sse, decode,
                                    headers, invalid, model_of, response_id)
from llmsim.core.gemini_checks import check
from llmsim.core.prompts import contents_tokens, prompt_tokens
from llmsim.core.stream import Delayed
from llmsim.core.textreply import GenerateCore
from llmsim.sim import output
from llmsim.sim.jsonschema_gen import generate
from llmsim.sim.stop import cut
from llmsim.sim.tokens import count

_JSON_ENCODE = msgspec.json.encode
_ANY_JSON = {"type": "object", "properties": {"response": {"type": "string"}},
             "required": ["response"]}
_EMPTY = {"type": "object", "properties": {}}


def _last_user_text(contents):
    for c in reversed(contents):
        if c.role in (None, "user"):
            return "\n".join(p.text for p in c.parts if p.text is not None and not p.thought)
    return ""


def _wants_call(contents):
    last = contents[-1]
    return last.role in (None, "user") and not any(p.function_response is not None
                                                   for p in last.parts)


def _functions(r):
    """(declarations that may be called, mode)."""
    decls = [d for tool in r.tools or () for d in tool.function_declarations or ()]
    fc = r.tool_config.function_calling_config if r.tool_config is not None else None
    mode = (fc.mode if fc is not None and fc.mode else "AUTO") if decls else "NONE"
    if fc is not None and fc.allowed_function_names:
        allowed = set(fc.allowed_function_names)
        unknown = allowed - {d.name for d in decls}
        if unknown:
            raise invalid(f"Function calling config references unknown function(s): "
                          f"{', '.join(sorted(unknown))}.")
        decls = [d for d in decls if d.name in allowed]
    return decls, mode


class GenerateContent(GenerateCore):
    """The handler of :generateContent (stream=False) and :streamGenerateContent:
    llmsim.core.textreply's compiled path, with every answer but the common one made here."""

    def __init__(self, env, version, stream):
        super().__init__(env, stream, _last_user_text)
        self.env = env
        self.version = version
        self.stream = stream
        self.method = "streamGenerateContent" if stream else "generateContent"

    def general(self, req, r):
        """Any request (`r`: its body decoded, or None), checked and answered in full."""
        env = self.env
        name, model = model_of(env.catalog, req, self.version, self.method, CHAT_KINDS)
        if r is None:
            r = decode(GENERATE, req.body)
        cap, n = check(r, model.max_output)
        g = r.generation_config
        gen = env.generators.pick(name, req.headers.get(b"x-llmsim-generator"))
        prompt = _last_user_text(r.contents) if gen.needs_prompt else ""
        scripted = None
        if gen.scripted:
            gen, scripted = gen.resolve(prompt, name)
        n_in = prompt_tokens(r)
        plan = planning.plan(env, req, name, n_in, cap, g.seed if g is not None else None)
        cands = [self.candidate(r, gen, prompt, scripted, plan, cap) for _ in range(n)]
        sent = max(c.thoughts + c.visible for c in cands)
        planning.settle(env, req, plan, sent, n_in, sum(c.thoughts + c.visible for c in cands))
        t = g.thinking_config if g is not None else None
        a = Answer(response_id(), name, cands, n_in, bool(t and t.include_thoughts))
        if self.stream:
            framing = render.SSE if alt_sse(req.query) else render.ARRAY
            ctype = SSE if framing is render.SSE else JSON
            return 200, headers(plan.ttft_ns, ctype), render.stream(
                a, framing, plan, planning.releaser(env.planner, plan))
        delay = planning.finish_ns(plan, sent)
        return 200, headers(delay), Delayed(render.response(a), delay)

    @staticmethod
    def candidate(r, gen, prompt, scripted, plan, cap):
        """One Candidate; `scripted` is a script's (function name, JSON arguments) or None."""
        g = r.generation_config
        rng = plan.rng
        thought = None
        t = g.thinking_config if g is not None else None
        if t is not None and (t.include_thoughts or (t.thinking_budget or 0) != 0):
            budget = t.thinking_budget if t.thinking_budget and t.thinking_budget > 0 else cap
            thought = output.thought(plan, budget)
        thinking = thought.count if thought is not None else 0
        decls, mode = _functions(r)
        if scripted is None and decls and (
                mode == "ANY" or (mode in ("AUTO", "VALIDATED", "MODE_UNSPECIFIED")
                                  and _wants_call(r.contents))):
            d = decls[rng.below(len(decls))]
            schema = d.parameters_json_schema or json_schema(d.parameters) or _EMPTY
            scripted = (d.name, _JSON_ENCODE(generate(schema, rng)))
        if scripted is not None:
            name, args = scripted
            args = args.encode() if isinstance(args, str) else args
            tokens = count(args)
            return Candidate(thought, None, (name, args, tokens), b"STOP", tokens)
        room = cap - thinking
        mime = g.response_mime_type if g is not None else None
        if mime in FORMATS:
            schema = g.response_json_schema or json_schema(g.response_schema) or _ANY_JSON
            value = generate(schema, rng)
            text = value if mime == "text/x.enum" and isinstance(value, str) else \
                _JSON_ENCODE(value)
            run, truncated = output.capped(text, room)
        else:
            run, truncated = output.text(gen, prompt, plan, room, thinking)
        run, stop = cut(run, g.stop_sequences if g is not None else None)
        finish = b"MAX_TOKENS" if truncated and stop is None else b"STOP"
        return Candidate(thought, run, None, finish, run.count)


def json_schema(s):
    """Gemini's OpenAPI-style Schema as JSON Schema: lower-case types, `nullable` as a null
    type, properties in `propertyOrdering` order."""
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k in ("items", "additionalProperties"):
            out[k] = json_schema(v)
        elif k in ("anyOf", "oneOf", "allOf", "prefixItems"):
            out[k] = [json_schema(x) for x in v] if isinstance(v, list) else v
        elif k == "properties" and isinstance(v, dict):
            order = s.get("propertyOrdering") or s.get("property_ordering") or ()
            names = [n for n in order if n in v] + [n for n in v if n not in order]
            out[k] = {n: json_schema(v[n]) for n in names}
        elif k == "type" and isinstance(v, str):
            out[k] = [v.lower(), "null"] if s.get("nullable") else v.lower()
        elif k not in ("nullable", "propertyOrdering", "property_ordering"):
            out[k] = v
    return out


class CountTokens:
    """The handler of :countTokens (`contents` or a whole `generateContentRequest`)."""

    def __init__(self, env, version):
        self.env = env
        self.version = version

    def __call__(self, req):
        model_of(self.env.catalog, req, self.version, "countTokens")
        r = decode(COUNT_TOKENS, req.body)
        if r.generate_content_request is not None:
            n = prompt_tokens(r.generate_content_request)
        else:
            n = contents_tokens(r.contents)
        return 200, headers(0), b'{"totalTokens":%d,"promptTokensDetails":[{"modality":' \
                                b'"TEXT","tokenCount":%d}]}' % (n, n)


def routes(env):
    out = []
    for v in ("v1", "v1beta"):
        base = f"/{v}/models/{{model}}"
        out += [
            (b"POST", base + ":generateContent", "gemini.generate_content",
             GenerateContent(env, v, False)),
            (b"POST", base + ":streamGenerateContent", "gemini.stream_generate_content",
             GenerateContent(env, v, True)),
            (b"POST", base + ":countTokens", "gemini.count_tokens", CountTokens(env, v)),
        ]
    return out
