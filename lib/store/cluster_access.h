// Access facts on a Redis Cluster (issue 17): access_facts.lua's answer for one request when
// its blocks, user, account, domains and grants live in up to three slots, so that no one
// script can read them. Two rounds of plain reads, each sent to its key's primary at once
// (lib/core/access_prefetch.h names them): the blocks, the user and its grants; then, once
// the user's account is known, the account and its domains (skipped when there is none).
// Then one keyless FCALL_RO of access_eval.lua on any primary runs _access.lua read_access
// over what was read: the access logic has one implementation, in Lua, on one Redis and on a
// cluster alike.
//
// The reads are not one snapshot: a change landing between them (a grant removed while the
// account is read) can give an answer no single moment had. policyd's access cache is
// cleared by every such change's invalidation and keeps a fill only if nothing was cleared
// since it was sent (lib/core/access_cache.h), so such an answer is never kept.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/cluster_verdict.h"
#include "core/result.h"
#include "store/cluster_client.h"
#include "store/cluster_script_runner.h"

namespace policyd {

class ClusterAccess {
 public:
  // access_facts.lua's reply fields (lib/core/access_cache.h ParseAccessFacts reads them),
  // or the first failure of any read or of the call.
  using Callback = std::function<void(Result<std::vector<std::string>>)>;

  // All three must outlive every call in flight.
  ClusterAccess(uv_loop_t* loop, ClusterClient* cluster, ClusterScriptRunner* scripts)
      : loop_(loop), cluster_(cluster), scripts_(scripts) {}

  // decide_args: decide.lua's ARGV 1-31 of the request (what access_facts.lua takes). The
  // callback runs once, within timeout_ms over both rounds and the call. script: the keyless
  // function that evaluates the records, access_eval (the access cache's answer) or
  // access_decide (a decision's, lib/core/cluster_verdict.h ParseAccessOutcome).
  void Read(std::vector<std::string> decide_args, uint64_t timeout_ms, Callback callback,
            std::string script = "access_eval");

  // A decision's access outcome: Read with access_decide, parsed (ParseAccessOutcome); a
  // reply of another shape is an error.
  void ReadOutcome(std::vector<std::string> decide_args, uint64_t timeout_ms,
                   std::function<void(Result<AccessOutcome>)> callback);

 private:
  struct Fill;
  // Sends every command (argv[1]: the key that routes it) at once; `then` gets their replies
  // in order, or the fill ends with the first error.
  void Send(std::shared_ptr<Fill> fill, std::vector<std::vector<std::string>> commands,
            std::function<void(std::vector<RedisValue>)> then);
  void ReadAccount(std::shared_ptr<Fill> fill);
  void Eval(std::shared_ptr<Fill> fill);
  // Milliseconds left before the fill's deadline (0: none).
  uint64_t Left(const Fill& fill) const;

  uv_loop_t* loop_;
  ClusterClient* cluster_;
  ClusterScriptRunner* scripts_;
};

}  // namespace policyd
