#include "portal/portal.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

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

TEST(Portal, HeadHasTheHeadersAndNoBody) {
  http::HttpResponse r = ServeAsset(Get("/assets/app.js", "HEAD"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
  EXPECT_TRUE(r.body.empty());
  ExpectSecurityHeaders(r);
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

// Nothing is fetched from anywhere else at run time: no file names an external URL. The one
// allowed absolute URL is the SVG namespace name, which is an identifier, never fetched.
TEST(Portal, NoAssetReferencesAnExternalUrl) {
  const std::regex url(R"(https?://[^\s"'`)<>]*)", std::regex::icase);
  for (const Asset& a : EmbeddedAssets()) {
    std::string text(a.bytes);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), url);
         it != std::sregex_iterator(); ++it) {
      EXPECT_EQ(it->str(), "http://www.w3.org/2000/svg") << a.path;
    }
    // Protocol-relative references (src="//host/...") are external too.
    const std::regex relative(R"((src|href|action)\s*=\s*["']//)", std::regex::icase);
    EXPECT_FALSE(std::regex_search(text, relative)) << a.path;
    EXPECT_EQ(text.find("@import"), std::string::npos) << a.path;
  }
}

// No inline script (the policy would block it) and no inline event handlers.
TEST(Portal, ThePageHasNoInlineScript) {
  std::string page(FindAsset("/index.html")->bytes);
  const std::regex inline_script(R"(<script(?![^>]*\bsrc=)[^>]*>)", std::regex::icase);
  EXPECT_FALSE(std::regex_search(page, inline_script));
  const std::regex handler(R"(\son[a-z]+\s*=)", std::regex::icase);
  for (const Asset& a : EmbeddedAssets()) {
    if (a.path.ends_with(".html")) {
      EXPECT_FALSE(std::regex_search(std::string(a.bytes), handler)) << a.path;
    }
  }
}

}  // namespace
}  // namespace govesb::portal
