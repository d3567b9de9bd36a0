// libcrypto, opened on first use rather than by the dynamic loader at start-up.
//
// Only webhook signatures, message ids, tokens and the settings pages need libcrypto, and it is
// a large library (some 17,000 relocations of its own and 4,000 symbols to bind): linked
// normally, every process, a cron `run` with nothing to do among them, spent about half a
// millisecond and 130 page faults loading it without calling it once. This file defines the
// libcrypto functions the Swift code calls, with OpenSSL's own names and signatures (the
// header declares them, so the compiler checks each one), and each forwards to the real
// function, found with dlopen/dlsym the first time any of them runs. Call sites do not change.
//
// Unlike libcurl's loader there is no "load" call for a caller to check first: libcrypto is a
// dependency of the whole program (as it was when linked), so a missing library ends the process
// with one line naming it and exit status 1 where it is first needed, before the call that needed
// it: an open transaction is then never committed.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "CCrypto.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

// Every libcrypto function this file forwards; the pointer types come from the header's declarations.
#define CCRYPTO_FUNCTIONS(X) \
    X(EVP_Digest) X(EVP_md5) X(EVP_sha1) X(EVP_sha256) X(EVP_sha512) X(HMAC) X(CRYPTO_memcmp) X(RAND_bytes) \
    X(EVP_MAC_fetch) X(EVP_MAC_free) X(EVP_MAC_CTX_new) X(EVP_MAC_CTX_free) \
    X(EVP_MAC_init) X(EVP_MAC_update) X(EVP_MAC_final) \
    X(OSSL_PARAM_construct_utf8_string) X(OSSL_PARAM_construct_end)

static struct {
#define CCRYPTO_POINTER(name) __typeof__(&name) name;
    CCRYPTO_FUNCTIONS(CCRYPTO_POINTER)
#undef CCRYPTO_POINTER
} real;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[512];  // empty once the library is loaded and every function found

static void load(void) {
    // EVENTFILTER_LIBCRYPTO names another file; the default is OpenSSL 3's runtime soname.
    const char *name = getenv("EVENTFILTER_LIBCRYPTO");
    if (name == NULL || *name == '\0') name = "libcrypto.so.3";
    void *library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(failure, sizeof failure, "libcrypto (OpenSSL 3) could not be loaded: %s", dlerror());
        return;
    }
#define CCRYPTO_RESOLVE(function) \
    real.function = (__typeof__(real.function))dlsym(library, #function); \
    if (real.function == NULL) { \
        snprintf(failure, sizeof failure, "libcrypto at %s is not OpenSSL 3: it has no %s", name, #function); \
        return; \
    }
    CCRYPTO_FUNCTIONS(CCRYPTO_RESOLVE)
#undef CCRYPTO_RESOLVE
}

// Loads the library once per process; on failure prints the reason on one line and ends the
// process (a signal would only add a crash report to the line).
static void require(void) {
    pthread_once(&once, load);
    if (failure[0] != '\0') {
        fprintf(stderr, "eventfilter: %s\n", failure);
        fflush(stderr);
        _exit(1);
    }
}

int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size, const EVP_MD *type, ENGINE *impl) {
    require();
    return real.EVP_Digest(data, count, md, size, type, impl);
}
const EVP_MD *EVP_md5(void) { require(); return real.EVP_md5(); }
const EVP_MD *EVP_sha1(void) { require(); return real.EVP_sha1(); }
const EVP_MD *EVP_sha256(void) { require(); return real.EVP_sha256(); }
const EVP_MD *EVP_sha512(void) { require(); return real.EVP_sha512(); }
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len, const unsigned char *data, size_t data_len,
                    unsigned char *md, unsigned int *md_len) {
    require();
    return real.HMAC(evp_md, key, key_len, data, data_len, md, md_len);
}
int CRYPTO_memcmp(const void *a, const void *b, size_t len) { require(); return real.CRYPTO_memcmp(a, b, len); }
int RAND_bytes(unsigned char *buf, int num) { require(); return real.RAND_bytes(buf, num); }

EVP_MAC *EVP_MAC_fetch(OSSL_LIB_CTX *libctx, const char *algorithm, const char *properties) {
    require();
    return real.EVP_MAC_fetch(libctx, algorithm, properties);
}
void EVP_MAC_free(EVP_MAC *mac) { require(); real.EVP_MAC_free(mac); }
EVP_MAC_CTX *EVP_MAC_CTX_new(EVP_MAC *mac) { require(); return real.EVP_MAC_CTX_new(mac); }
void EVP_MAC_CTX_free(EVP_MAC_CTX *ctx) { require(); real.EVP_MAC_CTX_free(ctx); }
int EVP_MAC_init(EVP_MAC_CTX *ctx, const unsigned char *key, size_t keylen, const OSSL_PARAM params[]) {
    require();
    return real.EVP_MAC_init(ctx, key, keylen, params);
}
int EVP_MAC_update(EVP_MAC_CTX *ctx, const unsigned char *data, size_t datalen) {
    require();
    return real.EVP_MAC_update(ctx, data, datalen);
}
int EVP_MAC_final(EVP_MAC_CTX *ctx, unsigned char *out, size_t *outl, size_t outsize) {
    require();
    return real.EVP_MAC_final(ctx, out, outl, outsize);
}
OSSL_PARAM OSSL_PARAM_construct_utf8_string(const char *key, char *buf, size_t bsize) {
    require();
    return real.OSSL_PARAM_construct_utf8_string(key, buf, bsize);
}
OSSL_PARAM OSSL_PARAM_construct_end(void) { require(); return real.OSSL_PARAM_construct_end(); }
