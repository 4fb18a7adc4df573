"""The tokenizer, token runs and the content generators (llmsim.sim.tokens, llmsim.sim.text)."""

import json
from types import SimpleNamespace

import pytest
from hypothesis import given, strategies as st

from llmsim.errors import ApiError, ConfigError
from llmsim.sim.text import CORPUS, ECHO, Fixed, Generators, LOREM_GEN
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
    ({"seed": "x"}, "seed"),
])
def test_generator_config_errors_name_the_field(section, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
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
