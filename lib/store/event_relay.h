// The event relay of a Redis Cluster (issue 17). A script call may only touch its subject's
// slot, so on a cluster it writes its events into its slot's outbox, PREFIXevents:{TAG} (TAG:
// the subject's slot-tag, _common.lua emit_event), in the same call as the change, exactly as
// one Redis writes PREFIXevents. The relay moves them to the home stream PREFIXevents, where
// webhook delivery (store/webhook_deliverer.h) reads them as before: per outbox it reads the
// oldest entries (XRANGE, at most `batch`), XADDs each to the home stream with its fields and
// one more, `outbox` = "TAG-ENTRYID", then removes them from the outbox (outbox_ack.lua; an
// emptied outbox goes a minute later by a TTL, so that scans stop finding it while no new
// outbox can reuse an id), and again until the outbox is empty.
//
// Outboxes are found by SCAN MATCH PREFIXevents:{* TYPE stream on every primary each
// scan_interval (store/cluster_scan.h), and relayed at once when this instance's own call
// wrote one (Notify). Delivery is at least once: an event stays in its outbox until it has
// been added to the home stream, so none is lost, but an instance dying between the XADD and
// the XDEL, or two instances relaying the same outbox at once, add it twice; both copies
// carry the same `outbox` id, by which a receiver can tell. Order holds within an outbox (a
// slot), not across slots; the `time` field orders those.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "net/periodic_timer.h"
#include "store/cluster_client.h"
#include "store/cluster_script_runner.h"

namespace policyd {

class EventRelay {
 public:
  struct Options {
    std::string prefix = "pd:";       // [redis] key_prefix
    uint64_t scan_interval_ms = 1000;  // how often every primary is searched for outboxes
    uint64_t timeout_ms = 1000;        // per command
    int batch = 100;                   // entries moved per XRANGE
  };

  // loop, cluster and runner must outlive the relay, and the relay the cluster client's Stop (whose
  // failed calls still call back: after the relay's Stop they are ignored). Nothing runs
  // before Start or ScanNow.
  EventRelay(uv_loop_t* loop, ClusterClient* cluster, ClusterScriptRunner* runner,
             Options options);
  EventRelay(const EventRelay&) = delete;
  EventRelay& operator=(const EventRelay&) = delete;

  void Start();                           // a scan now and every scan_interval_ms
  void Stop(std::function<void()> done);  // done runs once the timer is closed

  // The outbox of slot-tag `home` was written by this instance: relay it now (or once more
  // after the pass in flight, which may have read before the write).
  void Notify(std::string_view home);
  // One search of every primary, now (unless one is in flight), relaying what it finds.
  void ScanNow();

  // No scan and no outbox in flight.
  bool idle() const { return !scanning_ && draining_.empty(); }
  uint64_t moved() const { return moved_; }    // entries added to the home stream
  uint64_t scans() const { return scans_; }    // searches of every primary completed
  uint64_t failures() const { return failures_; }  // passes ended by an error (retried later)

 private:
  void Drain(const std::string& home);
  void OnRange(const std::string& home, Result<RedisValue> reply);
  void Finish(const std::string& home, bool ok, bool more);  // more: entries are left

  ClusterClient* cluster_;
  ClusterScriptRunner* runner_;
  Options options_;
  PeriodicTimer timer_;
  bool scanning_ = false;
  // Outboxes being relayed -> whether to pass over them once more when the pass ends.
  std::unordered_map<std::string, bool> draining_;
  uint64_t moved_ = 0;
  uint64_t scans_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace policyd
