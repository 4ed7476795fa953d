#include "core/transaction_recipients.h"

#include <algorithm>

namespace policyd {

void TransactionRecipients::Begin(std::string_view instance) {
  if (instance == instance_) return;
  instance_ = std::string(instance);
  recipients_.clear();
}

void TransactionRecipients::Add(std::string_view recipient) {
  if (recipient.empty() || recipients_.size() >= kMaxRecipients) return;
  if (std::find(recipients_.begin(), recipients_.end(), recipient) != recipients_.end()) return;
  recipients_.emplace_back(recipient);
}

std::vector<std::string> TransactionRecipients::Take() {
  std::vector<std::string> out = std::move(recipients_);
  recipients_.clear();
  return out;
}

}  // namespace policyd
