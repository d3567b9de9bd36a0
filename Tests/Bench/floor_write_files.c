/* The file-writing floor of Tests/Bench/stage_immediate.sh: writes the same messages the file
 * transport wrote, the way it must write them (each to <id>.eml.tmp, then renamed to <id>.eml,
 * so a reader never sees half a message; one syncfs per 500 files and at the end).
 *
 *   floor_write_files SOURCE_DIR TARGET_DIR   prints the wall seconds spent writing, renaming and
 *                                             syncing, then the CPU seconds (user + system) of
 *                                             the same, then the system (kernel) share of those
 *                                             (reading the sources is not counted)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "floor_clock.h"

static int by_id(const void *a, const void *b) {
    long x = atol(*(char *const *)a), y = atol(*(char *const *)b);
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s SOURCE_DIR TARGET_DIR\n", argv[0]); return 2; }
    DIR *dir = opendir(argv[1]);
    if (!dir) { perror(argv[1]); return 1; }
    size_t count = 0, capacity = 1024;
    char **names = malloc(capacity * sizeof *names);
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        size_t length = strlen(entry->d_name);
        if (length < 5 || strcmp(entry->d_name + length - 4, ".eml") != 0) continue;
        if (count == capacity) names = realloc(names, (capacity *= 2) * sizeof *names);
        names[count++] = strdup(entry->d_name);
    }
    closedir(dir);
    qsort(names, count, sizeof *names, by_id);
    int target = open(argv[2], O_RDONLY | O_DIRECTORY);
    if (target < 0) { perror(argv[2]); return 1; }
    char source[4096], path[4096], temporary[4096];
    size_t bufferSize = 1 << 20;
    char *buffer = malloc(bufferSize);
    double spent = 0, spentUser = 0, spentSystem = 0, startUser, startSystem, endUser, endSystem;
    for (size_t i = 0; i < count; i++) {
        snprintf(source, sizeof source, "%s/%s", argv[1], names[i]);
        int in = open(source, O_RDONLY);
        if (in < 0) { perror(source); return 1; }
        size_t size = 0;
        ssize_t got;
        while ((got = read(in, buffer + size, bufferSize - size)) > 0) {
            size += got;
            if (size == bufferSize) buffer = realloc(buffer, bufferSize *= 2);
        }
        close(in);
        double start = now();
        cpu_times(&startUser, &startSystem);
        snprintf(path, sizeof path, "%s/%s", argv[2], names[i]);
        snprintf(temporary, sizeof temporary, "%s.tmp", path);
        int out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out < 0) { perror(temporary); return 1; }
        for (size_t done = 0; done < size;) {
            ssize_t wrote = write(out, buffer + done, size - done);
            if (wrote < 0) { if (errno == EINTR) continue; perror(temporary); return 1; }
            done += wrote;
        }
        close(out);
        if (rename(temporary, path) != 0) { perror(path); return 1; }
        if ((i + 1) % 500 == 0 || i + 1 == count) syncfs(target);
        spent += now() - start;
        cpu_times(&endUser, &endSystem);
        spentUser += endUser - startUser;
        spentSystem += endSystem - startSystem;
    }
    printf("%.3f %.3f %.3f\n", spent, spentUser + spentSystem, spentSystem);
    fprintf(stderr, "floor_write_files: %zu files\n", count);
    return 0;
}
