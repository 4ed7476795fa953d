#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace policyd::bench {
namespace {

constexpr uint64_t kSub = uint64_t{1} << Histogram::kSubBucketBits;

}  // namespace

// Index layout: values below 2*kSub map to themselves; a value with bit width w > S+1 is
// shifted right by w-(S+1) so that its top S+1 bits (kSub..2*kSub-1) select the sub-bucket,
// and each shift step adds kSub indexes. So index = shift*kSub + (value >> shift).
std::size_t Histogram::IndexOf(uint64_t value) {
  value = std::min(value, kMaxValue);
  int width = std::bit_width(value);
  int shift = std::max(0, width - (kSubBucketBits + 1));
  return static_cast<std::size_t>(shift) * kSub + (value >> shift);
}

uint64_t Histogram::LowestOf(std::size_t index) {
  if (index < 2 * kSub) return index;
  uint64_t shift = index / kSub - 1;
  uint64_t sub = index - shift * kSub;
  return sub << shift;
}

uint64_t Histogram::HighestOf(std::size_t index) {
  if (index < 2 * kSub) return index;
  uint64_t shift = index / kSub - 1;
  return LowestOf(index) + (uint64_t{1} << shift) - 1;
}

Histogram::Histogram() : counts_(IndexOf(kMaxValue) + 1, 0) {}

void Histogram::Record(uint64_t value) {
  value = std::min(value, kMaxValue);
  ++counts_[IndexOf(value)];
  if (count_ == 0 || value < min_) min_ = value;
  max_ = std::max(max_, value);
  ++count_;
  sum_ += value;
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

uint64_t Histogram::Percentile(double percent) const {
  if (count_ == 0) return 0;
  percent = std::clamp(percent, 0.0, 100.0);
  // The rank of the value asked for (1-based), as HdrHistogram counts it: at least 1.
  auto rank = static_cast<uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(HighestOf(i), min_, max_);
  }
  return max_;
}

}  // namespace policyd::bench
