/* frugal-sim: the simulated AWS account (filled in by the sim work). */
#include <stdio.h>

#include "fr_config.h"

int main(void)
{
    printf("frugal-sim %s\n", FR_VERSION);
    return 0;
}
