// make-model's tokenizer.json: loads with our reader, right size, round-trips, deterministic.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "model/presets.h"
#include "tokenizer/synthetic_bpe.h"
#include "tokenizer/tokenizer.h"
#include "scratch_dir.h"

namespace l2n::tokenizer {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> load_json(const std::string& json) {
  const testing::ScratchDir dir("l2n_synth_bpe");
  return load_tokenizer(dir.write("tokenizer.json", json));
}

const std::string kText =
    "Once upon a time, there was a little girl named Lily. She loved to play outside!\n"
    "\tNumbers 12345, symbols #@$%^&*(), accents déjà vu, CJK 日本語, emoji 🙂 and \x01\x7f bytes.";

TEST(SyntheticBpe, EveryPresetLoadsWithItsVocabularySizeAndRoundTrips) {
  for (const auto& preset : model::model_presets()) {
    const auto tok = load_json(synthetic_bpe_tokenizer_json(preset.config.vocab_size, preset.special_tokens, 1));
    EXPECT_EQ(tok->kind(), "byte-level-bpe") << preset.name;
    EXPECT_EQ(tok->vocab_size(), preset.config.vocab_size) << preset.name;
    EXPECT_EQ(tok->bos_id(), preset.config.bos_id) << preset.name;
    EXPECT_EQ(tok->eos_id(), preset.config.eos_id) << preset.name;
    const auto ids = tok->encode(kText, false);
    EXPECT_EQ(tok->decode(ids), kText) << preset.name;
    for (int32_t id : ids) ASSERT_LT(id, preset.config.vocab_size);
    // The merges fire on ordinary words: fewer tokens than bytes.
    if (preset.config.vocab_size > 1000) {
      EXPECT_LT(ids.size(), kText.size() * 3 / 4) << preset.name;
    }
    // Special tokens are matched whole and skipped when decoding.
    const std::string special = preset.special_tokens.back();
    const auto with_special = tok->encode(fmt::format("hi{}", special), false);
    EXPECT_EQ(with_special.back(), static_cast<int32_t>(preset.special_tokens.size()) - 1) << preset.name;
  }
}

TEST(SyntheticBpe, SameSeedSameFileOtherSeedOtherMerges) {
  const std::vector<std::string> specials{"<unk>", "<s>", "</s>"};
  const std::string a = synthetic_bpe_tokenizer_json(2000, specials, 9);
  EXPECT_EQ(a, synthetic_bpe_tokenizer_json(2000, specials, 9));
  EXPECT_NE(a, synthetic_bpe_tokenizer_json(2000, specials, 10));
}

TEST(SyntheticBpe, RefusesAVocabularyWithoutRoomForTheBytes) {
  try {
    synthetic_bpe_tokenizer_json(200, {"<|endoftext|>"}, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("at least 257"), std::string::npos) << e.what();
  }
  EXPECT_EQ(load_json(synthetic_bpe_tokenizer_json(257, {"<|endoftext|>"}, 0))->vocab_size(), 257);
}

}  // namespace
}  // namespace l2n::tokenizer
