// A mail domain in Unicode ("bücher.example") to its ASCII form ("xn--bcher-kva.example"), with
// libidn2: the library libcurl itself uses for that, opened the first time a non-ASCII domain
// needs it. When libcurl sent the envelope it converted the domain this way; now that the
// transport writes MAIL FROM and RCPT TO itself, it asks the same library, with the same flags.
// The header is not needed (nor installed everywhere): the two functions are declared here with
// libidn2's signatures.
#include "CCurl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int (*idn2_lookup_u8_fn)(const uint8_t *src, uint8_t **lookupname, int flags);
typedef void (*idn2_free_fn)(void *pointer);

enum { IDN2_NFC_INPUT = 1, IDN2_TRANSITIONAL = 4, IDN2_NONTRANSITIONAL = 8, IDN2_OK = 0 };

static idn2_lookup_u8_fn lookup;
static idn2_free_fn release;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *library = dlopen("libidn2.so.0", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) return;
    lookup = (idn2_lookup_u8_fn)dlsym(library, "idn2_lookup_u8");
    release = (idn2_free_fn)dlsym(library, "idn2_free");
    if (lookup == NULL || release == NULL) lookup = NULL;
}

char *ccurl_idn_to_ascii(const char *domain) {
    pthread_once(&once, load);
    if (lookup == NULL) return NULL;
    uint8_t *ascii = NULL;
    // libcurl's choice: UTS #46 non-transitional, then transitional for names only that allows.
    int result = lookup((const uint8_t *)domain, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (result != IDN2_OK) {
        ascii = NULL;
        result = lookup((const uint8_t *)domain, &ascii, IDN2_TRANSITIONAL);
    }
    if (result != IDN2_OK || ascii == NULL) return NULL;
    char *copy = strdup((const char *)ascii);
    release(ascii);
    return copy;
}
