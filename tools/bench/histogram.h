// A latency histogram in the HdrHistogram style: log-linear buckets, so every recorded value
// is kept with a bounded relative error (at most 1 / 2^kSubBucketBits, i.e. < 0.8%) whatever
// its magnitude, in a fixed array with O(1) Record. policyd-bench records nanoseconds; the
// percentiles it prints come from here. Pure: no clock, no I/O; tested in
// test/unit/bench/histogram_test.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace policyd::bench {

class Histogram {
 public:
  // Values 0 .. 2^kSubBucketBits * 2 - 1 have a bucket of their own (exact); above that, each
  // power of two is split into 2^kSubBucketBits equal buckets.
  static constexpr int kSubBucketBits = 7;
  // Largest value kept as is; bigger values are clamped to it (2^40 ns is about 18 minutes).
  static constexpr uint64_t kMaxValue = (uint64_t{1} << 40) - 1;

  Histogram();

  void Record(uint64_t value);
  // Adds every value recorded in other (histograms of different runs or connections).
  void Merge(const Histogram& other);

  uint64_t count() const { return count_; }
  // Exact smallest and largest values recorded (after clamping); 0 when empty.
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }

  // The value at or below which `percent` (0..100) of the recorded values lie, reported as the
  // highest value equivalent to its bucket (never above max()). 0 when empty.
  uint64_t Percentile(double percent) const;

  // Bucket geometry, public for the tests: the bucket of a value, and the lowest and highest
  // values that share bucket `index`.
  static std::size_t IndexOf(uint64_t value);
  static uint64_t LowestOf(std::size_t index);
  static uint64_t HighestOf(std::size_t index);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = 0;
  uint64_t max_ = 0;
  uint64_t sum_ = 0;
};

}  // namespace policyd::bench
