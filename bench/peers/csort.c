/* csort.c -- single-threaded sort of 100-byte records, the lower bound for W4.
 *
 *   csort IN OUTDIR
 *
 * Reads IN whole, sorts pointers to its 100-byte records with qsort (memcmp
 * of the whole record: key first, ties by payload, so every engine's order
 * is the same), writes OUTDIR/part-00000.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REC 100

static int cmp(const void *a, const void *b)
{
    return memcmp(*(const char *const *)a, *(const char *const *)b, REC);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: csort IN OUTDIR\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    struct stat st;
    fstat(fileno(f), &st);
    size_t size = (size_t)st.st_size, n = size / REC;
    if (size % REC) {
        fprintf(stderr, "csort: %s is not a whole number of %d-byte records\n",
                argv[1], REC);
        return 1;
    }
    char *data = malloc(size ? size : 1);
    if (fread(data, 1, size, f) != size) {
        perror("read");
        return 1;
    }
    fclose(f);
    char **p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = data + i * REC;
    qsort(p, n, sizeof *p, cmp);
    mkdir(argv[2], 0777);
    char path[4096];
    snprintf(path, sizeof path, "%s/part-00000", argv[2]);
    FILE *o = fopen(path, "wb");
    if (!o) {
        perror(path);
        return 1;
    }
    static char buf[1 << 22];
    setvbuf(o, buf, _IOFBF, sizeof buf);
    for (size_t i = 0; i < n; i++)
        fwrite(p[i], 1, REC, o);
    if (fclose(o)) {
        perror(path);
        return 1;
    }
    return 0;
}
