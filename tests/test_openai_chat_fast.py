"""The compiled common chat answer and stream (llmsim.core.chat, llmsim.core.chat_stream) say
byte for byte what the general path (llmsim.api.openai_chat.ChatCompletions.answer) says for
the same request and seed."""

import json
import pathlib
import re
import shutil
import subprocess

import pytest

from llmsim.core.chat_stream import ChatTextStream
from llmsim.core.sse import TokenStream
from llmsim.errors import ApiError
from llmsim.sim.timing import Planner
from openai_fakes import (FakePlanner, FakeReq, decoded_spelling, decoder_calls, handlers,
                          outcome as answered, run_stream, sent)

CHAT = "openai.chat_completions"
PARTS = [{"type": "text", "text": "Hello "}, {"type": "text", "text": "wörld \"quoted\"\n"}]
REQUESTS = [
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]},
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}],
     "max_tokens": 16},
    {"model": "gpt-4o", "max_completion_tokens": 3, "service_tier": "flex",
     "messages": [{"role": "system", "content": "Be brief.", "name": "rules"},
                  {"role": "user", "content": PARTS}]},
    {"model": "gpt-4.1", "max_tokens": 1, "temperature": 0.2, "user": "u1",
     "messages": [{"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello! How can I help?"},
                  {"role": "user", "content": "Tell me a story about \u2603 and \"tabs\"\t."}]},
    {"model": "gpt-3.5-turbo", "service_tier": "priority", "max_tokens": 4096,
     "messages": [{"role": "developer", "content": "x"}, {"role": "user", "content": PARTS}]},
]
# Each of these sends an otherwise common request down the general path.
GENERAL = [{"n": 1}, {"stop": []}, {"top_logprobs": 0}, {"response_format": {"type": "text"}}]
HEADERS = [{}, {b"x-llmsim-generator": b"echo"}, {b"x-llmsim-generator": b"lorem"},
           {b"x-llmsim-latency": b"ttft=30ms, itl=1ms"}]
_IDS = re.compile(rb'chatcmpl-[A-Za-z0-9]{29}|req_[0-9a-f]{32}')


def answer(handler, body, headers, received_ns):
    req = FakeReq(b"POST", b"/v1/chat/completions", body, dict(headers))
    req.received_ns = received_ns
    status, head, out = handler(req)
    assert status == 200
    body, delay = sent(out)
    return _IDS.sub(b"ID", head), _IDS.sub(b"ID", body), delay


def test_unseeded_common_answers_start_at_fresh_places_in_the_text():
    """No seed anywhere: the text draw comes from fresh bits (core/plan), so four-token
    answers to the same request mostly differ."""
    handler = handlers(planner=Planner({}))[CHAT][2]
    body = dict(REQUESTS[0], max_tokens=4)
    texts = [json.loads(answer(handler, body, {}, 10**12)[1])["choices"][0]["message"]["content"]
             for _ in range(40)]
    assert len(set(texts)) > 20


@pytest.mark.parametrize("planner", [lambda: Planner({}, global_seed=7), FakePlanner],
                         ids=["planner", "fake-planner"])
@pytest.mark.parametrize("headers", HEADERS, ids=["plain", "echo", "lorem", "latency"])
def test_common_answer_is_the_general_answer_byte_for_byte(planner, headers):
    handler = handlers(planner=planner())[CHAT][2]
    general = handler.answer
    taken = []
    handler.answer = lambda *args: taken.append(1) or general(*args)
    for seed in range(12):
        for base in REQUESTS:
            body = dict(base, seed=seed)
            fast = answer(handler, body, headers, 10**12 + seed)
            assert not taken
            for extra in GENERAL:
                assert answer(handler, dict(body, **extra), headers, 10**12 + seed) == fast
                assert taken.pop()
            doc = json.loads(fast[1])
            assert doc["choices"][0]["message"]["content"] or doc["usage"]["completion_tokens"] == 0


