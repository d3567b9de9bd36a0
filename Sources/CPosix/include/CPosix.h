#ifndef CPOSIX_H
#define CPOSIX_H
/// Linux calls that glibc only declares under _GNU_SOURCE, which Swift's Glibc module does not set.
int cposix_syncfs(int fd);
#endif
