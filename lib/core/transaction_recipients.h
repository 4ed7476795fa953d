// The recipients one policy connection answered DUNNO at RCPT for the current transaction
// (issue 16): handed to the END-OF-MESSAGE decision (DecideOptions::recipients, ARGV[32]) so
// that list-bombing counts an accepted message once per recipient at END-OF-MESSAGE and a
// RCPT stays read-only. A new transaction (another `instance` attribute) starts a new list;
// END-OF-MESSAGE takes the list and empties it. Bounded: at most kMaxRecipients, the first
// ones (Postfix's own smtpd_recipient_limit defaults to 1,000).
// Pure: one per Connection, used on its loop's thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace policyd {

class TransactionRecipients {
 public:
  static constexpr std::size_t kMaxRecipients = 1000;

  // A request of transaction `instance` arrived: another instance than the list's starts
  // a new list (a connection re-used for the next message, or a RSET).
  void Begin(std::string_view instance);
  // The RCPT of `recipient` was answered DUNNO. Repeats (Postfix retries a RCPT it got no
  // answer for) are kept once.
  void Add(std::string_view recipient);
  // END-OF-MESSAGE: the recipients, and the list starts over.
  std::vector<std::string> Take();

  std::size_t size() const { return recipients_.size(); }
  const std::string& instance() const { return instance_; }

 private:
  std::string instance_;
  std::vector<std::string> recipients_;
};

}  // namespace policyd