USER = [{"role": "user", "content": "Hello"}]
STREAMS = [
    {"model": "gpt-4o-mini", "messages": USER},
    {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 3},      # cut by the cap
    {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 50,
     "stream_options": {"include_usage": True}},
    {"model": "gpt-4o", "messages": USER, "max_completion_tokens": 7, "service_tier": "flex",
     "stream_options": {"include_usage": False}},
    {"model": "gpt-4.1", "messages": USER, "max_tokens": 1, "service_tier": "priority",
     "stream_options": {"include_usage": True}},
]
# Each sends an otherwise common stream down the general path without changing what it says.
GENERAL_STREAM = [{"n": 1}, {"stop": []}, {"stop": ["never said \u2603", "\u0000"]},
                  {"top_logprobs": 0}, {"response_format": {"type": "text"}}]


def streamed(handler, planner, body, headers, step):
    """(stream type, normalised head and wire, due times, release times) of one stream
    rendered `step` events at a time and closed."""
    req = FakeReq(b"POST", b"/v1/chat/completions", json.dumps(body).encode(), dict(headers))
    req.received_ns = 10**12
    kind, head, wire, dues, freed = run_stream(handler, req, step,
                                               getattr(planner, "released", None))
    return kind, _IDS.sub(b"ID", head), _IDS.sub(b"ID", wire), dues, freed


@pytest.mark.parametrize("planner", [lambda: Planner({}, global_seed=7), FakePlanner],
                         ids=["planner", "fake-planner"])
@pytest.mark.parametrize("headers", HEADERS, ids=["plain", "echo", "lorem", "latency"])
def test_common_stream_is_the_general_stream_byte_for_byte(planner, headers):
    planner = planner()
    handler = handlers(planner=planner)[CHAT][2]
    for seed in range(8):
        for base in STREAMS:
            body = dict(base, seed=seed, stream=True)
            fast = streamed(handler, planner, body, headers, 1)
            assert fast[0] is ChatTextStream
            for step in (3, fast[2].count(b"\n\n")):
                assert streamed(handler, planner, body, headers, step)[1:] == fast[1:]
            for extra in GENERAL_STREAM:
                general = streamed(handler, planner, dict(body, **extra), headers, 2)
                assert general[0] is TokenStream
                assert general[1:] == fast[1:]
            frames = fast[2].split(b"\n\n")
            assert frames[-2:] == [b"data: [DONE]", b""]


