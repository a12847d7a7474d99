#include "portal/portal.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace govesb::portal {
namespace {

http::HttpRequest Get(std::string target, std::string method = "GET") {
  http::HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  return r;
}

std::string HeaderOf(const http::HttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

void ExpectSecurityHeaders(const http::HttpResponse& r) {
  EXPECT_EQ(HeaderOf(r, "Content-Security-Policy"), kContentSecurityPolicy);
  EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(HeaderOf(r, "Referrer-Policy"), "no-referrer");
}

TEST(Portal, ThePageAtTheRootAndAtIndexHtml) {
  for (const char* path : {"/", "/index.html", "/?lang=sw"}) {
    SCOPED_TRACE(path);
    http::HttpResponse r = ServeAsset(Get(path));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
    EXPECT_NE(r.body.find("<!doctype html>"), std::string::npos);
    EXPECT_NE(r.body.find("/assets/app.js"), std::string::npos);
    ExpectSecurityHeaders(r);
  }
}

TEST(Portal, ThePolicyForbidsInlineScriptAndFraming) {
  EXPECT_NE(kContentSecurityPolicy.find("default-src 'self'"), std::string_view::npos);
  EXPECT_NE(kContentSecurityPolicy.find("frame-ancestors 'none'"), std::string_view::npos);
  EXPECT_EQ(kContentSecurityPolicy.find("unsafe-inline"), std::string_view::npos);
  EXPECT_EQ(kContentSecurityPolicy.find("unsafe-eval"), std::string_view::npos);
}

TEST(Portal, AssetsWithTheirContentTypesAndValidators) {
  struct Case {
    const char* path;
    const char* type;
  };
  for (const Case& c : {Case{"/assets/app.js", "text/javascript; charset=utf-8"},
                        Case{"/assets/portal.css", "text/css; charset=utf-8"},
                        Case{"/assets/i18n/sw.js", "text/javascript; charset=utf-8"},
                        Case{"/assets/icon.svg", "image/svg+xml"}}) {
    SCOPED_TRACE(c.path);
    http::HttpResponse r = ServeAsset(Get(c.path));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, c.type);
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-cache");
    EXPECT_EQ(r.body, FindAsset(c.path)->bytes);
    std::string etag = HeaderOf(r, "ETag");
    ASSERT_GE(etag.size(), 3u);
    EXPECT_EQ(etag.front(), '"');
    ExpectSecurityHeaders(r);

    http::HttpRequest again = Get(c.path);
    again.headers.emplace_back("if-none-match", "\"other\", " + etag);
    http::HttpResponse not_modified = ServeAsset(again);
    EXPECT_EQ(not_modified.status, 304);
    EXPECT_TRUE(not_modified.body.empty());
  }
}

TEST(Portal, EveryEmbeddedFileIsServedWithAKnownType) {
  std::set<std::string_view> etags;
  ASSERT_GE(EmbeddedAssets().size(), 5u);
  for (const Asset& a : EmbeddedAssets()) {
    SCOPED_TRACE(std::string(a.path));
    EXPECT_NE(ContentTypeFor(a.path), "application/octet-stream");
    EXPECT_FALSE(a.bytes.empty());
    EXPECT_TRUE(etags.insert(a.etag).second) << "two files with one ETag";
    EXPECT_EQ(ServeAsset(Get(std::string(a.path))).status, 200);
  }
}

// HEAD gets what GET gets: the server writes its header alone, and the Content-Length it
// computes from the body must be the GET's (not 0, as when HEAD was answered with no body).
TEST(Portal, HeadIsAnsweredAsGetSoItsContentLengthIsTheGets) {
  for (const char* path : {"/", "/index.html", "/assets/app.js", "/assets/portal.css",
                           "/assets/icon.svg", "/assets/no-such-file.js"}) {
    SCOPED_TRACE(path);
    http::HttpResponse get = ServeAsset(Get(path));
    http::HttpResponse head = ServeAsset(Get(path, "HEAD"));
    EXPECT_EQ(head.status, get.status);
    EXPECT_EQ(head.content_type, get.content_type);
    EXPECT_EQ(head.headers, get.headers);
    EXPECT_EQ(head.body.size(), get.body.size());
    EXPECT_FALSE(head.body.empty());
    ExpectSecurityHeaders(head);
  }
  http::HttpResponse script = ServeAsset(Get("/assets/app.js", "HEAD"));
  EXPECT_EQ(script.body.size(), FindAsset("/assets/app.js")->bytes.size());
}

TEST(Portal, OtherMethodsAre405) {
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    http::HttpResponse r = ServeAsset(Get("/index.html", method));
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(HeaderOf(r, "Allow"), "GET, HEAD");
  }
}

