/*
 * conf_doc_main.c -- `core/conf-doc`, the build tool behind `make
 * conf-doc`: prints the reference table generated from the key table, or
 * checks or rewrites the generated section of docs/configuration.md.
 *
 *     core/conf-doc                    print the table (markdown)
 *     core/conf-doc --check DOC        exit 1 if DOC's section differs
 *     core/conf-doc --update DOC       rewrite DOC's section
 *
 * Not installed: the document is the product (conf_doc.h).
 */
#include "conf_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    ember_error err = {0, ""};
    if (argc == 1) {
        char *t = conf_doc_table();
        if (!t) {
            fprintf(stderr, "conf-doc: out of memory\n");
            return 1;
        }
        fputs(t, stdout);
        free(t);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--check") == 0) {
        if (conf_doc_check(argv[2], &err) != 0) {
            fprintf(stderr, "conf-doc: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--update") == 0) {
        if (conf_doc_update(argv[2], &err) != 0) {
            fprintf(stderr, "conf-doc: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "usage: conf-doc [--check DOC | --update DOC]\n");
    return 2;
}
