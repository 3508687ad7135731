"""Text ⇄ token ids: one `Tokenizer` over the Hugging Face `tokenizers` engine, built from a
model's tokenizer.json or rebuilt from a GGUF file's vocabulary, and a streaming detokenizer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import tokenizers
from tokenizers import AddedToken, Regex, decoders, models, normalizers, pre_tokenizers

from inference.errors import ModelLoadError, UnsupportedError

# Turn-ending tokens that stop generation too when the vocabulary has them as special tokens.
_EOS_NAMES = ("<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|endoftext|>", "<|end_of_text|>")
_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")
_CONTROL, _USER_DEFINED = 3, 4  # llama.cpp token types in tokenizer.ggml.token_type

# llama.cpp's tokenizer.ggml.pre names → how Hugging Face splits text before BPE.
_GPT2 = ("default", "gpt2", "gpt-2", "mpt", "olmo", "jais")
_GPT2_DIGITS = ("smollm", "starcoder", "refact", "command-r", "codeshell", "exaone")
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_SPLITS = {
    "llama-bpe": _LLAMA3_SPLIT,
    "llama3": _LLAMA3_SPLIT,
    "llama-v3": _LLAMA3_SPLIT,
    "smaug-bpe": _LLAMA3_SPLIT,
    "qwen2": _QWEN2_SPLIT,
    "deepseek-r1-qwen": _QWEN2_SPLIT,
}


class Tokenizer:
    """Encodes, decodes and streams text for one model; special tokens match whole in text."""

    def __init__(
        self,
        hf: tokenizers.Tokenizer,
        *,
        bos_id: int | None,
        eos_ids: Iterable[int],
        add_bos: bool,
        byte_level: bool,
    ) -> None:
        self.hf = hf
        self.bos_id = bos_id
        self.add_bos = add_bos
        self.byte_level = byte_level  # GPT-2 byte alphabet (else SentencePiece ▁ and <0xNN>)
        added = hf.get_added_tokens_decoder()
        self.special_ids = frozenset(i for i, t in added.items() if t.special)
        self._added_ids = frozenset(added)
        named = (hf.token_to_id(name) for name in _EOS_NAMES)
        self.eos_ids = frozenset(eos_ids) | {i for i in named if i in self.special_ids}

    @property
    def vocab_size(self) -> int:
        """Number of token ids the tokenizer can produce (added tokens included)."""
        return self.hf.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str, *, add_bos: bool | None = None) -> list[int]:
        """Token ids of `text`; BOS is prepended when the model wants one (unless already there)."""
        ids: list[int] = self.hf.encode(text, add_special_tokens=False).ids
        want_bos = self.add_bos if add_bos is None else add_bos
        if want_bos and self.bos_id is not None and ids[:1] != [self.bos_id]:
            ids.insert(0, self.bos_id)
        return ids

    def decode(self, ids: Sequence[int], *, skip_special: bool = False) -> str:
        """The text of `ids` (invalid UTF-8 becomes U+FFFD)."""
        return str(self.hf.decode(list(ids), skip_special_tokens=skip_special))

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes token `token_id` stands for (a special token: its UTF-8 text)."""
        piece = self.hf.id_to_token(token_id)
        if piece is None:
            raise IndexError(f"token id {token_id} is outside the vocabulary of {self.vocab_size}")
        if token_id in self._added_ids:
            return piece.encode()
        if self.byte_level:
            alphabet = _byte_decoder()
            return b"".join(bytes([alphabet[c]]) if c in alphabet else c.encode() for c in piece)
        if m := _BYTE_TOKEN.fullmatch(piece):
            return bytes([int(m[1], 16)])
        return piece.replace("▁", " ").encode()

    @cached_property
    def max_token_bytes(self) -> int:
        """The most bytes one token stands for: a text of n bytes has at least
        n / max_token_bytes tokens, which bounds a prompt's length before encoding it."""
        return max((len(self.token_bytes(i)) for i in range(self.vocab_size)), default=1)

    def stream_decoder(self, *, skip_special: bool = True) -> StreamDecoder:
        """A fresh incremental detokenizer for one generated sequence."""
        return StreamDecoder(self, skip_special=skip_special)

    @classmethod
    def from_hf_dir(cls, directory: Path) -> Tokenizer:
        """Load tokenizer.json (+ tokenizer_config.json, generation_config.json) of a model."""
        path = directory / "tokenizer.json"
        if not path.is_file():
            raise ModelLoadError(f"{directory}: no tokenizer.json (the fast-tokenizer file) found")
        try:
            hf = tokenizers.Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust side raises plain Exception for a malformed file
            raise ModelLoadError(f"{path}: not a readable tokenizer.json ({exc})") from exc
        config = _read_json(directory / "tokenizer_config.json")
        bos_id = _token_id(hf, config.get("bos_token"))
        eos_ids = {i for i in [_token_id(hf, config.get("eos_token"))] if i is not None}
        eos = _read_json(directory / "generation_config.json").get("eos_token_id")
        eos_ids |= set(eos) if isinstance(eos, list) else {eos} if isinstance(eos, int) else set()
        with_specials = hf.encode("a", add_special_tokens=True).ids
        wants_bos = bos_id is not None and with_specials[:1] == [bos_id]
        add_bos = config.get("add_bos_token", wants_bos)
        decoder = json.loads(hf.to_str()).get("decoder")
        byte_level = '"ByteLevel"' in json.dumps(decoder)
        return cls(hf, bos_id=bos_id, eos_ids=eos_ids, add_bos=bool(add_bos), byte_level=byte_level)

    @classmethod
    def from_gguf(cls, meta: Mapping[str, Any]) -> Tokenizer:
        """Rebuild the tokenizer a GGUF file describes in its tokenizer.ggml.* metadata."""
        kind = meta.get("tokenizer.ggml.model")
        tokens = meta.get("tokenizer.ggml.tokens")
        if not isinstance(tokens, list) or not tokens:
            raise ModelLoadError("the GGUF file has no vocabulary (tokenizer.ggml.tokens)")
        if kind == "gpt2":
            merges = meta.get("tokenizer.ggml.merges") or []
            hf = _byte_level_bpe(tokens, merges, meta.get("tokenizer.ggml.pre"))
        elif kind == "llama":
            hf = _sentencepiece_bpe(tokens, meta)
        else:
            raise UnsupportedError(
                f"GGUF tokenizer {kind!r} is not supported: schedsight reads 'gpt2' (byte-level "
                "BPE) and 'llama' (SentencePiece BPE) vocabularies"
            )
        _add_listed_tokens(hf, tokens, meta.get("tokenizer.ggml.token_type"))
        eos = meta.get("tokenizer.ggml.eos_token_id")
        return cls(
            hf,
            bos_id=meta.get("tokenizer.ggml.bos_token_id"),
            eos_ids=[] if eos is None else [eos],
            add_bos=bool(meta.get("tokenizer.ggml.add_bos_token", kind == "llama")),
            byte_level=kind == "gpt2",
        )


