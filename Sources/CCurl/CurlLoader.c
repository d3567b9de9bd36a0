// libcurl, opened on first use rather than by the dynamic loader at start-up.
//
// Only SMTP delivery needs libcurl, and libcurl brings some thirty libraries of its own (TLS,
// Kerberos, LDAP, HTTP/2, ...): linked normally, every run of the program (a cron `run` with
// nothing to do, a `status`) spent most of its start-up relocating them. This file defines the
// curl functions the Swift code calls, with libcurl's own names and signatures (the header
// declares them, so the compiler checks each one), and each forwards to the real function,
// found with dlopen/dlsym the first time any of them runs. Call sites do not change.
//
// `ccurl_load()` opens the library and resolves every function at once, so a missing or too old
// libcurl is one clear message at the point of use (the SMTP transport's set-up) rather than a
// failure halfway through a delivery.
#define _GNU_SOURCE 1  // newlocale, uselocale
#define CURL_DISABLE_TYPECHECK 1
#include "CCurl.h"

#include <dlfcn.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Every libcurl function this file forwards, and the URL functions ccurl_idn_to_ascii calls
// directly; the pointer types come from the header's declarations.
#define CCURL_FUNCTIONS(X) \
    X(curl_global_init) X(curl_global_cleanup) X(curl_version) \
    X(curl_easy_init) X(curl_easy_cleanup) X(curl_easy_reset) X(curl_easy_perform) \
    X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_strerror) X(curl_easy_pause) \
    X(curl_easy_send) X(curl_easy_recv) \
    X(curl_url) X(curl_url_cleanup) X(curl_url_set) X(curl_url_get) X(curl_free) \
    X(curl_multi_init) X(curl_multi_cleanup) X(curl_multi_add_handle) X(curl_multi_remove_handle) \
    X(curl_multi_perform) X(curl_multi_poll) X(curl_multi_wait) X(curl_multi_wakeup) \
    X(curl_multi_timeout) X(curl_multi_info_read) X(curl_multi_setopt) X(curl_multi_strerror)

static struct {
#define CCURL_POINTER(name) __typeof__(&name) name;
    CCURL_FUNCTIONS(CCURL_POINTER)
#undef CCURL_POINTER
} real;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[512];  // empty once the library is loaded and every function found

static void load(void) {
    // EVENTFILTER_LIBCURL names another file (a libcurl built elsewhere); the default is the
    // runtime library's soname, which every distribution's libcurl package installs.
    const char *name = getenv("EVENTFILTER_LIBCURL");
    if (name == NULL || *name == '\0') name = "libcurl.so.4";
    void *library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(failure, sizeof failure, "SMTP delivery needs libcurl, which could not be loaded: %s", dlerror());
        return;
    }
