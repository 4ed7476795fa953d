#include "bench/dunno_server.h"

#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "core/listen_address.h"

namespace policyd::bench {
namespace {

constexpr char kReply[] = "action=DUNNO\n\n";
constexpr std::size_t kReplyLen = sizeof kReply - 1;

struct Client {
  uv_tcp_t tcp;
  bool last_was_newline = false;  // a request's closing "\n\n" may span two reads
  std::string out;
  char buf[65536];
};

struct Write {
  uv_write_t req;
  std::string data;
};

void OnClosed(uv_handle_t* h) { delete static_cast<Client*>(h->data); }

void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Client*>(s->data);
  if (n < 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), OnClosed);
    return;
  }
  std::size_t requests =
      CountRequestEnds(std::string_view(buf->base, static_cast<std::size_t>(n)),
                       &c->last_was_newline);
  if (requests == 0) return;
  auto* w = new Write;
  w->req.data = w;
  w->data.reserve(requests * kReplyLen);
  for (std::size_t i = 0; i < requests; ++i) w->data.append(kReply, kReplyLen);
  uv_buf_t out = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, s, &out, 1, [](uv_write_t* r, int) {
        delete static_cast<Write*>(r->data);
      }) != 0) {
    delete w;
  }
}

void OnConnection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* c = new Client;
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), OnClosed);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* b) {
        auto* cl = static_cast<Client*>(h->data);
        *b = uv_buf_init(cl->buf, sizeof cl->buf);
      },
      OnRead);
}

}  // namespace

std::size_t CountRequestEnds(std::string_view bytes, bool* last_was_newline) {
  std::size_t requests = 0;
  bool last = *last_was_newline;
  for (char ch : bytes) {
    bool nl = ch == '\n';
    if (nl && last) {
      ++requests;
      nl = false;  // "\n\n\n" is one request end and the start of the next
    }
    last = nl;
  }
  *last_was_newline = last;
  return requests;
}

Status RunDunnoServer(const std::string& listen) {
  Result<ListenAddress> address = ParseListenAddress(listen);
  if (!address.ok()) return address.error();
  if (address->IsUnix()) return Error{ErrorCode::kInvalid, "dunno-server: TCP addresses only"};
  sockaddr_storage ss{};
  int rc = address->host.find(':') != std::string::npos
               ? uv_ip6_addr(address->host.c_str(), address->port,
                             reinterpret_cast<sockaddr_in6*>(&ss))
               : uv_ip4_addr(address->host.c_str(), address->port,
                             reinterpret_cast<sockaddr_in*>(&ss));
  if (rc != 0) return Error{ErrorCode::kInvalid, fmt::format("{}: {}", listen, uv_strerror(rc))};
  uv_loop_t* loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  rc = uv_tcp_bind(&server, reinterpret_cast<sockaddr*>(&ss), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server), 1024, OnConnection);
  if (rc != 0) return Error{ErrorCode::kUnavailable, fmt::format("{}: {}", listen, uv_strerror(rc))};
  uv_signal_t sigint, sigterm;
  for (auto [sig, h] : {std::pair{SIGINT, &sigint}, std::pair{SIGTERM, &sigterm}}) {
    uv_signal_init(loop, h);
    uv_signal_start_oneshot(h, [](uv_signal_t* s, int) { uv_stop(s->loop); }, sig);
  }
  std::fprintf(stderr, "ready %d\n", address->port);
  std::fflush(stderr);
  uv_run(loop, UV_RUN_DEFAULT);
  return Ok{};
}

}  // namespace policyd::bench
