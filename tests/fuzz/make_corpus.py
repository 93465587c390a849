#!/usr/bin/env python3
"""Writes the small hand-made seed inputs under tests/fuzz/corpus/<target>/.

Run once after changing it (the outputs are committed); make fuzz adds seeds from
../shared/data at run time. Every file is a few hundred bytes: valid inputs of each
format plus near-misses that reach deeper error paths.
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors ----
TINY = [("model.embed_tokens.weight", [5, 4]), ("model.norm.weight", [4]),
        ("model.layers.0.input_layernorm.weight", [4]), ("model.layers.0.post_attention_layernorm.weight", [4]),
        ("model.layers.0.self_attn.q_proj.weight", [4, 4]), ("model.layers.0.self_attn.k_proj.weight", [2, 4]),
        ("model.layers.0.self_attn.v_proj.weight", [2, 4]), ("model.layers.0.self_attn.o_proj.weight", [4, 4]),
        ("model.layers.0.mlp.gate_proj.weight", [6, 4]), ("model.layers.0.mlp.up_proj.weight", [6, 4]),
        ("model.layers.0.mlp.down_proj.weight", [4, 6])]


def safetensors(tensors, dtype="F32", metadata=True):
    size = {"F32": 4, "F16": 2, "BF16": 2}[dtype]
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = {"format": "pt"}
    for name, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + n * size]}
        data += bytes((i * 7) & 0xff for i in range(n * size))
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


put("model_safetensors_fuzz", "small_f32", safetensors([("a", [2, 3]), ("b", [4])]))
put("model_safetensors_fuzz", "small_f16", safetensors([("a", [2, 3]), ("b", [])], "F16"))
put("model_safetensors_fuzz", "small_bf16", safetensors([("x", [1, 1, 1, 2])], "BF16", False))
put("model_safetensors_fuzz", "empty_header", struct.pack("<Q", 2) + b"{}")
put("model_safetensors_fuzz", "zero_dim", safetensors([("z", [0, 5])]))
put("model_safetensors_fuzz", "tiny_llama", safetensors(TINY))

# ---- config.json ----
CONFIG = {"architectures": ["LlamaForCausalLM"], "hidden_size": 4, "intermediate_size": 6,
          "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 5,
          "max_position_embeddings": 64, "rms_norm_eps": 1e-06, "tie_word_embeddings": True}
put("model_hf_config_fuzz", "tiny", json.dumps(CONFIG))
c = dict(CONFIG, rope_theta=500000.0, bos_token_id=1, eos_token_id=[2, 3], head_dim=2,
         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 32})
put("model_hf_config_fuzz", "llama3", json.dumps(c))
c = dict(CONFIG, architectures=["MistralForCausalLM"], sliding_window=32, hidden_act="silu")
put("model_hf_config_fuzz", "mistral", json.dumps(c))
c = dict(CONFIG, architectures=None, model_type="qwen2", use_sliding_window=False,
         rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 1e6})
put("model_hf_config_fuzz", "qwen2", json.dumps(c))

# ---- index.json ----
index = {"metadata": {"total_size": 0}, "weight_map": {n: "model-00001-of-00002.safetensors" for n, _ in TINY}}
put("model_hf_index_fuzz", "valid", json.dumps(index))
index2 = json.loads(json.dumps(index))
index2["weight_map"]["model.norm.weight"] = "model-00002-of-00002.safetensors"
put("model_hf_index_fuzz", "two_shards", json.dumps(index2))
index3 = json.loads(json.dumps(index))
index3["weight_map"]["model.norm.weight"] = "../model-00002-of-00002.safetensors"
put("model_hf_index_fuzz", "traversal", json.dumps(index3))


# ---- GGUF ----
def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(kvs, tensors, version=3):
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, vtype, payload in kvs:
        out += gstr(key) + struct.pack("<I", vtype) + payload
    data = b""
    for name, ne, gtype in tensors:
        out += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", gtype, len(data))
        n = 1
        for d in ne:
            n *= d
        data += b"\x00" * (n * (4 if gtype == 0 else 2))
        data += b"\x00" * ((32 - len(data) % 32) % 32)
    out += b"\x00" * ((32 - len(out) % 32) % 32)
    return out + data


def u32(key, v):
    return (key, 4, struct.pack("<I", v))


def f32(key, v):
    return (key, 6, struct.pack("<f", v))


def s(key, v):
    return (key, 8, gstr(v))


def strs(key, vs):
    return (key, 9, struct.pack("<IQ", 8, len(vs)) + b"".join(gstr(v) for v in vs))


def nums(key, fmt, vtype, vs):
    return (key, 9, struct.pack("<IQ", vtype, len(vs)) + b"".join(struct.pack(fmt, v) for v in vs))


kvs = [s("general.architecture", "llama"), u32("llama.embedding_length", 4), u32("llama.feed_forward_length", 6),
       u32("llama.block_count", 1), u32("llama.attention.head_count", 2), u32("llama.attention.head_count_kv", 1),
       u32("llama.context_length", 64), u32("llama.vocab_size", 5), f32("llama.attention.layer_norm_rms_epsilon", 1e-5),
       s("tokenizer.ggml.model", "llama"), strs("tokenizer.ggml.tokens", ["<unk>", "<s>", "</s>", "\u2581a", "b"]),
       nums("tokenizer.ggml.scores", "<f", 6, [0, 0, 0, -1, -2]),
       nums("tokenizer.ggml.token_type", "<i", 5, [2, 3, 3, 1, 1]),
       u32("tokenizer.ggml.bos_token_id", 1), u32("tokenizer.ggml.eos_token_id", 2)]
tensors = [("token_embd.weight", [4, 5], 1), ("output_norm.weight", [4], 0), ("blk.0.attn_norm.weight", [4], 0),
           ("blk.0.ffn_norm.weight", [4], 0), ("blk.0.attn_q.weight", [4, 4], 1), ("blk.0.attn_k.weight", [4, 2], 1),
           ("blk.0.attn_v.weight", [4, 2], 1), ("blk.0.attn_output.weight", [4, 4], 1),
           ("blk.0.ffn_gate.weight", [4, 6], 1), ("blk.0.ffn_up.weight", [4, 6], 1), ("blk.0.ffn_down.weight", [6, 4], 1)]
put("model_gguf_fuzz", "tiny_llama", gguf(kvs, tensors))
put("model_gguf_fuzz", "tiny_llama_v2", gguf(kvs, tensors, 2))
gpt2 = kvs[:9] + [s("tokenizer.ggml.model", "gpt2"), s("tokenizer.ggml.pre", "llama-bpe"),
                  strs("tokenizer.ggml.tokens", ["a", "b", "ab", "<|endoftext|>", "\u0120"]),
                  strs("tokenizer.ggml.merges", ["a b"]), nums("tokenizer.ggml.token_type", "<i", 5, [1, 1, 1, 3, 1])]
put("model_gguf_fuzz", "tiny_gpt2_vocab", gguf(gpt2, tensors))
put("model_gguf_fuzz", "container_only", gguf([u32("general.alignment", 64), (
    "nested", 9, struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 4, 2) + struct.pack("<II", 1, 2))],
    [("w", [3], 0)]))

# ---- llama2.c checkpoint ----
def llama2c(dim, hidden, layers, heads, kv, vocab, seq):
    head = dim // heads
    av = abs(vocab)
    floats = av * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv * head * dim + 3 * hidden * dim) + dim + seq * head
    if vocab < 0:
        floats += av * dim
    return struct.pack("<7i", dim, hidden, layers, heads, kv, vocab, seq) + struct.pack("<f", 0.5) * floats


put("model_llama2c_fuzz", "tiny", llama2c(8, 12, 1, 2, 2, 10, 4))
put("model_llama2c_fuzz", "tiny_separate_head", llama2c(8, 12, 1, 2, 1, -10, 4))
put("model_llama2c_fuzz", "header_only", struct.pack("<7i", 8, 12, 1, 2, 2, 10, 4))

# ---- llama2.c tokenizer ----
def tok_bin(pieces, max_len=None):
    max_len = max_len or max(len(p.encode()) for p, _ in pieces)
    out = struct.pack("<i", max_len)
    for p, score in pieces:
        b = p.encode()
        out += struct.pack("<fi", score, len(b)) + b
    return out


PIECES = [("<unk>", 0.0), ("\n<s>\n", 0.0), ("\n</s>\n", 0.0)] + [("<0x%02X>" % i, 0.0) for i in range(0, 256, 37)] + \
    [(" ", -1.0), ("a", -2.0), ("b", -3.0), (" a", -4.0), ("ab", -5.0), (" ab", -6.0), ("\u00e9", -7.0)]
put("tokenizer_llama2c_fuzz", "small", tok_bin(PIECES))
put("tokenizer_llama2c_fuzz", "one_token", tok_bin([("x", 0.0)]))

# ---- SentencePiece .model ----
def spm_model(pieces):
    """ModelProto with repeated field 1 = SentencePiece {1: piece, 3: type}."""
    out = b""
    for text, kind in pieces:
        text = text.encode() if isinstance(text, str) else text
        msg = b"\x0a" + bytes([len(text)]) + text + b"\x18" + bytes([kind])
        out += b"\x0a" + bytes([len(msg)]) + msg
    return out


SPM_BASE = [("<unk>", 2), ("<s>", 3), ("</s>", 3)]
put("tokenizer_spm_fuzz", "minimal", spm_model(SPM_BASE + [("\u2581a", 1), ("b", 1), ("<0x41>", 6)]))
# The library's trie builder throws on a piece that starts with NUL (found by make fuzz).
put("tokenizer_spm_fuzz", "leading_nul_piece", spm_model(SPM_BASE + [(b"\x00ab", 1)]))


# ---- tokenizer.json ----
vocab = {"<|endoftext|>": 0, "a": 1, "b": 2, "c": 3, "\u0120": 4, "ab": 5, "\u0120a": 6, "1": 7, "2": 8}
byte_level = {
    "version": "1.0",
    "added_tokens": [{"id": 0, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
              "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
              "merges": ["a b", "\u0120 a"]}}
put("tokenizer_json_fuzz", "byte_level", json.dumps(byte_level, ensure_ascii=False))
bl2 = json.loads(json.dumps(byte_level))
bl2["model"]["merges"] = [["a", "b"], ["\u0120", "a"]]
bl2["pre_tokenizer"] = {"type": "Digits", "individual_digits": True}
put("tokenizer_json_fuzz", "byte_level_pair_merges", json.dumps(bl2, ensure_ascii=False))
spm_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "<0xE2>": 4, "\u2581": 5, "a": 6, "b": 7, "\u2581a": 8, "ab": 9}
spm = {
    "version": "1.0",
    "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True} for i, t in enumerate(["<unk>", "<s>", "</s>"])],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                        {"type": "Replace", "pattern": {"String": " "},
                                                         "content": "\u2581"}]},
    "pre_tokenizer": None,
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                 {"type": "ByteFallback"}, {"type": "Fuse"},
                                                 {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "vocab": spm_vocab,
              "merges": ["\u2581 a", "a b"]}}
put("tokenizer_json_fuzz", "spm_style", json.dumps(spm, ensure_ascii=False))
spm2 = json.loads(json.dumps(spm))
spm2["normalizer"] = None
spm2["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
spm2["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
put("tokenizer_json_fuzz", "metaspace", json.dumps(spm2, ensure_ascii=False))

# ---- YAML config ----
put("config_yaml_fuzz", "ethosu", "base:\n  checkpoint: model.bin\nmodel:\n  use_kv_cache: true\n"
    "export:\n  max_seq_length: 64\n  max_context_length: 128\nquantization:\n  pt2e_quantize: ethosu_16a8w\n"
    "  quantize_scope: linear\nbackend:\n  ethosu:\n    enabled: true\n    target: ethos-u55-128\n")
put("config_yaml_fuzz", "vgf_dotted", "backend.vgf.enabled: true\nquantization.pt2e_quantize: vgf_16a8w\n"
    "quantization:\n  calibration_tasks: [wikitext]\n  calibration_limit: 4\n")
put("config_yaml_fuzz", "tosa", "backend:\n  tosa:\n    enabled: true\ndebug: {verbose: true}\n")
put("config_yaml_fuzz", "anchors", "model: &m\n  use_kv_cache: true\nbase: {checkpoint: &c x.bin, tokenizer_path: *c}\n")
put("config_yaml_fuzz", "empty", "")

# ---- overrides / legacy flags ----
put("config_overrides_fuzz", "legacy", "--pt2e_quantize\nethosu_16a8w\n-kv\n--max_seq_length=64\n"
    "--calibration_tasks\nwikitext\nmmlu\nbackend.ethosu.enabled=true")
put("config_overrides_fuzz", "dotted", "quantization.quantize_scope=linear\nbackend.vgf.enabled=true\n"
    "quantization.pt2e_quantize=vgf_16a8w\nbase.tokenizer_path=null\nexport.max_seq_length=[1, 2]")
put("config_overrides_fuzz", "vgf_flags", "--vgf\n--vgf-quantize-scope\nlinear\n--output-dir\n/tmp/out\n-v")
