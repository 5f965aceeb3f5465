// shim.h: libcurl for Sources/PTInspectCore/Remote/Curl.swift, the only Swift file that imports
// CCurl. libcurl is loaded with dlopen on the first remote request, not linked (the module links
// nothing): a run that reads no remote file never maps libcurl and the two dozen libraries it
// brings (TLS, Kerberos, LDAP, HTTP/2, IDN), which cost every start about 4.7 MB of memory and
// 10 M instructions in the dynamic loader. Only the declarations come from <curl/curl.h>. The
// functions are static inline, so each object file that calls them holds its own copy of the
// table; a second copy would only load libcurl a second time (dlopen and curl_global_init count
// their calls).
#pragma once
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

typedef size_t (*ptinspect_curl_write_fn)(char *, size_t, size_t, void *);

struct ptinspect_curl_api {
  CURLcode (*global_init)(long);
  CURL *(*easy_init)(void);
  void (*easy_reset)(CURL *);
  void (*easy_cleanup)(CURL *);
  CURLcode (*easy_perform)(CURL *);
  const char *(*easy_strerror)(CURLcode);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
  const char *failure;
  char message[512];
};

static inline struct ptinspect_curl_api *ptinspect_curl_api(void) {
  static struct ptinspect_curl_api api;
  return &api;
}

static inline void ptinspect_curl_load_once(void) {
  struct ptinspect_curl_api *api = ptinspect_curl_api();
  // The names libcurl 7 and 8 go by: Debian/Ubuntu's OpenSSL and GnuTLS builds, then macOS.
  static const char *const names[] = {
      "libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so", "libcurl.4.dylib", "libcurl.dylib",
  };
  void *library = NULL;
  for (size_t i = 0; i < sizeof names / sizeof names[0] && library == NULL; i++) {
    library = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (library == NULL && i == 0) {
      const char *why = dlerror();
      snprintf(api->message, sizeof api->message,
               "libcurl cannot be loaded, and remote paths need it (Debian/Ubuntu: apt install "
               "libcurl4): %s",
               why != NULL ? why : "not found");
    }
  }
  if (library == NULL) {
    api->failure = api->message;
    return;
  }
#define PTINSPECT_CURL_FIND(field, name)                                              \
  if ((*(void **)&api->field = dlsym(library, name)) == NULL) {                       \
    snprintf(api->message, sizeof api->message, "libcurl cannot be used: it has no %s", \
             name);                                                                   \
    api->failure = api->message;                                                      \
    return;                                                                           \
  }
  PTINSPECT_CURL_FIND(global_init, "curl_global_init")
  PTINSPECT_CURL_FIND(easy_init, "curl_easy_init")
  PTINSPECT_CURL_FIND(easy_reset, "curl_easy_reset")
  PTINSPECT_CURL_FIND(easy_cleanup, "curl_easy_cleanup")
  PTINSPECT_CURL_FIND(easy_perform, "curl_easy_perform")
  PTINSPECT_CURL_FIND(easy_strerror, "curl_easy_strerror")
  PTINSPECT_CURL_FIND(easy_setopt, "curl_easy_setopt")
  PTINSPECT_CURL_FIND(easy_getinfo, "curl_easy_getinfo")
  PTINSPECT_CURL_FIND(slist_append, "curl_slist_append")
  PTINSPECT_CURL_FIND(slist_free_all, "curl_slist_free_all")
#undef PTINSPECT_CURL_FIND
  if (api->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    api->failure = "libcurl cannot be used: curl_global_init failed";
  }
}

/// Loads libcurl and runs curl_global_init, once; NULL when that worked, else why not (a
/// message that stays valid). Every other function here needs it to have returned NULL.
static inline const char *ptinspect_curl_load(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, ptinspect_curl_load_once);
  return ptinspect_curl_api()->failure;
}

static inline CURL *ptinspect_curl_easy_init(void) { return ptinspect_curl_api()->easy_init(); }
static inline void ptinspect_curl_easy_reset(CURL *c) { ptinspect_curl_api()->easy_reset(c); }
static inline void ptinspect_curl_easy_cleanup(CURL *c) { ptinspect_curl_api()->easy_cleanup(c); }
static inline CURLcode ptinspect_curl_easy_perform(CURL *c) {
  return ptinspect_curl_api()->easy_perform(c);
}
static inline const char *ptinspect_curl_easy_strerror(CURLcode code) {
  return ptinspect_curl_api()->easy_strerror(code);
}
static inline struct curl_slist *ptinspect_curl_slist_append(struct curl_slist *list,
                                                             const char *string) {
  return ptinspect_curl_api()->slist_append(list, string);
}
static inline void ptinspect_curl_slist_free_all(struct curl_slist *list) {
  ptinspect_curl_api()->slist_free_all(list);
}

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
// wrapper per argument kind.
static inline CURLcode ptinspect_curl_set_long(CURL *c, CURLoption o, long v) {
  return ptinspect_curl_api()->easy_setopt(c, o, v);
}
static inline CURLcode ptinspect_curl_set_string(CURL *c, CURLoption o, const char *v) {
  return ptinspect_curl_api()->easy_setopt(c, o, v);
}
static inline CURLcode ptinspect_curl_set_pointer(CURL *c, CURLoption o, void *v) {
  return ptinspect_curl_api()->easy_setopt(c, o, v);
}
static inline CURLcode ptinspect_curl_set_write(CURL *c, CURLoption o, ptinspect_curl_write_fn f) {
  return ptinspect_curl_api()->easy_setopt(c, o, f);
}
static inline CURLcode ptinspect_curl_get_long(CURL *c, CURLINFO i, long *v) {
  return ptinspect_curl_api()->easy_getinfo(c, i, v);
}
static inline CURLcode ptinspect_curl_get_string(CURL *c, CURLINFO i, char **v) {
  return ptinspect_curl_api()->easy_getinfo(c, i, v);
}
