"""The tokenizer rebuilt from GGUF metadata: SmolLM2's byte-level BPE (ids checked against
transformers and SmolLM2's own tokenizer.json definition), a SentencePiece vocabulary written
here, and streaming detokenization.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inference.errors import ModelLoadError, UnsupportedError
from inference.loading.gguf_header import read_header
from inference.loading.loader import default_model_path
from inference.loading.tokenizer import Tokenizer

TEXTS = [
    "Hello, world!",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\n\n\nend",
    "I'm sure they'll say it's fine, don't you think?",
    "Café naïve résumé Ångström",
    "你好，世界！日本語のテキスト",
    "Emoji 🤖🚀👍🏽 and a ZWJ family 👨‍👩‍👧",
    "def f(x):\n    return x ** 2  # square\n",
    "Job 12345 waits 3600 s on 2048 cores (v1.2.3, 0.5%), 2024-06-01T12:00:00Z",
    '{"name": "get_queue", "arguments": {"user": "alice"}}',
    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
    "text<|endoftext|>more<|im_start",
    "\u00a0nbsp, \u200bzero width, x\x00y",
    "",
]


@pytest.fixture(scope="module")
def gguf_path() -> Path:
    try:
        return default_model_path()
    except ModelLoadError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def smollm(gguf_path: Path) -> Tokenizer:
    return Tokenizer.from_gguf(read_header(gguf_path).metadata)


# Expected ids as transformers' tokenizer for this GGUF produces them.
@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("Hello, world!", [19556, 28, 905, 17]),
        ("Café naïve 🤖", [51, 1939, 2756, 15486, 46494, 15107, 114, 240]),
        ("Job 2048 waits 3600 s", [25631, 216, 34, 32, 36, 40, 43910, 216, 35, 38, 32, 32, 262]),
        (
            "def f(x):\n    return x ** 2\n",
            [1604, 275, 24, 104, 727, 472, 1003, 1792, 1903, 216, 34, 198],
        ),
        ("<|im_start|>user\nHi<|im_end|>\n", [1, 4093, 198, 26843, 2, 198]),
        ("你好", [18645, 250, 48392, 138]),
    ],
)
def test_smollm_encodes_like_transformers(smollm: Tokenizer, text: str, ids: list[int]) -> None:
    assert smollm.encode(text) == ids


def test_smollm_special_tokens_and_properties(smollm: Tokenizer) -> None:
    assert smollm.encode("<|im_start|><|im_end|><|endoftext|>") == [1, 2, 0]
    assert len(smollm.encode("<|im_start")) > 1  # not a special token unless whole
    assert (smollm.bos_id, smollm.add_bos, smollm.vocab_size) == (1, False, 49152)
    assert smollm.eos_ids == {2, 0}  # <|im_end|> from the file, <|endoftext|> by name
    assert smollm.encode("Hi", add_bos=True) == [1, 26843]
    assert smollm.encode("<|im_start|>Hi", add_bos=True) == [1, 26843]  # never a double BOS


def test_smollm_splits_every_digit(smollm: Tokenizer) -> None:
    # SmolLM2's tokenizer.json runs Digits(individual_digits=True) before the byte-level split.
    assert [smollm.decode([i]) for i in smollm.encode("12345")] == list("12345")


def test_smollm_decode_round_trips(smollm: Tokenizer) -> None:
    for text in TEXTS:
        assert smollm.decode(smollm.encode(text)) == text
    assert smollm.decode([1, 4093, 198, 26843, 2], skip_special=True) == "user\nHi"


def test_smollm_token_bytes_spell_the_utf8(smollm: Tokenizer) -> None:
    for text in TEXTS:
        ids = smollm.encode(text)
        assert b"".join(smollm.token_bytes(i) for i in ids) == text.encode()
    assert smollm.token_bytes(240) == b"\x96"  # the last byte of 🤖, alone
    with pytest.raises(IndexError):
        smollm.token_bytes(10**6)


def test_stream_decoder_never_splits_a_character(smollm: Tokenizer) -> None:
    for text in TEXTS:
        decoder = smollm.stream_decoder(skip_special=False)
        pieces = [decoder.push(i) for i in smollm.encode(text)]
        assert "".join(pieces) + decoder.flush() == text
        assert not any("\ufffd" in p for p in pieces)
    decoder = smollm.stream_decoder()
    assert [decoder.push(i) for i in smollm.encode("a 🤖<|im_end|>")] == ["a", "", "", " 🤖", ""]


def test_stream_decoder_flushes_a_broken_tail(smollm: Tokenizer) -> None:
    decoder = smollm.stream_decoder()
    assert decoder.push(15107) == ""  # " " and the first bytes of an emoji, then it stops
    assert decoder.flush() == " \ufffd"


@pytest.mark.slow
def test_smollm_matches_transformers_on_many_texts(smollm: Tokenizer, gguf_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    reference = transformers.AutoTokenizer.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name
    )
    for text in TEXTS:
        assert smollm.encode(text) == reference.encode(text, add_special_tokens=False), text


# A SentencePiece (Llama 2 / Mistral style) vocabulary: control, byte and user-defined tokens.
PIECES = ["▁", "e", "t", "h", "o", "b", "j", "s", "u", "q", "a", "n", "▁t", "he", "▁the", "▁j"]
PIECES += ["ob", "▁job", "ue", "▁q", "▁que", "▁queue", "s▁", "▁a", "n▁", "▁an"]


def _spm_meta() -> dict[str, Any]:
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256)), *PIECES, "<|tool|>"]
    return {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": [0.0] * 259 + [-float(i) for i in range(len(PIECES))] + [0.0],
        "tokenizer.ggml.token_type": [2, 3, 3, *[6] * 256, *[1] * len(PIECES), 4],
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
        "tokenizer.ggml.add_bos_token": True,
    }


# Expected ids as transformers builds this vocabulary from a GGUF file holding it.
@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("the job queue", [1, 273, 276, 280]),
        ("the  jobs", [1, 273, 259, 276, 266]),
        (" an é", [1, 282, 283, 198, 172]),  # é is not in the vocabulary: two byte tokens
        ("a<|tool|>the</s>", [1, 282, 285, 261, 272, 2]),
        ("x\n🤖", [1, 259, 123, 13, 243, 162, 167, 153]),
        ("", [1]),
    ],
)
def test_sentencepiece_vocabulary_encodes_like_transformers(text: str, ids: list[int]) -> None:
    tok = Tokenizer.from_gguf(_spm_meta())
    assert tok.encode(text) == ids
    assert tok.decode(ids, skip_special=True) == text.strip().replace("</s>", "")


def test_sentencepiece_bytes_and_streaming() -> None:
    tok = Tokenizer.from_gguf(_spm_meta())
    assert tok.token_bytes(273) == b" the" and tok.token_bytes(198) == b"\xc3"
    assert not tok.byte_level and tok.eos_ids == {2} and tok.add_bos
    decoder = tok.stream_decoder()
    ids = tok.encode("the queue é", add_bos=False)
    assert [decoder.push(i) for i in ids] == ["the", " queue", " ", "", "é"]


def test_unknown_tokenizers_are_refused() -> None:
    meta = _spm_meta() | {"tokenizer.ggml.model": "bert"}
    with pytest.raises(UnsupportedError, match="'bert'"):
        Tokenizer.from_gguf(meta)
    gpt2 = {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.tokens": ["a"],
        "tokenizer.ggml.pre": "x",
    }
    with pytest.raises(UnsupportedError, match="pre-tokenizer 'x'"):
        Tokenizer.from_gguf(gpt2)
    with pytest.raises(ModelLoadError, match="no vocabulary"):
        Tokenizer.from_gguf({"tokenizer.ggml.model": "gpt2"})
