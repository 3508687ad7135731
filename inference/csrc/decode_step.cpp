// Decode steps through every transformer block, in C++.
//
// It calls the same ATen operators, in the same order and with the same arguments, as
// inference/model.py's Python path for decode steps: one sequence's decode step (T=1) or
// speculative verification, whose tokens each attend as their own decode step would (T>1),
// or one decode step of a batch (B>1, T=1). The same kernels on the same inputs
// give the same bits, so the logits equal the Python path's exactly
// (tests/inference/test_fused.py); what it saves is the Python interpreter and nn.Module
// dispatch around ~20 small operators per block.
#include <torch/extension.h>

#include <optional>
#include <vector>

namespace {

using at::Tensor;

// oneDNN's linear on a weight it packed ahead of time, as inference/linears.py's PackedLinear
// calls it (`torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")`).
Tensor packed_linear(const Tensor& x, const Tensor& packed, const std::optional<Tensor>& bias) {
  static const auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
  torch::jit::Stack stack;
  stack.emplace_back(x);
  stack.emplace_back(packed);
  stack.emplace_back(bias.has_value() ? c10::IValue(*bias) : c10::IValue());
  stack.emplace_back(std::string("none"));
  stack.emplace_back(c10::List<std::optional<c10::Scalar>>());
  stack.emplace_back(std::string(""));
  op.callBoxed(&stack);
  return stack.back().toTensor();
}

// A quantized matmul weight: int4 groups (`_weight_int4pack_mm_for_cpu`) or per-row int8
// (`_weight_int8pack_mm`), as inference/linears.py's Int4Linear and Int8Linear hold them, and
// the bf16 dense copy (DenseCopy) that serves matmuls of `dense_rows` rows or more.
struct Linear {
  bool int4;
  Tensor weight;  // int4: packed; int8: q [out, in]
  Tensor scales;  // int4: [in / group, out, 2] scale/zero pairs; int8: [out]
  std::optional<Tensor> bias;
  int64_t in_features;
  int64_t out_features;
  int64_t group;
  std::optional<Tensor> dense;  // packed for oneDNN; none: the quantized kernel for any rows
  int64_t dense_rows;

  Tensor operator()(const Tensor& x) const {
    if (dense.has_value() && x.numel() >= dense_rows * x.size(-1)) {
      return packed_linear(x, *dense, bias);
    }
    auto flat = x.reshape({-1, in_features}).contiguous();
    auto out = int4 ? at::_weight_int4pack_mm_for_cpu(flat, weight, group, scales)
                    : at::_weight_int8pack_mm(flat, weight, scales);
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end() - 1);
    shape.push_back(out_features);
    out = out.view(shape);
    return bias.has_value() ? out + *bias : out;
  }
};

struct Block {
  Tensor attention_norm;  // RMSNorm weight, doubled (see rms_norm)
  Tensor ffn_norm;
  Linear wqkv, wo, w13, w2;
};

class Decoder {
 public:
  Decoder(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t dim, double eps)
      : heads_(n_heads), kv_heads_(n_kv_heads), head_dim_(head_dim), dim_(dim), eps_(eps) {}

  void add_block(Tensor attention_norm, Tensor ffn_norm, const std::vector<Linear>& linears) {
    TORCH_CHECK(linears.size() == 4, "a block has 4 linears: wqkv, wo, w13, w2");
    blocks_.push_back(Block{std::move(attention_norm), std::move(ffn_norm), linears[0],
                            linears[1], linears[2], linears[3]});
  }

  int64_t n_blocks() const { return static_cast<int64_t>(blocks_.size()); }

  // One sequence: x [1, T, dim]; k_all/v_all [n_layers, 1, kv_heads, seq, head_dim] (its
  // slot); cos/sin [1, T, 1, head_dim]; the T tokens sit at positions start .. start + T - 1.
  Tensor forward(Tensor x, const Tensor& k_all, const Tensor& v_all, const Tensor& cos,
                 const Tensor& sin, int64_t start) const {
    c10::InferenceMode guard;
    TORCH_CHECK(x.dim() == 3 && x.size(0) == 1, "fused decode: forward runs one sequence");
    return blocks(x, k_all, v_all, cos, sin, Where{start, {}, {}, {}, start + x.size(1)});
  }

  // B sequences, one token each: x [B, 1, dim]; k_all/v_all [n_layers, B, kv_heads, seq,
  // head_dim]; cos/sin [B, 1, 1, head_dim]; rows [B, 1] and positions [B, 1] say where each
  // token's K/V go; mask [B, 1, 1, max_end] (true: may attend) when the lengths differ.
  Tensor forward_batch(Tensor x, const Tensor& k_all, const Tensor& v_all, const Tensor& cos,
                       const Tensor& sin, const Tensor& rows, const Tensor& positions,
                       std::optional<Tensor> mask, int64_t max_end) const {
    c10::InferenceMode guard;
    TORCH_CHECK(x.dim() == 3 && x.size(1) == 1, "fused decode: a batch decodes one token each");
    return blocks(x, k_all, v_all, cos, sin, Where{0, rows, positions, std::move(mask), max_end});
  }