# Bodies llmsim_chat_scan (csrc/llmsim_chat_scan.h) reads itself, written in several ways.
SCANNED = [
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}',
    b' {\n "messages" : [ {"content": "Be brief.", "role": "system"},\t{"role": "user",'
    b' "content": "Hi there"}, {"role": "assistant", "content": ""},'
    b' {"role": "developer", "content": "x"} ] , "model": "gpt-4o" , "seed": -12,'
    b' "service_tier": "flex", "stream": false, "max_completion_tokens": 7 }\r\n',
    b'{"model":"gpt-4.1","messages":[{"role":"system","content":"no user message"}],'
    b'"seed":0,"service_tier":"priority","max_tokens":4096}',
    b'{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"a 12345 b!"}],'
    b'"max_tokens":1,"max_completion_tokens":2,"service_tier":"other"}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],'
    b'"max_tokens":50,"stream":true,"stream_options":{"include_usage":true}}',
    b'{"stream": true, "stream_options": { "include_usage" : false },'
    b' "model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"max_tokens":3}',
    b'{"model":"gpt-4.1","messages":[{"role":"system","content":"Hi"}],"stream":true,'
    b'"stream_options":{},"service_tier":"scale"}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true}',
    # Errors found after the scan are the decoded path's errors.
    b'{"model":"no-such-model","messages":[{"role":"user","content":"Hi"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":100000}',
]
# Bodies it leaves to the decoder: different values, errors, or just unusual spellings.
UNSCANNED = [
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"tab\\there"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"w\xc3\xb6rld"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi","name":"n"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"model":"gpt-4o"}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","role":"user","content":"Hi"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"tool","content":"Hi"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":["Hi"]}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":null}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user"}]}',
    b'{"model":"gpt-4o-mini","messages":[]}',
    b'{"model":"gpt-4o-mini"}',
    b'{"messages":[{"role":"user","content":"Hi"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":0}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":-3}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":16.0}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":1e2}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":016}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":null}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],'
    b'"max_completion_tokens":1234567890123456789}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],'
    b'"seed":12345678901234567890}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"seed":-}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":null}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],'
    b'"stream_options":{"include_usage":true}}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":false,'
    b'"stream_options":{"include_usage":true}}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,'
    b'"stream_options":{"include_usage":true,"include_obfuscation":false}}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,'
    b'"stream_options":{"include_usage":null}}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,'
    b'"stream_options":null}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":falsey}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"user":"u"}',
    # keys and roles are matched in place: a longer or shorter name is another key
    b'{"models":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}',
    b'{"mode":"gpt-4o-mini","model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"roles":"user","content":"Hi"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"users","content":"Hi"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"use","content":"Hi"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","contents":"Hi"}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,'
    b'"stream_options":{"include_usages":true}}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_token":5}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens"',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]} x',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"},]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi",}]}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}] "seed":1}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,'
    b'"stream_options":{"include_usage":true,}}',
    b'{}',
    b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]',
    b'{"model":"o3-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":5}',
    b'{"model":"o3-mini","messages":[{"role":"user","content":"Hi"}]}',
    b'{"model":"text-embedding-3-small","messages":[{"role":"user","content":"Hi"}]}',
    b'',
    b'[]',
]


def outcome(handler, body, headers):
    return answered(handler, b"/v1/chat/completions", body, headers, _IDS)


@pytest.fixture
def decodes(monkeypatch):
    """Counts calls of the full decoder of llmsim.core.chat."""
    import llmsim.core.chat as core
    return decoder_calls(monkeypatch, core, "_decode")


def seeded(body):
    """body with a seed, so that its answer does not depend on how it is spelled."""
    return body if b'"seed"' in body else body.replace(b"{", b'{"seed": 5, ', 1)


@pytest.mark.parametrize("headers", HEADERS, ids=["plain", "echo", "lorem", "latency"])
def test_scanned_bodies_answer_as_decoded_ones(decodes, headers):
    planner = FakePlanner()
    handlers_ = [handlers(planner=p)[CHAT][2] for p in (Planner({}, global_seed=7), planner)]
    for body in map(seeded, SCANNED):
        for handler in handlers_:
            fast = outcome(handler, body, headers)
            planned = planner.calls[-1:]
            assert not decodes, body
            assert outcome(handler, decoded_spelling(body), headers) == fast
            assert decodes.pop()
            assert planner.calls[-1:] == planned


def test_kept_parts_of_the_common_answer_follow_the_clock_and_the_model(decodes):
    """The common answer keeps its rendered created/model and usage parts from one answer
    to the next: a new second, another model or another length renders them anew, as the
    decoded path does."""
    handler = handlers(planner=Planner({}, global_seed=7))[CHAT][2]
    first = None
    for seconds, model, cap in [(0, "gpt-4o-mini", 16), (2, "gpt-4o-mini", 16),
                                (2, "gpt-4o-mini", 16), (0, "gpt-4o", 16), (0, "gpt-4o", 3),
                                (5, "gpt-4o-mini", 3)]:
        received = 10**12 + seconds * 10**9
        body = json.dumps({"seed": 1, "model": model, "max_tokens": cap,
                           "messages": [{"role": "user", "content": "Hi"}]}).encode()
        answers = []
        for spelling in (body, decoded_spelling(body)):
            req = FakeReq(b"POST", b"/v1/chat/completions", spelling)
            req.received_ns = received
            answers.append(_IDS.sub(b"ID", sent(handler(req)[2])[0]))
        assert decodes.pop()
        assert answers[0] == answers[1]
        answer = json.loads(answers[0])
        first = answer["created"] - seconds if first is None else first
        assert (answer["created"], answer["model"]) == (first + seconds, model)
        assert answer["usage"]["completion_tokens"] == cap