class StreamDecoder:
    """Turns generated token ids into text pieces, holding back incomplete UTF-8 characters.

    It re-decodes a short window of recent tokens and emits only what the newest one added, so
    decoders that depend on context (SentencePiece's leading space) come out right.
    """

    def __init__(self, tokenizer: Tokenizer, *, skip_special: bool = True) -> None:
        self._tokenizer = tokenizer
        self._skip_special = skip_special
        self._ids: list[int] = []
        self._prefix = 0  # window start: tokens before it are already emitted
        self._read = 0  # tokens before it are emitted; [prefix, read) gives context

    def push(self, token_id: int) -> str:
        """Add one token; return the new complete text (may be "" while a character is split)."""
        self._ids.append(token_id)
        decode = self._tokenizer.decode
        before = decode(self._ids[self._prefix : self._read], skip_special=self._skip_special)
        after = decode(self._ids[self._prefix :], skip_special=self._skip_special)
        if len(after) <= len(before) or after.endswith("\ufffd"):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return after[len(before) :]

    def flush(self) -> str:
        """Whatever is still held back at the end of generation (with U+FFFD for broken bytes)."""
        decode = self._tokenizer.decode
        before = decode(self._ids[self._prefix : self._read], skip_special=self._skip_special)
        after = decode(self._ids[self._prefix :], skip_special=self._skip_special)
        self._prefix = self._read = len(self._ids)
        return after[len(before) :]


