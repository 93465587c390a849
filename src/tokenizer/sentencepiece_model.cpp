// SentencePiece .model files through libsentencepiece.
//
// Encoding is the library's (its normalizer, dummy prefix and algorithm, BPE or unigram).
// Decoding is done here from the pieces, with the same rules as the other SentencePiece
// vocabularies (control and unknown pieces skipped, <0xXX> pieces as raw bytes, "▁" as a
// space, the dummy-prefix space dropped) so that it is exact for any byte sequence and
// never rewrites a partial UTF-8 character, which the streaming decoder relies on.
#include <sentencepiece_processor.h>

#include <exception>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

namespace l2n::tokenizer {

namespace {

class SentencePieceModelTokenizer final : public TokenizerBase {
 public:
  SentencePieceModelTokenizer(const std::filesystem::path& path, const std::string& bytes) {
    // The library reports most defects as a status, but its trie builder throws on some
    // (a piece starting with a NUL byte is "zero-length" to it); both become an l2n::Error.
    sentencepiece::util::Status status;
    try {
      status = processor_.LoadFromSerializedProto(bytes);
    } catch (const std::exception& e) {
      fail("{}: not a usable SentencePiece model: {}", path.string(), e.what());
    }
    if (!status.ok()) fail("{}: not a SentencePiece model: {}", path.string(), status.ToString());
    const int n = processor_.GetPieceSize();
    if (n <= 0) fail("{}: SentencePiece model has no pieces", path.string());
    pieces_.reserve(static_cast<size_t>(n));
    byte_value_.assign(static_cast<size_t>(n), -1);
    skip_.assign(static_cast<size_t>(n), 0);
    for (int id = 0; id < n; ++id) {
      pieces_.push_back(processor_.IdToPiece(id));
      // The trie keys pieces as C strings, so a NUL inside one would silently cut it short.
      if (pieces_.back().find('\0') != std::string::npos)
        fail("{}: SentencePiece piece {} contains a NUL byte; write it as the byte piece <0x00>", path.string(), id);
      if (processor_.IsByte(id)) byte_value_[id] = static_cast<int16_t>(byte_piece_value(pieces_.back()));
      if (processor_.IsControl(id) || processor_.IsUnknown(id)) skip_[id] = 1;
    }
    auto valid = [n](int id) { return id >= 0 && id < n ? id : -1; };
    bos_ = valid(processor_.bos_id());
    eos_ = valid(processor_.eos_id());
    add_bos_ = true;
    // Whether the model adds a dummy prefix (normalizer_spec.add_dummy_prefix): "a" then
    // encodes to a first piece starting with "▁".
    const auto probe = processor_.EncodeAsPieces("a");
    dummy_prefix_ = !probe.empty() && probe.front().rfind(kSpmSpace, 0) == 0;
  }

  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool add_eos) const override {
    std::vector<int> raw;
    const auto status = processor_.Encode(text, &raw);
    if (!status.ok()) fail("SentencePiece could not encode the text: {}", status.ToString());
    std::vector<int32_t> ids;
    ids.reserve(raw.size() + 2);
    if (add_bos && bos_ >= 0) ids.push_back(bos_);
    ids.insert(ids.end(), raw.begin(), raw.end());
    if (add_eos && eos_ >= 0) ids.push_back(eos_);
    return ids;
  }

  std::string decode(std::span<const int32_t> ids) const override {
    return decode_spm_pieces(ids, pieces_, byte_value_, skip_, dummy_prefix_);
  }

  std::string piece(int32_t id) const override {
    if (id < 0 || id >= vocab_size()) fail("token id {} is outside the vocabulary of {}", id, vocab_size());
    return pieces_[id];
  }
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  bool is_special(int32_t id) const override { return id >= 0 && id < vocab_size() && skip_[id]; }
  std::string kind() const override { return "sentencepiece-model"; }

 private:
  sentencepiece::SentencePieceProcessor processor_;
  std::vector<std::string> pieces_;
  std::vector<int16_t> byte_value_;
  std::vector<uint8_t> skip_;
  bool dummy_prefix_ = true;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_model(const std::filesystem::path& path, const std::string& bytes) {
  return std::make_unique<SentencePieceModelTokenizer>(path, bytes);
}

}  // namespace l2n::tokenizer