def test_planner_overrides_are_called_and_native_planners_book_alike():
    """A planner class that overrides request_key, plan or admit has its own called for
    every chat request, scanned or decoded; a planner overriding none (`native`) is
    called without the look-up for overrides, to the same answers."""
    class Admits(Planner):
        def admit(self, plan, now_ns):
            admitted.append(plan.n_tokens)
            return super().admit(plan, now_ns)

    admitted = []
    native, counting = Planner({}, global_seed=7), Admits({}, global_seed=7)
    assert native.native and not counting.native and not FakePlanner().native
    body = json.dumps({"seed": 3, "model": "gpt-4o-mini", "max_tokens": 5,
                       "messages": [{"role": "user", "content": "Hi"}]}).encode()
    answers = [outcome(handlers(planner=p)[CHAT][2], spelling, {})
               for p in (native, counting) for spelling in (body, decoded_spelling(body))]
    assert admitted == [5, 5]
    assert answers[0] == answers[1] == answers[2] == answers[3]


def test_scanned_contents_count_as_decoded_ones(decodes):
    """The scanner counts the prompt tokens of plain contents itself (a state machine over
    the tokenizer's rule): words past 8 letters, numbers past 3 digits, runs of spaces."""
    import random
    rnd = random.Random(3)
    handler = handlers(planner=Planner({}, global_seed=7))[CHAT][2]
    pieces = ["a", "abcdefgh", "abcdefghijklmnopq", "1", "1234567", " ", "   ", ".", "-",
              "x1y", "'", "Summarise this paragraph for me. "]
    for _ in range(300):
        content = "".join(rnd.choice(pieces) for _ in range(rnd.randrange(12)))
        body = json.dumps({"seed": 1, "model": "gpt-4o-mini", "max_tokens": 1, "messages": [
            {"role": "system", "content": content[::-1]}, {"role": "user", "content": content}]})
        fast = outcome(handler, body.encode(), {})
        assert not decodes
        assert outcome(handler, decoded_spelling(body.encode()), {}) == fast
        assert decodes.pop()


