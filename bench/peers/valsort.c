/* valsort.c -- validate the output of W4 (like TeraSort's valsort).
 *
 *   valsort FILE...
 *
 * Reads the files in the order given as one stream of '\n'-terminated lines
 * and prints the normalized answer:
 *   R records N
 *   R checksum HEX     sum of FNV-1a-64 of every line (order-independent)
 *   R order ok | R order UNSORTED at record K
 * Equal record count and checksum to the input, plus "order ok", means the
 * output is the input sorted (ties cannot differ: lines compare whole).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    uint64_t n = 0, sum = 0, bad = 0;
    char prev[4096], cur[4096];
    size_t plen = 0;
    int have = 0;
    static char buf[1 << 22];
    for (int a = 1; a < argc; a++) {
        FILE *f = fopen(argv[a], "rb");
        if (!f) {
            perror(argv[a]);
            return 1;
        }
        setvbuf(f, buf, _IOFBF, sizeof buf);
        while (fgets(cur, sizeof cur, f)) {
            size_t len = strlen(cur);
            if (len && cur[len - 1] == '\n')
                cur[--len] = 0;
            uint64_t h = 1469598103934665603ULL;
            for (size_t i = 0; i < len; i++)
                h = (h ^ (uint8_t)cur[i]) * 1099511628211ULL;
            sum += h;
            n++;
            if (have && !bad) {
                size_t m = len < plen ? len : plen;
                int c = memcmp(prev, cur, m);
                if (c > 0 || (c == 0 && plen > len))
                    bad = n;
            }
            memcpy(prev, cur, len);
            plen = len;
            have = 1;
        }
        fclose(f);
    }
    printf("R records %llu\nR checksum %016llx\n", (unsigned long long)n,
           (unsigned long long)sum);
    if (bad)
        printf("R order UNSORTED at record %llu\n", (unsigned long long)bad);
    else
        printf("R order ok\n");
    return 0;
}
