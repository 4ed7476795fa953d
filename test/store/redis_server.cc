#include "redis_server.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "core/redis_url.h"

namespace policyd::test {
namespace {

// A loopback port nobody holds now: `want` (0 = any the kernel picks); 0 if taken.
int FreePort(int want = 0) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(want));
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    socklen_t len = sizeof sa;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
  }
  close(fd);
  return port;
}

// A cluster node also listens on its cluster bus, port + 10000: both must be free.
int FreeClusterPort() {
  for (;;) {
    int port = FreePort();
    if (port > 0 && port <= 55535 && FreePort(port + 10000) == port + 10000) return port;
  }
}

void Flatten(const redisReply* r, std::vector<std::string>* out) {
  switch (r->type) {
    case REDIS_REPLY_ARRAY:
      for (size_t i = 0; i < r->elements; ++i) Flatten(r->element[i], out);
      break;
    case REDIS_REPLY_INTEGER:
      out->push_back(std::to_string(r->integer));
      break;
    case REDIS_REPLY_NIL:
      out->push_back("(nil)");
      break;
    case REDIS_REPLY_ERROR:
      out->push_back("ERR:" + std::string(r->str, r->len));
      break;
    default:
      out->push_back(std::string(r->str, r->len));
  }
}

}  // namespace

RedisServer::RedisServer(bool cluster_enabled, int node_timeout_ms) {
  port_ = cluster_enabled ? FreeClusterPort() : FreePort();
  char tmpl[] = "/tmp/policyd-store-XXXXXX";
  dir_ = mkdtemp(tmpl);
  pid_ = fork();
  if (pid_ == 0) {
    std::string port = std::to_string(port_);
    std::string log = dir_ + "/redis.log";
    std::vector<const char*> argv = {"redis-server", "--port", port.c_str(), "--bind",
                                     "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                     dir_.c_str(), "--logfile", log.c_str()};
    std::string node_timeout = std::to_string(node_timeout_ms);
    if (cluster_enabled) {
      // A primary delays a replica's first sync repl-diskless-sync-delay (5 s) waiting for
      // more replicas: most of a replicated test cluster's start-up.
      for (const char* a : {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                            "--repl-diskless-sync-delay", "0"}) {
        argv.push_back(a);
      }
      if (node_timeout_ms > 0) {
        argv.push_back("--cluster-node-timeout");
        argv.push_back(node_timeout.c_str());
      }
    }
    argv.push_back(nullptr);
    execvp("redis-server", const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  for (int i = 0; i < 200 && ctx_ == nullptr; ++i) {
    redisContext* c = redisConnect("127.0.0.1", port_);
    if (c != nullptr && c->err == 0) {
      ctx_ = c;
    } else {
      if (c) redisFree(c);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (ctx_ == nullptr) {
    fprintf(stderr, "cannot start redis-server on port %d\n", port_);
    std::abort();
  }
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

RedisServer::~RedisServer() {
  if (ctx_) redisFree(ctx_);
  Kill();
  std::string cmd = "rm -rf " + dir_;
  if (system(cmd.c_str()) != 0) {
  }
}

std::vector<std::string> RedisServer::Cmd(const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data()));
  REQUIRE_MESSAGE(r != nullptr, "redis command failed");
  std::vector<std::string> out;
  Flatten(r, &out);
  freeReplyObject(r);
  return out;
}

std::string RedisServer::CmdOne(const std::vector<std::string>& argv) {
  auto v = Cmd(argv);
  return v.empty() ? "" : v[0];
}

std::vector<std::string> RedisServer::Keys() {
  auto keys = Cmd({"KEYS", "*"});
  std::sort(keys.begin(), keys.end());
  return keys;
}

Config TestConfig() {
  Config c;
  c.report.secret = "test-secret-0123456789abcdef";
  c.report.base_url = "https://policy.example.test/report";
  c.plans["default"] = Plan{"default", false, {}};
  return c;
}

PolicyRequest MakeRequest(const std::vector<std::pair<std::string, std::string>>& attrs) {
  PolicyRequest r;
  r.Add("request", "smtpd_access_policy");
  for (const auto& [k, v] : attrs) r.Add(k, v);
  return r;
}

StoreHarness::StoreHarness(int redis_port, Config config)
    : config_(std::make_shared<Config>(std::move(config))) {
  uv_loop_init(&loop_);
  RedisEndpoint ep;
  ep.host = "127.0.0.1";
  ep.port = redis_port;
  client_ = std::make_unique<RedisClient>(&loop_, ep, RedisClientOptions{});
  store_ = std::make_unique<PolicyStore>(client_.get());
  client_->Start();
  for (int i = 0; i < 500 && !client_->ready(); ++i) uv_run(&loop_, UV_RUN_ONCE);
  REQUIRE(client_->ready());
}

StoreHarness::~StoreHarness() {
  bool stopped = false;
  client_->Stop([&] { stopped = true; });
  while (!stopped) uv_run(&loop_, UV_RUN_ONCE);
  uv_run(&loop_, UV_RUN_DEFAULT);
  client_.reset();
  uv_loop_close(&loop_);
}

Result<Verdict> StoreHarness::TryDecide(const PolicyRequest& request, uint64_t now_ms,
                                        bool explain, std::vector<std::string_view> recipients) {
  std::optional<Result<Verdict>> result;
  DecideOptions options;
  options.now_ms = now_ms;
  options.recipients.assign(recipients.begin(), recipients.end());
  options.mode = explain ? DecideMode::kExplain : DecideMode::kDecide;
  // 5 s: the sanitizer build is slow and these tests are about decisions, not deadlines.
  config_->server.request_timeout_ms = 5000;
  store_->Decide(config_, request, [&](Result<Verdict> v) { result = std::move(v); }, options);
  while (!result) uv_run(&loop_, UV_RUN_ONCE);
  return std::move(*result);
}

Verdict StoreHarness::Decide(const PolicyRequest& request, uint64_t now_ms, bool explain) {
  Result<Verdict> v = TryDecide(request, now_ms, explain);
  REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
  return *v;
}

Verdict StoreHarness::DecideWithRecipients(const PolicyRequest& request, uint64_t now_ms,
                                           std::vector<std::string_view> recipients) {
  Result<Verdict> v = TryDecide(request, now_ms, false, std::move(recipients));
  REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
  return *v;
}

std::string StoreHarness::Reply(const PolicyRequest& request, uint64_t now_ms) {
  return FormatVerdict(Decide(request, now_ms), *config_);
}

}  // namespace policyd::test
