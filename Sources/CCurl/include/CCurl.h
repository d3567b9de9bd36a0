#ifndef CCURL_H
#define CCURL_H
#include <curl/curl.h>

/// Opens libcurl (the file EVENTFILTER_LIBCURL names, else libcurl.so.4) and finds every function
/// the program calls, once per process; NULL when it is ready, else why not, in one line. The
/// program is not linked against libcurl, so only SMTP delivery pays for loading it: call this
/// before any other curl function.
const char *ccurl_load(void);

/// Same shape as curl_debug_callback; the SMTP transport uses it to keep the server's last reply
/// line and the keywords of its EHLO reply while curl opens the connection.
typedef int (*ccurl_debug_cb)(CURL *handle, curl_infotype type, char *data, size_t size, void *userdata);

/// Swift cannot call the variadic curl_easy_setopt / curl_easy_getinfo; these typed
/// wrappers are the only C the SMTP transport needs.
CURLcode ccurl_set_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_set_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_set_pointer(CURL *handle, CURLoption option, void *pointer);
/// Sets CURLOPT_DEBUGFUNCTION and CURLOPT_DEBUGDATA; curl calls it only while CURLOPT_VERBOSE is 1.
CURLcode ccurl_set_debugfunction(CURL *handle, ccurl_debug_cb callback, void *userdata);
/// curl_multi_setopt for long-valued options (CURLMOPT_MAXCONNECTS, …).
CURLMcode ccurl_multi_set_long(CURLM *multi, CURLMoption option, long value);
CURLcode ccurl_get_long(CURL *handle, CURLINFO info, long *value);
CURLcode ccurl_get_double(CURL *handle, CURLINFO info, double *value);
/// CURLINFO_ACTIVESOCKET: the socket of the connection the handle opened (CURLOPT_CONNECT_ONLY)
/// while it is open, else CURL_SOCKET_BAD.
CURLcode ccurl_get_socket(CURL *handle, curl_socket_t *value);
/// The ASCII form of a mail domain that is not ASCII ("xn--bcher-kva.example" for
/// "b\u00fccher.example"), converted by libcurl's URL parser (CURLU_PUNYCODE) as libcurl
/// converted an envelope's domain; NULL when that libcurl cannot (older than 7.88, built without
/// IDN support) or refuses the name. The caller frees the result with free().
char *ccurl_idn_to_ascii(const char *domain);
#endif