# Random strings over each alphabet (the scanner's printable ASCII), 0..600 bytes: long
# words, numbers and runs of spaces across the 64-byte windows, with and without SSE2; each
# alone, and followed by a byte that ends the run and more bytes.
COUNT_CHECK = r"""
#include <stdio.h>
#include <stdlib.h>
#include "llmsim_chat_scan.h"
int main(void)
{
    static const char *alphabets[] = {
        "  aaaaabcXYZ0123456789.,!-@[`{~", "aaaaaaaaaaaaaaaaaaaaaaaaa b1",
        "1111111111111111 a.", "          a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1"};
    static const char stops[] = {'"', '\\', '\n', 0x7f, (char)0xc3, 0};
    char buf[700];
    size_t count;
    srand(1);
    for (int a = 0; a < 5; a++) {
        size_t k = strlen(alphabets[a]);
        for (int t = 0; t < 100000; t++) {
            size_t n = (size_t)rand() % 600, more = (size_t)rand() % 100;
            for (size_t i = 0; i < n + 1 + more; i++)
                buf[i] = alphabets[a][(size_t)rand() % k];
            buf[n] = stops[(size_t)rand() % sizeof stops];
            if (llmsim_cs_plain_tokens(buf, buf + n, &count) != buf + n ||
                count != llmsim_tok_count(buf, n) ||
                llmsim_cs_plain_tokens(buf, buf + n + 1 + more, &count) != buf + n ||
                count != llmsim_tok_count(buf, n)) {
                printf("%.*s\n", (int)n, buf);
                return 1;
            }
        }
    }
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("flags", [[], ["-U__SSE2__"]], ids=["sse2", "portable"])
def test_content_token_count_is_the_tokenizer_count(tmp_path, flags):
    csrc = pathlib.Path(__file__).resolve().parents[1] / "csrc"
    if not csrc.exists():
        pytest.skip("csrc/ is not next to the tests (installed package)")
    (tmp_path / "check.c").write_text(COUNT_CHECK)
    subprocess.run(["gcc", "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", *flags,
                    "-I", str(csrc), "-o", str(tmp_path / "check"), str(tmp_path / "check.c")],
                   check=True)
    r = subprocess.run([str(tmp_path / "check")], capture_output=True, text=True)
    assert r.returncode == 0, f"counts differ on {r.stdout!r}"


@pytest.mark.parametrize("body", UNSCANNED)
def test_bodies_out_of_the_scanned_subset_are_decoded(decodes, body):
    handler = handlers(planner=Planner({}, global_seed=7))[CHAT][2]
    try:
        handler(FakeReq(b"POST", b"/v1/chat/completions", body))
    except ApiError:
        pass
    assert decodes == [body]


def read_answers(sock, count):
    """`count` Content-Length-framed answers from sock as (head, body), and what follows."""
    buf, out = b"", []
    while len(out) < count:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end + 4]
            length = int(re.search(rb"\r\ncontent-length: (\d+)\r\n", head).group(1))
            if len(buf) >= end + 4 + length:
                out.append((head, buf[end + 4:end + 4 + length]))
                buf = buf[end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(out)} of {count} answers"
        buf += chunk
    return out, buf


def test_answer_written_into_the_output_is_the_general_answer(server):
    """On a real server the common answer is written straight into the worker's output
    (no bytes object); pipelined with general-path answers, in HTTP/1.1 and 1.0, with and
    without keep-alive, it says byte for byte what the general path says."""
    import socket
    srv = server("--workers", "1", "--no-latency")
    common = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}],
              "max_tokens": 16}

    def post(body, version=b"1.1", extra=b""):
        data = json.dumps(body).encode()
        return (b"POST /v1/chat/completions HTTP/%s\r\nHost: t\r\n%sContent-Length: %d\r\n\r\n%s"
                % (version, extra, len(data), data))

    def normal(answer):
        head, body = answer
        head = re.sub(rb"\r\ndate: [^\r]*", b"", _IDS.sub(b"ID", head))
        return head, re.sub(rb'"created":\d+', b'"created":0', _IDS.sub(b"ID", body))

    def exchange(sends):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(b"".join(sends))
            answers, rest = read_answers(s, len(sends))
            while True:   # the last one closes: nothing more comes
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
        assert rest == b""
        assert all(re.search(rb"^HTTP/1\.[01] 200 OK\r\ndate: [^\r]+ GMT\r\n", head)
                   for head, _ in answers)
        return [normal(x) for x in answers]

    for seed in range(3):
        fast, general = dict(common, seed=seed), dict(common, seed=seed, n=1)
        alive = b"Connection: keep-alive\r\n"
        a = exchange([post(fast), post(general), post(fast), post(fast, b"1.0", alive),
                      post(general, b"1.0", alive), post(fast, extra=b"Connection: close\r\n")])
        assert a[0] == a[1] == a[2]
        assert a[3] == a[4] and b"connection: keep-alive" in a[3][0]
        assert a[5][1] == a[0][1] and b"connection: close" in a[5][0]
        assert json.loads(a[0][1])["usage"]["completion_tokens"] == 16
        once = exchange([post(fast, b"1.0")]) + exchange([post(general, b"1.0")])
        assert once[0] == once[1] and b"connection: close" in once[0][0]
