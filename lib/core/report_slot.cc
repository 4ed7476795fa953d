#include "core/report_slot.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdlib>
#include <vector>

#include "core/cluster_slot.h"

namespace policyd {
namespace {

constexpr std::string_view kSlotTagAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
constexpr size_t kMaxTagLength = 4;  // 36^4 = 1.7 million candidates for 16,384 slots

// Every slot's tag, found once by walking the candidates shortest first: about 10 ms of CRC16
// on first use (a cluster-mode decision), none for one Redis.
const std::vector<std::string>& SlotTags() {
  static const std::vector<std::string> tags = [] {
    std::vector<std::string> out(kClusterSlots);
    size_t missing = kClusterSlots;
    for (size_t length = 1; length <= kMaxTagLength && missing > 0; ++length) {
      std::string tag(length, kSlotTagAlphabet[0]);
      std::vector<size_t> digits(length, 0);
      while (true) {
        uint16_t slot = Crc16(tag) % kClusterSlots;
        if (out[slot].empty()) {
          out[slot] = tag;
          if (--missing == 0) break;
        }
        // The next string of this length, last character fastest.
        size_t i = length;
        while (i > 0 && ++digits[i - 1] == kSlotTagAlphabet.size()) {
          digits[i - 1] = 0;
          tag[i - 1] = kSlotTagAlphabet[0];
          --i;
        }
        if (i == 0) break;
        tag[i - 1] = kSlotTagAlphabet[digits[i - 1]];
      }
    }
    if (missing > 0) std::abort();  // the unit test shows every slot is reached
    return out;
  }();
  return tags;
}

}  // namespace

std::string_view SlotTag(uint16_t slot) {
  assert(slot < kClusterSlots);
  return SlotTags()[slot];
}

std::string_view SubjectSlotTag(std::string_view subject_tag) {
  return SlotTag(Crc16(subject_tag) % kClusterSlots);
}

std::string_view KeySlotTag(std::string_view key, std::string_view head) {
  if (!key.starts_with(head)) return {};
  std::string_view rest = key.substr(head.size());
  if (rest.size() < 3 || rest.size() > kMaxTagLength + 2 || rest.front() != '{' ||
      rest.back() != '}') {
    return {};
  }
  std::string_view tag = rest.substr(1, rest.size() - 2);
  if (tag.find_first_not_of(kSlotTagAlphabet) != std::string_view::npos) return {};
  return tag;
}

std::vector<SlotGroup> GroupBySubjectSlot(const std::vector<std::string_view>& subject_tags,
                                          bool cluster) {
  std::vector<SlotGroup> groups;
  for (std::size_t i = 0; i < subject_tags.size(); ++i) {
    std::string_view home = cluster ? SubjectSlotTag(subject_tags[i]) : std::string_view();
    auto it = std::find_if(groups.begin(), groups.end(),
                           [home](const SlotGroup& g) { return g.home == home; });
    if (it == groups.end()) it = groups.insert(groups.end(), SlotGroup{std::string(home), {}});
    it->items.push_back(i);
  }
  return groups;
}

std::string_view ReportIdSlotTag(std::string_view id) {
  size_t dot = id.find('.');
  return dot == std::string_view::npos ? std::string_view() : id.substr(0, dot);
}

std::string ReportKeyName(std::string_view id) {
  std::string_view tag = ReportIdSlotTag(id);
  if (tag.empty()) return "report:" + std::string(id);
  return "report:{" + std::string(tag) + "}" + std::string(id.substr(tag.size()));
}

}  // namespace policyd
