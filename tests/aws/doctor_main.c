/* frugal-doctor: `frugal doctor` as a program of its own, for the tests
 * (the CLI links the same src/cli/doctor.c). */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return fr_cli_doctor(argc, argv, "frugal doctor");
}