TEST(Portal, AnythingElseIs404EvenTraversal) {
  for (const char* path : {"/assets/../index.html",
                           "/assets/../../etc/passwd",
                           "/assets/%2e%2e/index.html",
                           "/assets/%2E%2E%2Fportal.cc",
                           "/assets/..%2fportal.cc",
                           "//assets/app.js",
                           "/assets//app.js",
                           "/assets/app.js/",
                           "/assets/./app.js",
                           "/assets/",
                           "/assets",
                           "/portal.cc",
                           "/CMakeLists.txt",
                           "/index.htm",
                           "/INDEX.HTML",
                           "/assets/app.js%00",
                           "/favicon.ico",
                           "/assets/pages",
                           "\\assets\\app.js",
                           ""}) {
    SCOPED_TRACE(path);
    http::HttpResponse r = ServeAsset(Get(path));
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
    EXPECT_EQ(r.body.find("<"), std::string::npos);
    ExpectSecurityHeaders(r);
  }
}

// Plain scanning (no std::regex: GCC 12 warns falsely inside it under the sanitizers).
std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Every absolute http(s) URL in `text`, up to a space, quote, bracket or parenthesis.
std::vector<std::string> Urls(const std::string& lower) {
  std::vector<std::string> out;
  for (size_t at = lower.find("http"); at != std::string::npos; at = lower.find("http", at + 1)) {
    size_t rest = at + 4;
    if (rest < lower.size() && lower[rest] == 's') ++rest;
    if (lower.compare(rest, 3, "://") != 0) continue;
    size_t end = lower.find_first_of(" \t\r\n\"'`)<>", rest);
    out.push_back(lower.substr(at, end == std::string::npos ? std::string::npos : end - at));
  }
  return out;
}

size_t SkipSpaces(const std::string& s, size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

// src= / href= / action= whose quoted value starts with "//" (protocol-relative: external).
bool HasProtocolRelativeReference(const std::string& lower) {
  for (std::string_view attribute : {"src", "href", "action"}) {
    for (size_t at = lower.find(attribute); at != std::string::npos;
         at = lower.find(attribute, at + 1)) {
      size_t i = SkipSpaces(lower, at + attribute.size());
      if (i >= lower.size() || lower[i] != '=') continue;
      i = SkipSpaces(lower, i + 1);
      if (i < lower.size() && (lower[i] == '"' || lower[i] == '\'')) ++i;
      if (lower.compare(i, 2, "//") == 0) return true;
    }
  }
  return false;
}

// Nothing is fetched from anywhere else at run time: no file names an external URL. The one
// allowed absolute URL is the SVG namespace name, which is an identifier, never fetched.
TEST(Portal, NoAssetReferencesAnExternalUrl) {
  for (const Asset& a : EmbeddedAssets()) {
    const std::string text = Lower(a.bytes);
    for (const std::string& url : Urls(text)) {
      EXPECT_EQ(url, "http://www.w3.org/2000/svg") << a.path;
    }
    EXPECT_FALSE(HasProtocolRelativeReference(text)) << a.path;
    EXPECT_EQ(text.find("@import"), std::string::npos) << a.path;
  }
  // The scanners find what they look for.
  EXPECT_EQ(Urls(Lower("<script src=\"https://cdn.example/x.js\">")).size(), 1u);
  EXPECT_TRUE(HasProtocolRelativeReference(Lower("<img src = '//cdn.example/x.png'>")));
}

// Each <script> tag of an HTML text loads a file (has src=).
bool HasInlineScript(const std::string& lower) {
  for (size_t at = lower.find("<script"); at != std::string::npos;
       at = lower.find("<script", at + 1)) {
    size_t end = lower.find('>', at);
    if (lower.substr(at, end == std::string::npos ? std::string::npos : end - at).find("src=") ==
        std::string::npos) {
      return true;
    }
  }
  return false;
}

// An inline event handler: whitespace, "on", letters, optional spaces, '='.
bool HasInlineHandler(const std::string& lower) {
  for (size_t i = 0; i + 3 < lower.size(); ++i) {
    if (!std::isspace(static_cast<unsigned char>(lower[i])) || lower.compare(i + 1, 2, "on") != 0) {
      continue;
    }
    size_t j = i + 3;
    while (j < lower.size() && lower[j] >= 'a' && lower[j] <= 'z') ++j;
    if (j == i + 3) continue;
    j = SkipSpaces(lower, j);
    if (j < lower.size() && lower[j] == '=') return true;
  }
  return false;
}

// No inline script (the policy would block it) and no inline event handlers.
TEST(Portal, ThePageHasNoInlineScript) {
  EXPECT_FALSE(HasInlineScript(Lower(FindAsset("/index.html")->bytes)));
  for (const Asset& a : EmbeddedAssets()) {
    if (a.path.ends_with(".html")) {
      EXPECT_FALSE(HasInlineHandler(Lower(a.bytes))) << a.path;
    }
  }
  EXPECT_TRUE(HasInlineScript(Lower("<script>alert(1)</script>")));
  EXPECT_TRUE(HasInlineHandler(Lower("<button onclick = \"x()\">")));
}

}  // namespace
}  // namespace govesb::portal
