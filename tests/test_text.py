"""The tokenizer, token runs and the content generators (llmsim.sim.tokens, llmsim.sim.text)."""

import json
import re
from types import SimpleNamespace

import pytest
from hypothesis import given, strategies as st

from llmsim.errors import ApiError, ConfigError
from llmsim.sim.generators import Generators
from llmsim.sim.text import CORPUS, ECHO, LOREM_GEN, Fixed
from llmsim.sim.tokens import Pieces, count

UNICODE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))


def plan(n, truncated=False):
    return SimpleNamespace(n_tokens=n, truncated=truncated)


@pytest.mark.parametrize("text,tokens", [
    ("", []),
    ("Hello, world!", ["Hello", ",", " world", "!"]),
    ("a  b", ["a", " ", " b"]),
    ("internationalization", ["internat", "ionaliza", "tion"]),
    ("12345 cafés", ["123", "45", " cafés"]),
    ("end.\n\nNext", ["end", ".", "\n\n", "Next"]),
])
def test_tokenizer_rule(text, tokens):
    p = Pieces(text)
    assert [p.token(i).decode() for i in range(p.count)] == tokens
    assert count(text) == len(tokens)


@given(UNICODE)
def test_pieces_cover_the_text_exactly(text):
    p = Pieces(text)
    assert b"".join(p.token(i) for i in range(p.count)) == text.encode()
    assert p.raw_span(0, p.count) == text.encode()
    assert p.count == count(text) == count(text.encode())


@given(UNICODE, st.data())
def test_a_prefix_cut_at_a_token_boundary_recounts_the_same(text, data):
    p = Pieces(text)
    k = data.draw(st.integers(0, p.count))
    assert count(p.raw_span(0, k)) == k


@given(st.text(alphabet="ab \n.,1é\"\\\t", max_size=60), st.integers(0, 200), st.integers(0, 200))
def test_escaped_spans_match_raw_spans_even_when_wrapping(text, first, n):
    p = Pieces(text)
    if p.count == 0:
        assert p.esc_span(first, n) == b""
        return
    raw = p.raw_span(first, n).decode()
    assert json.loads(b'"' + p.esc_span(first, n) + b'"') == raw


def test_corpus_runs_start_at_sentences_and_have_the_planned_length():
    for r in range(50):
        run, cut = CORPUS.generate("", plan(40), None, r * 7919)
        text = run.raw().decode()
        assert run.count == 40 and not cut
        assert text[0].isupper(), text
        assert count(text) == 40


def test_corpus_run_at_the_cap_is_cut_for_length():
    run, cut = CORPUS.generate("", plan(16), 16, 3)
    assert cut and run.count == 16
    run, cut = CORPUS.generate("", plan(30), 16, 3)
    assert cut and run.count == 16
    run, cut = CORPUS.generate("", plan(12, truncated=True), None, 3)
    assert cut and run.count == 12


def test_corpus_wraps_around_for_long_answers():
    run, _ = CORPUS.generate("", plan(CORPUS.pieces.count * 2 + 5), None, 1)
    assert count(run.raw()) == CORPUS.pieces.count * 2 + 5


def test_echo_repeats_the_prompt_and_is_cut_at_the_cap():
    run, cut = ECHO.generate("Say this back to me", plan(100), None, 0)
    assert run.raw() == b"Say this back to me" and not cut
    run, cut = ECHO.generate("Say this back to me", plan(100), 2, 0)
    assert run.raw() == b"Say this" and cut


def test_fixed_and_lorem():
    assert Fixed("OK.").generate("x", plan(50), None, 9)[0].raw() == b"OK."
    assert LOREM_GEN.generate("", plan(5), None, 0)[0].raw() == b"Lorem ipsum dolor sit amet"


def test_generators_pick_header_then_model_then_default():
    g = Generators({"default": "lorem", "models": {"m1": "echo"},
                    "named": {"hi": {"type": "fixed", "text": "Hi!"}}})
    assert g.pick("other", None) is LOREM_GEN
    assert g.pick("m1", None) is ECHO
    assert g.pick("m1", b"corpus") is CORPUS
    assert g.pick("m1", b"hi").generate("", plan(9), None, 0)[0].raw() == b"Hi!"
    with pytest.raises(ApiError) as e:
        g.pick("m1", b"nope")
    assert e.value.status == 400 and "nope" in e.value.message


