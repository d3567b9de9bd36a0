#define _GNU_SOURCE
#include <unistd.h>
#include "CPosix.h"

int cposix_syncfs(int fd) { return syncfs(fd); }
