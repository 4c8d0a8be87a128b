/* wc.c -- single-threaded word count, the lower bound for W1.
 *
 *   wc FILE [TOP]
 *
 * Words are runs of ASCII letters (case kept: the corpus is lowercase).
 * Reads in 16 MiB chunks, counts in an open-addressing hash table (FNV-1a,
 * linear probing, words in an arena), then prints the normalized answer:
 *   R distinct N
 *   R COUNT WORD      (TOP lines, count descending, then word ascending)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash;
    uint32_t off, len;
    uint64_t count;
} slot;

static slot *tab;
static size_t cap = 1 << 20, used;
static char *arena;
static size_t alen, acap = 1 << 24;

static int isletter(unsigned c)
{
    return (c | 32) - 'a' < 26;
}

static void grow(void)
{
    size_t ncap = cap * 2;
    slot *n = calloc(ncap, sizeof *n);
    for (size_t i = 0; i < cap; i++)
        if (tab[i].count) {
            size_t p = tab[i].hash & (ncap - 1);
            while (n[p].count)
                p = (p + 1) & (ncap - 1);
            n[p] = tab[i];
        }
    free(tab);
    tab = n;
    cap = ncap;
}

static void add(const char *w, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)w[i]) * 1099511628211ULL;
    size_t p = h & (cap - 1);
    while (tab[p].count) {
        if (tab[p].hash == h && tab[p].len == len &&
            memcmp(arena + tab[p].off, w, len) == 0) {
            tab[p].count++;
            return;
        }
        p = (p + 1) & (cap - 1);
    }
    if (alen + len > acap) {
        acap *= 2;
        arena = realloc(arena, acap);
    }
    memcpy(arena + alen, w, len);
    tab[p] = (slot){h, (uint32_t)alen, (uint32_t)len, 1};
    alen += len;
    if (++used * 2 > cap)
        grow();
}

static int cmp(const void *a, const void *b)
{
    const slot *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(arena + x->off, arena + y->off, n);
    if (c)
        return c;
    return (int)x->len - (int)y->len;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: wc FILE [TOP]\n");
        return 2;
    }
    int top = argc > 2 ? atoi(argv[2]) : 20;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    tab = calloc(cap, sizeof *tab);
    arena = malloc(acap);
    size_t bcap = 1 << 24;
    char *buf = malloc(bcap + 256);
    size_t carry = 0, n;
    while ((n = fread(buf + carry, 1, bcap - carry, f)) > 0 || carry) {
        size_t end = carry + n, i = 0, start;
        int eof = n == 0;
        while (i < end) {
            while (i < end && !isletter((unsigned char)buf[i]))
                i++;
            start = i;
            while (i < end && isletter((unsigned char)buf[i]))
                i++;
            if (i == end && !eof && start < end) { /* word may continue */
                carry = end - start;
                memmove(buf, buf + start, carry);
                goto next;
            }
            if (i > start)
                add(buf + start, i - start);
        }
        carry = 0;
        if (eof)
            break;
    next:;
    }
    fclose(f);
    slot *all = malloc(used * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < cap; i++)
        if (tab[i].count)
            all[k++] = tab[i];
    qsort(all, k, sizeof *all, cmp);
    printf("R distinct %zu\n", k);
    for (size_t i = 0; i < k && (int)i < top; i++)
        printf("R %llu %.*s\n", (unsigned long long)all[i].count,
               (int)all[i].len, arena + all[i].off);
    return 0;
}