@pytest.mark.parametrize("section,field", [
    ({"default": "nope"}, "generators.default"),
    ({"models": {"m": {"type": "fixed"}}}, "generators.models.m.text"),
    ({"named": {"x": {"type": "weird"}}}, "generators.named.x.type"),
    ({"bogus": 1}, "bogus"),
    ({"default": {"type": "script", "rules": [{"match": "x"}]}}, "generators.default.rules[0]"),
    ({"default": {"type": "script", "rules": [{"reply": "x"}]}}, "generators.default.rules[0]"),
    ({"default": {"type": "script", "rules": [{"regex": "(", "reply": "x"}]}},
     "generators.default.rules[0].regex"),
    ({"default": {"type": "script", "rules": [{"match": "x", "reply": "y", "times": 0}]}},
     "generators.default.rules[0].times"),
    ({"default": {"type": "script", "rules": [{"match": "x", "error": {"status": 200,
                                                                     "message": "m"}}]}},
     "generators.default.rules[0].error.status"),
    ({"default": {"type": "script", "rules": [], "fallback": "nope"}}, "generators.default.fallback"),
])
def test_generator_config_errors_name_the_field(section, field):
    with pytest.raises(ConfigError, match=re.escape(field)):
        Generators(section)


def _reference_tokens(data):
    """The tokenizer rule of csrc/llmsim_tokens.h, written plainly."""
    def cls(b):
        if b >= 0x80 or chr(b).isascii() and chr(b).isalpha():
            return "L"
        if 0x30 <= b <= 0x39:
            return "D"
        if b == 0x20:
            return "S"
        return "W" if b in b"\n\t\r\f\v" else "O"
    out, i, n = [], 0, len(data)
    while i < n:
        start, c = i, cls(data[i])
        if c == "S" and i + 1 < n and cls(data[i + 1]) in "LDO":
            i, c = i + 1, cls(data[i + 1])
        if c in "SW":
            j = i + 1
            while j < n and cls(data[j]) in "SW":
                if cls(data[j]) == "S" and j + 1 < n and cls(data[j + 1]) in "LDO":
                    break
                j += 1
        elif c == "L":
            j = i + 1
            while j < n and j < i + 8 and cls(data[j]) == "L":
                j += 1
            while j < n and data[j] & 0xC0 == 0x80:
                j += 1
        elif c == "D":
            j = i + 1
            while j < n and j < i + 3 and cls(data[j]) == "D":
                j += 1
        else:
            j = i + 1
        out.append(data[start:j])
        i = j
    return out


@given(st.text(alphabet=st.sampled_from("aZ@[`{ 9\n\t.é€😀"), max_size=80) | UNICODE)
def test_tokenizer_matches_the_documented_rule(text):
    data = text.encode()
    p = Pieces(data)
    assert [p.token(i) for i in range(p.count)] == _reference_tokens(data)


# ---- scripted rules -------------------------------------------------------------------

def script(rules, fallback="corpus"):
    return Generators({"default": {"type": "script", "rules": rules, "fallback": fallback}})


def test_script_replies_by_substring_and_regex_and_falls_back():
    g = script([{"match": "WEATHER", "reply": "Sunny."},
                {"regex": r"^\d+ \+ \d+$", "reply": "Math!"}], fallback="echo").default
    gen, call = g.resolve("What's the weather like?", "m")
    assert call is None and gen.generate("", plan(5), None, 0)[0].raw() == b"Sunny."
    assert g.resolve("2 + 2", "m")[0].generate("", plan(5), None, 0)[0].raw() == b"Math!"
    gen, call = g.resolve("no rule for this", "m")
    assert gen is ECHO and call is None


def test_at_most_128_rules_have_times():
    rules = [{"match": f"m{i}", "reply": "r", "times": 1} for i in range(129)]
    with pytest.raises(ConfigError, match=r"generators.default.rules\[128\].times: at most 128"):
        script(rules)


def test_script_tool_calls_errors_model_filter_and_times():
    g = script([{"match": "fail", "error": {"status": 503, "message": "Busy", "code": "x"},
                 "times": 2},
                {"match": "fail", "reply": "Recovered."},
                {"match": "call", "model": "m2", "tool_call": {"name": "f",
                                                               "arguments": {"a": 1}}}]).default
    for _ in range(2):
        with pytest.raises(ApiError) as e:
            g.resolve("please fail", "m")
        assert (e.value.status, e.value.message, e.value.code) == (503, "Busy", "x")
    assert g.resolve("please fail", "m")[0].generate("", plan(5), None, 0)[0].raw() \
        == b"Recovered."
    assert g.resolve("call it", "m2")[1] == ("f", '{"a":1}')
    assert g.resolve("call it", "m1")[1] is None