def _byte_level_bpe(tokens: list[str], merges: list[str], pre: str | None) -> tokenizers.Tokenizer:
    """GPT-2 style byte-level BPE with the pre-tokenizer the model was trained with."""
    alphabet = set(_byte_decoder())
    spell = _byte_encoder()
    vocab = {
        t if set(t) <= alphabet else "".join(spell[b] for b in t.encode()): i
        for i, t in enumerate(tokens)
    }
    pairs = [(left, right) for left, right in (m.split(" ", 1) for m in merges)]
    # Llama 3 takes a word found whole in the vocabulary as is, before trying merges.
    whole_words = pre in ("llama-bpe", "llama3", "llama-v3")
    hf = tokenizers.Tokenizer(models.BPE(vocab, pairs, ignore_merges=whole_words))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in _GPT2 or pre is None:
        hf.pre_tokenizer = byte_level
    elif pre in _GPT2_DIGITS:
        digits = pre_tokenizers.Digits(individual_digits=True)
        hf.pre_tokenizer = pre_tokenizers.Sequence([digits, byte_level])
    elif pre in _SPLITS:
        split = pre_tokenizers.Split(Regex(_SPLITS[pre]), behavior="isolated")
        no_regex = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
        hf.pre_tokenizer = pre_tokenizers.Sequence([split, no_regex])
        if pre.startswith(("qwen2", "deepseek-r1-qwen")):
            hf.normalizer = normalizers.NFC()
    else:
        known = ", ".join(sorted((*_GPT2, *_GPT2_DIGITS, *_SPLITS)))
        raise UnsupportedError(
            f"GGUF pre-tokenizer {pre!r} is not supported (known: {known}); use the model's "
            "Hugging Face directory (tokenizer.json) instead"
        )
    hf.decoder = decoders.ByteLevel()
    return hf


def _sentencepiece_bpe(tokens: list[str], meta: Mapping[str, Any]) -> tokenizers.Tokenizer:
    """SentencePiece BPE (Llama 2, Mistral): ▁ for spaces, <0xNN> tokens for unknown bytes."""
    scores: list[float] = meta.get("tokenizer.ggml.scores") or [0.0] * len(tokens)
    unk = meta.get("tokenizer.ggml.unknown_token_id")
    vocab = {t: i for i, t in enumerate(tokens)}
    model = models.BPE(
        vocab,
        _merges_from_scores(tokens, scores),
        unk_token=None if unk is None else tokens[unk],
        fuse_unk=True,
        byte_fallback=True,
    )
    hf = tokenizers.Tokenizer(model)
    prefix = bool(meta.get("tokenizer.ggml.add_space_prefix", True))
    hf.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="▁", prepend_scheme="first" if prefix else "never", split=False
    )
    steps = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    hf.decoder = decoders.Sequence([*steps, *([decoders.Strip(" ", 1, 0)] if prefix else [])])
    return hf


def _add_listed_tokens(
    hf: tokenizers.Tokenizer, tokens: list[str], types: list[int] | None
) -> None:
    """Make control tokens special and user-defined ones whole-word, as llama.cpp matches them."""
    kinds = types or [1] * len(tokens)
    listed = [(t, k) for t, k in zip(tokens, kinds, strict=True) if hf.token_to_id(t) is not None]
    hf.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t, k in listed if k == _CONTROL]
    )
    hf.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t, k in listed if k == _USER_DEFINED]
    )


def _merges_from_scores(tokens: list[str], scores: list[float]) -> list[tuple[str, str]]:
    """The merges a SentencePiece vocabulary implies: every split of a token into two tokens,
    best-scored result first (as transformers' `generate_merges` derives them)."""
    vocab = {t: i for i, t in enumerate(tokens)}
    score = dict(zip(tokens, scores, strict=True))
    merges: list[tuple[str, str, float]] = []
    for piece, piece_score in score.items():
        local = [
            (piece[:k], piece[k:], piece_score)
            for k in range(1, len(piece))
            if piece[:k] in vocab and piece[k:] in vocab
        ]
        merges.extend(sorted(local, key=lambda m: (vocab[m[0]], vocab[m[1]])))
    merges.sort(key=lambda m: (m[2], len(m[0]), len(m[1])), reverse=True)
    return [(left, right) for left, right, _ in merges]


@cache
def _byte_encoder() -> dict[int, str]:
    """GPT-2's printable spelling of each byte value."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    spelled = dict(zip(printable, map(chr, printable), strict=True))
    extra = (b for b in range(256) if b not in spelled)
    spelled |= {b: chr(256 + n) for n, b in enumerate(extra)}
    return spelled


@cache
def _byte_decoder() -> dict[str, int]:
    return {c: b for b, c in _byte_encoder().items()}


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: cannot read JSON ({exc})") from exc
    return data if isinstance(data, dict) else {}


def _token_id(hf: tokenizers.Tokenizer, token: object) -> int | None:
    """Id of a token named in tokenizer_config.json (a string or an AddedToken dict)."""
    content = token.get("content") if isinstance(token, dict) else token
    return hf.token_to_id(content) if isinstance(content, str) else None
