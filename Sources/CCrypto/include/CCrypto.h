#ifndef CCRYPTO_H
#define CCRYPTO_H
// The system's libcrypto (OpenSSL 3): its headers declare every function the program calls.
// The program is not linked against it: CryptoLoader.c defines those functions and forwards each
// to the library, opened on first use.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/params.h>
#endif
