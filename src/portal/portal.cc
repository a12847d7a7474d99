#include "portal/portal.h"

#include <string>

namespace govesb::portal {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void AddSecurityHeaders(http::HttpResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
}

http::HttpResponse Plain(int status, std::string_view text) {
  http::HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::string(text);
  r.headers.emplace_back("Cache-Control", "no-store");
  AddSecurityHeaders(r);
  return r;
}

// True when the If-None-Match header lists `etag` (or is "*").
bool Matches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    size_t comma = if_none_match.find(',');
    std::string_view item = if_none_match.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == etag || item == "*") return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string_view ContentTypeFor(std::string_view path) {
  if (EndsWith(path, ".html")) return "text/html; charset=utf-8";
  if (EndsWith(path, ".js")) return "text/javascript; charset=utf-8";
  if (EndsWith(path, ".css")) return "text/css; charset=utf-8";
  if (EndsWith(path, ".json")) return "application/json";
  if (EndsWith(path, ".svg")) return "image/svg+xml";
  if (EndsWith(path, ".png")) return "image/png";
  return "application/octet-stream";
}

const Asset* FindAsset(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (const Asset& asset : EmbeddedAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

http::HttpResponse ServeAsset(const http::HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    http::HttpResponse r = Plain(405, "method not allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  const Asset* asset = FindAsset(request.Path());
  if (asset == nullptr) return Plain(404, "not found\n");

  http::HttpResponse r;
  r.content_type = std::string(ContentTypeFor(asset->path));
  const bool page = asset->path == "/index.html";
  // The page is never cached, so a new binary's page is always the one loaded; the assets are
  // revalidated on each load (a cheap 304) since their names carry no fingerprint.
  r.headers.emplace_back("Cache-Control", page ? "no-store" : "no-cache");
  if (!page) r.headers.emplace_back("ETag", std::string(asset->etag));
  AddSecurityHeaders(r);
  if (!page && Matches(request.Header("if-none-match"), asset->etag)) {
    r.status = 304;
    return r;
  }
  // HEAD is answered as GET: the server (src/http) sends the header alone, with the
  // Content-Length of this body.
  r.body = std::string(asset->bytes);
  return r;
}

}  // namespace govesb::portal
