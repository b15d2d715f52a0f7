#include "modules.h"

const fr_module *const fr_modules[] = {
    NULL,
};
