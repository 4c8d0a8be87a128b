/* scan_csv.c -- placeholder until written */
#include "rel.h"
