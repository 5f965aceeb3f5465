#pragma once
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
// wrapper per argument kind. Only Sources/PTInspectCore/Remote/Curl.swift uses these.
typedef size_t (*ptinspect_curl_write_fn)(char *, size_t, size_t, void *);

static inline CURLcode ptinspect_curl_set_long(CURL *c, CURLoption o, long v) {
  return curl_easy_setopt(c, o, v);
}
static inline CURLcode ptinspect_curl_set_string(CURL *c, CURLoption o, const char *v) {
  return curl_easy_setopt(c, o, v);
}
static inline CURLcode ptinspect_curl_set_pointer(CURL *c, CURLoption o, void *v) {
  return curl_easy_setopt(c, o, v);
}
static inline CURLcode ptinspect_curl_set_write(CURL *c, CURLoption o, ptinspect_curl_write_fn f) {
  return curl_easy_setopt(c, o, f);
}
static inline CURLcode ptinspect_curl_get_long(CURL *c, CURLINFO i, long *v) {
  return curl_easy_getinfo(c, i, v);
}
static inline CURLcode ptinspect_curl_get_string(CURL *c, CURLINFO i, char **v) {
  return curl_easy_getinfo(c, i, v);
}
