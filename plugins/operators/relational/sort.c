/* sort.c -- placeholder until written */
#include "rel.h"
