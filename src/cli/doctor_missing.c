/* Built only while src/cli/doctor.c does not exist yet. */
#include <stdio.h>

#include "cli.h"

int fr_cli_doctor(int argc, char **argv, const char *prog)
{
    fprintf(stderr, "%s: not available in this build\n", prog);
    return 1;
}