 private:
  // Where a forward's tokens go: one sequence writes positions start.. in place (rows
  // undefined), a batch writes cache[rows, :, positions] (model.py Step.store).
  struct Where {
    int64_t start;
    Tensor rows;
    Tensor positions;
    std::optional<Tensor> mask;
    int64_t max_end;
  };

  Tensor blocks(Tensor x, const Tensor& k_all, const Tensor& v_all, const Tensor& cos,
                const Tensor& sin, const Where& where) const {
    TORCH_CHECK(k_all.size(0) == n_blocks(), "cache layers != blocks");
    for (int64_t i = 0; i < n_blocks(); ++i) {
      const Block& b = blocks_[i];
      auto attended = attention(b, rms_norm(x, b.attention_norm), k_all.select(0, i),
                                v_all.select(0, i), cos, sin, where);
      auto h = x + attended;
      x = h + feed_forward(b, rms_norm(h, b.ffn_norm));
    }
    return x;
  }

  // RMSNorm as LayerNorm over [x, -x] (mean 0, variance mean(x^2)), as model.py's RMSNorm.
  Tensor rms_norm(const Tensor& x, const Tensor& doubled_weight) const {
    auto doubled = at::cat({x, at::neg(x)}, -1);
    auto out = at::layer_norm(doubled, {2 * dim_}, doubled_weight, {}, eps_);
    return out.slice(-1, 0, dim_);
  }

  Tensor attention(const Block& b, const Tensor& x, Tensor k_cache, Tensor v_cache,
                   const Tensor& cos, const Tensor& sin, const Where& where) const {
    const int64_t hd = head_dim_, bsz = x.size(0), seqlen = x.size(1);
    auto qkv = b.wqkv(x);
    auto parts = qkv.split_with_sizes({(heads_ + kv_heads_) * hd, kv_heads_ * hd}, -1);
    auto qk = parts[0].view({bsz, seqlen, heads_ + kv_heads_, hd});
    qk = qk * cos + qk.roll({hd / 2}, {-1}) * sin;  // model.py apply_rope
    auto q_k = qk.split_with_sizes({heads_, kv_heads_}, 2);
    auto v = parts[1].view({bsz, seqlen, kv_heads_, hd});
    if (!where.rows.defined()) {
      const int64_t start = where.start;
      k_cache.slice(2, start, start + seqlen).copy_(q_k[1].transpose(1, 2));
      v_cache.slice(2, start, start + seqlen).copy_(v.transpose(1, 2));
    } else {
      using at::indexing::Slice;
      k_cache.index_put_({where.rows, Slice(), where.positions}, q_k[1]);
      v_cache.index_put_({where.rows, Slice(), where.positions}, v);
    }
    Tensor y;
    if (seqlen == 1) {
      y = decode_attention(q_k[0].select(1, 0), k_cache, v_cache, where.max_end, where.mask);
    } else {  // each token through the decode path, as model.py's _per_token_attention
      std::vector<Tensor> outs;
      outs.reserve(seqlen);
      for (int64_t t = 0; t < seqlen; ++t) {
        outs.push_back(decode_attention(q_k[0].select(1, t), k_cache, v_cache,
                                        where.start + t + 1, std::nullopt));
      }
      y = at::stack(outs, 1);
    }
    return b.wo(y.reshape({bsz, seqlen, heads_ * hd}));
  }

  Tensor decode_attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                          int64_t end, const std::optional<Tensor>& mask) const {
    auto folded = q.view({q.size(0), kv_heads_, heads_ / kv_heads_, head_dim_});
    return at::scaled_dot_product_attention(folded, k_cache.slice(2, 0, end),
                                            v_cache.slice(2, 0, end), mask);
  }

  Tensor feed_forward(const Block& b, const Tensor& x) const {
    auto gate_up = b.w13(x).chunk(2, -1);
    return b.w2(at::silu(gate_up[0]) * gate_up[1]);
  }

  int64_t heads_, kv_heads_, head_dim_, dim_;
  double eps_;
  std::vector<Block> blocks_;
};

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  namespace py = pybind11;
  py::class_<Linear>(m, "Linear")
      .def(py::init([](bool int4, Tensor weight, Tensor scales, std::optional<Tensor> bias,
                       int64_t in_features, int64_t out_features, int64_t group,
                       std::optional<Tensor> dense, int64_t dense_rows) {
             return Linear{int4,        std::move(weight), std::move(scales),
                           std::move(bias), in_features,   out_features,
                           group,       std::move(dense),  dense_rows};
           }),
           py::arg("int4"), py::arg("weight"), py::arg("scales"), py::arg("bias"),
           py::arg("in_features"), py::arg("out_features"), py::arg("group"), py::arg("dense"),
           py::arg("dense_rows"));
  py::class_<Decoder>(m, "Decoder")
      .def(py::init<int64_t, int64_t, int64_t, int64_t, double>())
      .def("add_block", &Decoder::add_block)
      .def("forward", &Decoder::forward, py::call_guard<py::gil_scoped_release>())
      .def("forward_batch", &Decoder::forward_batch, py::call_guard<py::gil_scoped_release>());
}
