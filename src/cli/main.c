/* frugal: the command-line client (filled in by the CLI work). */
#include <stdio.h>

#include "fr_config.h"

int main(int argc, char **argv)
{
    if (argc > 1)
        printf("frugal %s\n", FR_VERSION);
    return 0;
}
