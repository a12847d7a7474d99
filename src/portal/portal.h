#pragma once

// The web portal of the admin listener: static files (HTML, CSS, JavaScript modules, an icon)
// written in src/portal/, compiled into the binary at build time, served at `/`, `/index.html`
// and `/assets/...`. The portal is a single-page application over the admin REST API
// (`/api/v1/...`, src/adminapi); nothing is fetched from anywhere else.
//
// Only the files of the embedded table are served, by exact path: there is no file system
// behind it, so no path (`/assets/../x`, `%2e%2e`, `//`) can reach anything else.
//
// Thread-safe: the table is immutable and ServeAsset does no I/O (call it on any thread).

#include <span>
#include <string_view>

#include "http/types.h"

namespace govesb::portal {

// One embedded file.
struct Asset {
  std::string_view path;  // as served: "/index.html", "/assets/app.js"
  std::string_view bytes;
  std::string_view etag;  // a quoted strong validator from the content's SHA-256
};

// Every embedded file (generated at build time from src/portal/index.html and assets/).
std::span<const Asset> EmbeddedAssets();

// The embedded file served at `path` ("/" is "/index.html"), or nullptr.
const Asset* FindAsset(std::string_view path);

// The Content-Type for a file name by its extension (application/octet-stream if unknown).
std::string_view ContentTypeFor(std::string_view path);

// The Content-Security-Policy of every portal answer: same-origin only, no inline script,
// never framed.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

// Answers GET and HEAD of an embedded file: 200 with its Content-Type, Cache-Control
// (no-store for the page; no-cache with an ETag for the assets, 304 on If-None-Match), the
// security headers; 404 for any other path, 405 (Allow: GET, HEAD) for any other method. HEAD
// gets the same answer as GET, body included: the HTTP server writes only its header, whose
// Content-Length is then the body's (http::HttpServer).

http::HttpResponse ServeAsset(const http::HttpRequest& request);

}  // namespace govesb::portal
