#!/bin/sh
# gen_corpus.sh FILE [LINES] -- write a deterministic sample text corpus:
# words drawn from a Zipf-like distribution over a 5000-word vocabulary.
out=${1:?usage: gen_corpus.sh FILE [LINES]}
lines=${2:-20000}
awk -v lines="$lines" 'BEGIN {
    srand(42);
    n = 5000;
    split("a e i o u y ae ou ea io", vow, " ");
    split("b c d f g h k l m n p r s t v w z th st ch", con, " ");
    for (i = 1; i <= n; i++) {
        w = ""; k = i;
        do { w = w con[k % 20 + 1] vow[int(k / 20) % 10 + 1]; k = int(k / 200); } while (k > 0);
        word[i] = w;
        h += 1 / i; cum[i] = h;
    }
    for (l = 0; l < lines; l++) {
        s = "";
        while (length(s) < 72) {
            r = rand() * h; lo = 1; hi = n;
            while (lo < hi) { m = int((lo + hi) / 2); if (cum[m] < r) lo = m + 1; else hi = m; }
            w = word[lo];
            if (rand() < 0.1) w = toupper(substr(w, 1, 1)) substr(w, 2);
            s = s (s == "" ? "" : (rand() < 0.08 ? ", " : " ")) w;
        }
        print s ".";
    }
}' > "$out"
