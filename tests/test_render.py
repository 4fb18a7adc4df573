"""The template renderer and the C JSON primitives behind it (llmsim.core.render)."""

import json
import pathlib
import subprocess

import pytest
from hypothesis import given, strategies as st

from llmsim.core.render import Template, escape


def test_slots_are_filled_in_order():
    t = Template(b'{"id":"{{id:raw}}","n":{{n:int}},"s":"{{s:str}}"}')
    assert t.slots == ("id", "n", "s")
    assert t.render((b"abc", 42, "x")) == b'{"id":"abc","n":42,"s":"x"}'


def test_template_without_slots_renders_itself():
    assert Template(b'{"a":[{}]}').render(()) == b'{"a":[{}]}'


@pytest.mark.parametrize("v", [0, 1, 9, 10, 99, 100, 12345, -1, -10, 2**63 - 1, -2**63])
def test_int_slot_writes_decimal(v):
    assert Template(b"{{v:int}}").render((v,)) == str(v).encode()


def test_int_slot_rejects_out_of_range_and_non_int():
    t = Template(b"{{v:int}}")
    with pytest.raises(OverflowError):
        t.render((2**64,))
    with pytest.raises(TypeError):
        t.render(("1",))


def test_raw_slot_wants_bytes():
    with pytest.raises(TypeError, match="slot 'x' wants bytes"):
        Template(b"{{x:raw}}").render(("text",))


def test_wrong_value_count_is_an_error():
    with pytest.raises(ValueError, match="wants 2 values"):
        Template(b"{{a:int}}{{b:int}}").render((1,))


@pytest.mark.parametrize("src", [b"{{x}}", b"{{x:float}}", b"{{:raw}}", b"a{{x:raw"])
def test_bad_slots_are_refused(src):
    with pytest.raises(ValueError):
        Template(src)


@given(st.text())
def test_str_slot_escapes_to_what_json_decodes_back(s):
    out = Template(b'"{{s:str}}"').render((s,))
    assert json.loads(out) == s


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_escape_of_utf8_bytes_equals_escape_of_str(s):
    assert escape(s.encode()) == escape(s)


def test_escape_covers_quotes_backslash_and_controls():
    assert escape('a"b\\c\n\t\x00\x1f\x7fé') == b'a\\"b\\\\c\\n\\t\\u0000\\u001f\x7f\xc3\xa9'


def test_large_values_grow_the_buffer():
    s = "x\n" * 100_000
    out = Template(b'"{{s:str}}"').render((s,))
    assert len(out) == 2 + 300_000 and json.loads(out) == s


@pytest.mark.parametrize("header", ["llmsim_json.h", "llmsim_tokens.h", "llmsim_chat_scan.h",
                                    "llmsim_chunk.h"])
def test_c_header_compiles_alone(header):
    src = pathlib.Path(__file__).resolve().parents[1] / "csrc" / header
    if not src.exists():
        pytest.skip("csrc/ is not next to the tests (installed package)")
    r = subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                        "-x", "c", str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
