#!/bin/sh
# embed.sh NAME FILE -- print a C file defining `const char NAME[]` (the
# bytes of FILE, NUL-terminated) and `const size_t NAME_len`.
name=$1
file=$2
echo "/* generated from $file by embed.sh; do not edit */"
echo "#include <stddef.h>"
echo "const char ${name}[] = {"
od -An -v -tx1 "$file" | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
echo "0};"
echo "const size_t ${name}_len = sizeof ${name} - 1;"
