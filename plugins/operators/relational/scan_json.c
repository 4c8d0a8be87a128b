/* scan_json.c -- placeholder until written */
#include "rel.h"
