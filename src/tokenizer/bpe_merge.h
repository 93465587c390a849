// The BPE merge loop shared by every tokenizer here (internal to the tokenizer stage).
//
// Symbols form a linked list over a word; a min-heap holds the candidate merges of
// adjacent pairs, ordered by priority (lower first) and then by position (leftmost
// first). A popped candidate is applied only if the pair at its position still produces
// the same token (otherwise it is stale); the merge then queues the two new neighbouring
// pairs. Work is O(n log n) in the number of symbols, whatever the input.
//
// The priority decides the flavour: a merge rank (Hugging Face BPE, merges.txt order) or
// a negated token score (SentencePiece / llama.cpp "SPM": best-scoring piece first).
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

namespace l2n::tokenizer {

struct Symbol {
  uint32_t begin = 0;  // byte range of the symbol in the word's text
  uint32_t len = 0;    // 0 once merged into its left neighbour
  int32_t id = -1;     // token id, or -1 for text with no token (SPM: byte fallback later)
  int32_t prev = -1;
  int32_t next = -1;
};

struct MergeCandidate {
  double priority;  // lower merges first
  int32_t new_id;
};

// lookup(left, right) -> std::optional<MergeCandidate> for two adjacent live symbols.
// On return, the live symbols are those reachable from symbols[0] through next.
template <class Lookup>
void merge_symbols(std::vector<Symbol>& symbols, Lookup&& lookup) {
  const auto n = static_cast<int32_t>(symbols.size());
  if (n < 2) return;
  for (int32_t i = 0; i < n; ++i) {
    symbols[i].prev = i - 1;
    symbols[i].next = i + 1 < n ? i + 1 : -1;
  }
  struct Entry {
    double priority;
    int32_t pos;
    int32_t new_id;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.priority != b.priority ? a.priority > b.priority : a.pos > b.pos;
    }
  };
  std::vector<Entry> storage;
  storage.reserve(static_cast<size_t>(n));
  std::priority_queue<Entry, std::vector<Entry>, Later> queue(Later{}, std::move(storage));

  auto consider = [&](int32_t left) {
    const Symbol& l = symbols[left];
    if (l.next < 0) return;
    if (const std::optional<MergeCandidate> c = lookup(l, symbols[l.next]))
      queue.push(Entry{c->priority, left, c->new_id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);

  while (!queue.empty()) {
    const Entry top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.len == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const std::optional<MergeCandidate> current = lookup(left, right);
    if (!current || current->new_id != top.new_id) continue;
    left.id = top.new_id;
    left.len += right.len;
    left.next = right.next;
    right.len = 0;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
}

}  // namespace l2n::tokenizer
