#include "http/http_request_reader.h"

#include <climits>

namespace policyd {

HttpRequestReader::HttpRequestReader(HttpLimits limits) : limits_(limits) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

HttpRequestReader::Status HttpRequestReader::Feed(std::string_view bytes) {
  static const http_parser_settings kSettings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_url = &OnUrl;
    s.on_header_field = &OnHeaderField;
    s.on_header_value = &OnHeaderValue;
    s.on_headers_complete = &OnHeadersComplete;
    s.on_body = &OnBody;
    s.on_message_complete = &OnMessageComplete;
    return s;
  }();
  if (status_ != Status::kNeedMore) return status_;
  std::size_t parsed = http_parser_execute(&parser_, &kSettings, bytes.data(), bytes.size());
  // A callback decided (complete request, or a bound exceeded): its verdict stands, whatever
  // http-parser says about the bytes it did not look at.
  if (status_ != Status::kNeedMore) return status_;
  if (parsed != bytes.size() || HTTP_PARSER_ERRNO(&parser_) != HPE_OK) {
    Fail(400, http_errno_description(HTTP_PARSER_ERRNO(&parser_)));
  }
  return status_;
}

int HttpRequestReader::Fail(int status, std::string reason) {
  status_ = Status::kError;
  error_status_ = status;
  error_ = std::move(reason);
  return -1;  // 1 would mean 'no body' in on_headers_complete, not an error
}

bool HttpRequestReader::CountHeaderBytes(size_t len) {
  header_bytes_ += len;
  if (header_bytes_ <= limits_.max_header_bytes) return true;
  Fail(431, "request line and headers too large");
  return false;
}

// --- http-parser callbacks: collect with bounds, stop at the end of the first request. ---

int HttpRequestReader::OnUrl(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<HttpRequestReader*>(p->data);
  if (!self->CountHeaderBytes(len)) return -1;
  self->url_.append(at, len);
  return 0;
}

int HttpRequestReader::OnHeaderField(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<HttpRequestReader*>(p->data);
  if (self->in_value_) {
    self->request_.headers.emplace(self->field_, self->value_);
    self->field_.clear();
    self->value_.clear();
    self->in_value_ = false;
  }
  if (!self->CountHeaderBytes(len)) return -1;
  for (size_t i = 0; i < len; ++i) {
    char c = at[i];
    self->field_ += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return 0;
}

int HttpRequestReader::OnHeaderValue(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<HttpRequestReader*>(p->data);
  self->in_value_ = true;
  if (!self->CountHeaderBytes(len)) return -1;
  self->value_.append(at, len);
  return 0;
}

int HttpRequestReader::OnHeadersComplete(http_parser* p) {
  auto* self = static_cast<HttpRequestReader*>(p->data);
  if (self->in_value_) self->request_.headers.emplace(self->field_, self->value_);
  if (p->content_length != ULLONG_MAX && p->content_length > self->limits_.max_body_bytes) {
    return self->Fail(413, "body too large");
  }
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(self->url_.data(), self->url_.size(), 0, &u) != 0) {
    return self->Fail(400, "bad request target");
  }
  if (u.field_set & (1 << UF_PATH)) {
    self->request_.path = self->url_.substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
  }
  if (u.field_set & (1 << UF_QUERY)) {
    self->request_.query =
        self->url_.substr(u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
  }
  self->request_.method = http_method_str(static_cast<http_method>(p->method));
  return 0;
}

int HttpRequestReader::OnBody(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<HttpRequestReader*>(p->data);
  if (self->request_.body.size() + len > self->limits_.max_body_bytes) {
    return self->Fail(413, "body too large");
  }
  self->request_.body.append(at, len);
  return 0;
}

int HttpRequestReader::OnMessageComplete(http_parser* p) {
  auto* self = static_cast<HttpRequestReader*>(p->data);
  self->status_ = Status::kRequest;
  return -1;  // stop parsing: one request per connection
}

}  // namespace policyd