#define CCURL_RESOLVE(function) \
    real.function = (__typeof__(real.function))dlsym(library, #function); \
    if (real.function == NULL) { \
        snprintf(failure, sizeof failure, "SMTP delivery needs libcurl 7.68 or later: %s has no %s", name, #function); \
        return; \
    }
    CCURL_FUNCTIONS(CCURL_RESOLVE)
#undef CCURL_RESOLVE
}

const char *ccurl_load(void) {
    pthread_once(&once, load);
    return failure[0] == '\0' ? NULL : failure;
}

// A forwarder runs only after the transport's set-up called ccurl_load() and got NULL; if code
// ever calls one without that, stopping with the reason beats jumping through a null pointer.
static void require(void) {
    const char *reason = ccurl_load();
    if (reason != NULL) {
        fprintf(stderr, "error: %s\n", reason);
        abort();
    }
}

CURLcode curl_global_init(long flags) { require(); return real.curl_global_init(flags); }
void curl_global_cleanup(void) { require(); real.curl_global_cleanup(); }
char *curl_version(void) { require(); return real.curl_version(); }

CURL *curl_easy_init(void) { require(); return real.curl_easy_init(); }
void curl_easy_cleanup(CURL *curl) { require(); real.curl_easy_cleanup(curl); }
void curl_easy_reset(CURL *curl) { require(); real.curl_easy_reset(curl); }
CURLcode curl_easy_perform(CURL *curl) { require(); return real.curl_easy_perform(curl); }
const char *curl_easy_strerror(CURLcode code) { require(); return real.curl_easy_strerror(code); }
CURLcode curl_easy_pause(CURL *curl, int bitmask) { require(); return real.curl_easy_pause(curl, bitmask); }
CURLcode curl_easy_send(CURL *curl, const void *buffer, size_t length, size_t *sent) {
    require();
    return real.curl_easy_send(curl, buffer, length, sent);
}
CURLcode curl_easy_recv(CURL *curl, void *buffer, size_t length, size_t *received) {
    require();
    return real.curl_easy_recv(curl, buffer, length, received);
}

// A mail domain in Unicode ("b\u00fccher.example") to its ASCII form ("xn--bcher-kva.example").
// When libcurl sent the envelope itself it converted the domain this way; now that the transport
// writes MAIL FROM and RCPT TO, it asks libcurl's URL parser for the host's punycode form
// (CURLU_PUNYCODE, libcurl 7.88), which goes through the same IDNA conversion with the same flags.
// That conversion reads the name in the locale's character set, and a program that never called
// setlocale runs in "C", where no byte above 127 converts (libcurl then sent the domain as UTF-8);
// so this thread reads UTF-8 for the one call, without touching the process's locale.
// NULL when libcurl is older, was built without IDN support, or refuses the name.
char *ccurl_idn_to_ascii(const char *domain) {
    if (ccurl_load() != NULL) return NULL;
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (utf8 == (locale_t)0) return NULL;
    CURLU *url = real.curl_url();
    if (url == NULL) {
        freelocale(utf8);
        return NULL;
    }
    char *host = NULL;
    char *copy = NULL;
    CURLUcode converted = CURLUE_OUT_OF_MEMORY;
    if (real.curl_url_set(url, CURLUPART_SCHEME, "smtp", 0) == CURLUE_OK &&
        real.curl_url_set(url, CURLUPART_HOST, domain, 0) == CURLUE_OK) {
        locale_t previous = uselocale(utf8);
        converted = real.curl_url_get(url, CURLUPART_HOST, &host, CURLU_PUNYCODE);
        uselocale(previous);
    }
    freelocale(utf8);
    if (converted == CURLUE_OK && host != NULL) {
        // A libcurl that does not know the flag hands the name back as it was: not an answer.
        int ascii = 1;
        for (const unsigned char *byte = (const unsigned char *)host; *byte != 0; byte++) {
            if (*byte >= 0x80) ascii = 0;
        }
        if (ascii) copy = strdup(host);
    }
    if (host != NULL) real.curl_free(host);
    real.curl_url_cleanup(url);
    return copy;
}

// The variadic setters take one argument whose type the option's number range names (libcurl
// reads it the same way): below 10000 a long, below 30000 a pointer (object or function), below
// 40000 a curl_off_t, above that a pointer again (a struct curl_blob).
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...) {
    require();
    va_list argument;
    va_start(argument, option);
    CURLcode result;
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        result = real.curl_easy_setopt(curl, option, va_arg(argument, long));
    } else if (option >= CURLOPTTYPE_OFF_T && option < CURLOPTTYPE_BLOB) {
        result = real.curl_easy_setopt(curl, option, va_arg(argument, curl_off_t));
    } else {
        result = real.curl_easy_setopt(curl, option, va_arg(argument, void *));
    }
    va_end(argument);
    return result;
}

// Every curl_easy_getinfo query takes one pointer, to where the answer goes.
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...) {
    require();
    va_list argument;
    va_start(argument, info);
    CURLcode result = real.curl_easy_getinfo(curl, info, va_arg(argument, void *));
    va_end(argument);
    return result;
}

CURLM *curl_multi_init(void) { require(); return real.curl_multi_init(); }
CURLMcode curl_multi_cleanup(CURLM *multi) { require(); return real.curl_multi_cleanup(multi); }
CURLMcode curl_multi_add_handle(CURLM *multi, CURL *curl) { require(); return real.curl_multi_add_handle(multi, curl); }
CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *curl) { require(); return real.curl_multi_remove_handle(multi, curl); }
CURLMcode curl_multi_perform(CURLM *multi, int *running) { require(); return real.curl_multi_perform(multi, running); }
CURLMcode curl_multi_poll(CURLM *multi, struct curl_waitfd extra_fds[], unsigned int extra_nfds, int timeout_ms, int *ret) {
    require();
    return real.curl_multi_poll(multi, extra_fds, extra_nfds, timeout_ms, ret);
}
CURLMcode curl_multi_wait(CURLM *multi, struct curl_waitfd extra_fds[], unsigned int extra_nfds, int timeout_ms, int *ret) {
    require();
    return real.curl_multi_wait(multi, extra_fds, extra_nfds, timeout_ms, ret);
}
CURLMcode curl_multi_wakeup(CURLM *multi) { require(); return real.curl_multi_wakeup(multi); }
CURLMcode curl_multi_timeout(CURLM *multi, long *milliseconds) { require(); return real.curl_multi_timeout(multi, milliseconds); }
CURLMsg *curl_multi_info_read(CURLM *multi, int *queued) { require(); return real.curl_multi_info_read(multi, queued); }
const char *curl_multi_strerror(CURLMcode code) { require(); return real.curl_multi_strerror(code); }

// The multi handle's options use the same number ranges as the easy handle's.
CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...) {
    require();
    va_list argument;
    va_start(argument, option);
    CURLMcode result;
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        result = real.curl_multi_setopt(multi, option, va_arg(argument, long));
    } else if (option >= CURLOPTTYPE_OFF_T && option < CURLOPTTYPE_BLOB) {
        result = real.curl_multi_setopt(multi, option, va_arg(argument, curl_off_t));
    } else {
        result = real.curl_multi_setopt(multi, option, va_arg(argument, void *));
    }
    va_end(argument);
    return result;
}
